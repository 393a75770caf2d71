/**
 * Compressed archives off a USB stick: whatever a `.tar.gz` holds (a damaged gzip stream, a tar
 * with mutated headers inside a valid one, a stream that inflates far beyond its size), opening it
 * fails only as a `FerryError`, in bounded time, with the decompressed size bounded and no
 * temporary file left behind.
 *
 * @module
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { TarFile } from "../../src/archive/tar_file.ts";
import { encodeHeader } from "../../src/tar/mod.ts";
import { byteMutator, fuzz } from "../support/fuzz.ts";
import {
  concat,
  confinedTo,
  copyArchive,
  sampleArchive,
  tarMutator,
} from "../support/fuzz_archive.ts";
import { tempDir } from "../support/tmp.ts";

/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? 1) || 1;

const dir = await tempDir("ferry-fuzz-gzip-");
const oci = await sampleArchive(dir.path, "oci-archive");
const docker = await sampleArchive(dir.path, "docker-archive");
await dir.remove();

/** Most bytes an input may inflate to here: small, so a bomb is refused quickly. */
const MAX_INFLATED = 1024 * 1024;

/**
 * Opens `bytes` as a compressed archive in `work` (its temporary copy there too) and checks that
 * no decompressed copy outlives it.
 */
async function openCompressed(bytes: Uint8Array): Promise<void> {
  await using work = await tempDir("ferry-fuzz-gzip-");
  await Deno.mkdir(work.join("tmp"));
  await Deno.writeFile(work.join("in.tar.gz"), bytes);
  await confinedTo(work.path, ["in.tar.gz", "tmp"], async () => {
    const tar = await TarFile.open(work.join("in.tar.gz"), {
      maxInflatedSize: MAX_INFLATED,
      tempDir: work.join("tmp"),
    });
    try {
      for (const m of tar.members()) if (m.type === "file") await tar.read(m, MAX_INFLATED);
    } finally {
      await tar.close();
    }
  });
  // The decompressed copy is unlinked at once: nothing is left in its directory.
  const left = [...Deno.readDirSync(work.join("tmp"))].map((e) => e.name);
  if (left.length > 0) throw new Error(`left behind: ${left.join(", ")}`);
}

Deno.test("fuzz: mutated gzip streams fail only as FerryError, inflating boundedly", async () => {
  // A tar of one member announcing 2 MiB of zeros: inflates past the bound, a thousand times its size.
  const bomb = gzipSync(concat([
    encodeHeader({ name: "zeros", size: 2 * 1024 * 1024 }),
    new Uint8Array(2 * 1024 * 1024 + 1024),
  ]));
  await fuzz({
    name: "TarFile.open (gzip)",
    corpus: [
      gzipSync(oci),
      gzipSync(docker),
      concat([gzipSync(oci.subarray(0, 4096)), gzipSync(oci.subarray(4096))]), // two members
      concat([gzipSync(docker), new TextEncoder().encode("trailing garbage")]),
      bomb,
    ],
    mutate: byteMutator({ dictionary: ["\x1f\x8b\x08", "\x1f\x8b\x08\x1c", "\0\0\xff\xff"] }),
    runs: 300 * SCALE,
    target: openCompressed,
  });
});

Deno.test("fuzz: gzip of mutated tars: copy fails only as FerryError", async () => {
  const tar = tarMutator();
  await fuzz({
    name: "copy archive (gzip of mutated tar)",
    corpus: [gzipSync(oci), gzipSync(docker)],
    // The tar inside is mutated, the gzip around it stays valid: the streaming indexer's input.
    mutate: (input, rng) => gzipSync(tar(gunzipSync(input), rng), { level: 1 }),
    runs: 100 * SCALE,
    seed: 30_000,
    target: copyArchive,
  });
});
