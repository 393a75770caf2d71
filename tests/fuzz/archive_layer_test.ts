/**
 * Layer tarballs come out of archives and registries: whatever bytes a layer holds (a damaged
 * gzip stream, mutated tar headers), reading its entries and their contents, as `ferry merge`,
 * `ferry build` and the image store's scans do, fails only as a `FerryError`.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { readLayer } from "../../src/layer/read.ts";
import { tarOf } from "../support/images.ts";
import { byteMutator, fuzz } from "../support/fuzz.ts";
import { drainBounded, tarMutator } from "../support/fuzz_archive.ts";

/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? 1) || 1;

const files = {
  "etc/hostname": "ferry\n",
  "usr/share/doc/ferry/README": "x".repeat(3000),
  "var/.wh.cache": "",
  "opt/app/.wh..wh..opq": "",
};
const tar = tarOf(files);

async function readAll(bytes: Uint8Array): Promise<void> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
  for await (const entry of readLayer(stream, { where: "layer" })) {
    if (entry.kind === "file") await drainBounded(entry.body);
  }
}

Deno.test("fuzz: gzip layers mutated byte-wise are read or refused as FerryError", async () => {
  await fuzz({
    name: "readLayer (gzip)",
    corpus: [gzipSync(tar), gzipSync(tar, { level: 0 })],
    mutate: byteMutator(),
    runs: 600 * SCALE,
    target: readAll,
  });
});

Deno.test("fuzz: layers with mutated tar headers are read or refused as FerryError", async () => {
  await fuzz({
    name: "readLayer (tar headers)",
    corpus: [tar],
    mutate: tarMutator(),
    runs: 800 * SCALE,
    seed: 50_000,
    target: readAll,
  });
});
