/**
 * Past the tar layer: archives whose `index.json`, `manifest.json`, `oci-layout`,
 * `ferry-delta.json` or manifests are mutated JSON, in a well-formed tar (a mutated manifest is
 * stored under its new digest, and the top-level file that names it follows, so the mutation
 * reaches the code that reads it rather than stopping at the digest check). Copying and loading
 * them fails only as a `FerryError`, in bounded time, writing nothing outside the destination.
 *
 * @module
 */
import { fuzz } from "../support/fuzz.ts";
import {
  archiveJsonMutator,
  copyArchive,
  loadArchiveBytes,
  sampleArchive,
  type TarMemberBytes,
  tarMembers,
} from "../support/fuzz_archive.ts";
import { tempDir } from "../support/tmp.ts";

/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? 1) || 1;

const dir = await tempDir("ferry-fuzz-json-");
const corpus = [
  await sampleArchive(dir.path, "oci-archive"),
  await sampleArchive(dir.path, "docker-archive"),
];
await dir.remove();
// fuzz() hands the mutator the corpus arrays themselves: their members are found by identity.
const byHead = new Map<Uint8Array, TarMemberBytes[]>();
for (const tar of corpus) byHead.set(tar, await tarMembers(tar));

Deno.test("fuzz: archives with mutated JSON members: copy fails only as FerryError", async () => {
  await fuzz({
    name: "copy archive (JSON members)",
    corpus,
    mutate: archiveJsonMutator(byHead),
    runs: 50 * SCALE,
    seed: 10_000,
    target: copyArchive,
  });
});

Deno.test("fuzz: ferry load of archives with mutated JSON members fails only as FerryError", async () => {
  await fuzz({
    name: "loadArchive (JSON members)",
    corpus,
    mutate: archiveJsonMutator(byHead),
    runs: 40 * SCALE,
    seed: 20_000,
    target: loadArchiveBytes,
  });
});
