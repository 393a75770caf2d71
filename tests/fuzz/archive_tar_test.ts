/**
 * Archives off a USB stick are hostile: whatever bytes an oci-archive or docker-archive holds,
 * reading it as `ferry load` and `ferry copy oci-archive:…` do fails only as a `FerryError`, in
 * bounded time, and writes nothing outside the destination.
 *
 * @module
 */
import { TarReader } from "../../src/tar/mod.ts";
import { fuzz } from "../support/fuzz.ts";
import {
  copyArchive,
  drainBounded,
  loadArchiveBytes,
  sampleArchive,
  tarMutator,
} from "../support/fuzz_archive.ts";
import { tempDir } from "../support/tmp.ts";

/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? 1) || 1;

const dir = await tempDir("ferry-fuzz-archive-");
const oci = await sampleArchive(dir.path, "oci-archive");
const docker = await sampleArchive(dir.path, "docker-archive");
await dir.remove();

Deno.test("fuzz: TarReader streams mutated archives or fails as FerryError", async () => {
  await fuzz({
    name: "TarReader",
    corpus: [oci, docker],
    mutate: tarMutator(),
    runs: 1500 * SCALE,
    target: async (bytes) => {
      const tar = new TarReader(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream());
      for (let h = await tar.next(); h !== null; h = await tar.next()) {
        if (h.size < 1 << 20) await drainBounded(tar.body(h.name));
      }
    },
  });
});

Deno.test("fuzz: oci-archive and docker-archive headers mutated: copy fails only as FerryError", async () => {
  await fuzz({
    name: "copy archive (tar headers)",
    corpus: [oci, docker],
    mutate: tarMutator(),
    runs: 200 * SCALE,
    target: copyArchive,
  });
});

Deno.test("fuzz: ferry load of a mutated archive fails only as FerryError", async () => {
  await fuzz({
    name: "loadArchive",
    corpus: [oci, docker],
    mutate: tarMutator(),
    runs: 60 * SCALE,
    seed: 5000,
    target: loadArchiveBytes,
  });
});
