/**
 * `ferry registry verify` of an archive and `ferry save --base` listing one read the same hostile
 * files as `load` does: with tar headers or JSON members mutated, they report or fail only as a
 * `FerryError`, in bounded time.
 *
 * @module
 */
import { verifyLocation } from "../../src/transfer/verify.ts";
import { listBlobs } from "../../src/transfer/blob_inventory.ts";
import { fuzz, type Mutator } from "../support/fuzz.ts";
import {
  archiveJsonMutator,
  sampleArchive,
  type TarMemberBytes,
  tarMembers,
  tarMutator,
} from "../support/fuzz_archive.ts";
import { tempDir } from "../support/tmp.ts";

/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? 1) || 1;

const dir = await tempDir("ferry-fuzz-verify-");
const oci = await sampleArchive(dir.path, "oci-archive");
const docker = await sampleArchive(dir.path, "docker-archive");
await dir.remove();
const members = new Map<Uint8Array, TarMemberBytes[]>([
  [oci, await tarMembers(oci)],
  [docker, await tarMembers(docker)],
]);
const format = new Map([[oci, "oci-archive"], [docker, "docker-archive"]]);

/** Inputs carry their format in their first byte, so the target knows how to name them. */
function tagged(mutate: Mutator): Mutator {
  return (input, rng) => {
    const out = mutate(input, rng);
    const tagged = new Uint8Array(out.byteLength + 1);
    tagged[0] = format.get(input) === "oci-archive" ? 0 : 1;
    tagged.set(out, 1);
    return tagged;
  };
}

async function verifyArchive(bytes: Uint8Array): Promise<void> {
  // The corpus itself comes untagged.
  const transport = format.get(bytes) ?? (bytes[0] === 0 ? "oci-archive" : "docker-archive");
  const data = format.has(bytes) ? bytes : bytes.subarray(1);
  await using work = await tempDir("ferry-fuzz-verify-");
  const path = work.join("in.tar");
  await Deno.writeFile(path, data);
  await verifyLocation(`${transport}:${path}`);
  await listBlobs(`${transport}:${path}`);
}

Deno.test("fuzz: registry verify and save --base listing of archives with mutated headers", async () => {
  await fuzz({
    name: "verify archive (tar headers)",
    corpus: [oci, docker],
    mutate: tagged(tarMutator()),
    runs: 250 * SCALE,
    seed: 60_000,
    target: verifyArchive,
  });
});

Deno.test("fuzz: registry verify and save --base listing of archives with mutated JSON", async () => {
  await fuzz({
    name: "verify archive (JSON members)",
    corpus: [oci, docker],
    mutate: tagged(archiveJsonMutator(members)),
    runs: 150 * SCALE,
    seed: 70_000,
    target: verifyArchive,
  });
});
