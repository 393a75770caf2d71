/**
 * Manifests and indexes come from registries, archives and registry directories: whatever bytes
 * they hold, parsing them and walking what they name fails only as a `FerryError`.
 *
 * @module
 */
import { parseManifest, referrerOf } from "../../src/manifest.ts";
import { makeImage, makeIndex } from "../support/mod.ts";
import { fuzz, jsonMutator } from "../support/fuzz.ts";
import { makeArtifact, makeSignature } from "../support/referrers.ts";

const image = makeImage({ layerSizes: [10, 20] });
const corpus = [
  image.manifest.bytes,
  makeSignature(image.manifest.desc).manifest.bytes,
  makeArtifact(image.manifest.desc).manifest.bytes,
  makeIndex().index.bytes,
];

Deno.test("fuzz: parseManifest and referrerOf fail only as FerryError", async () => {
  await fuzz({
    name: "parseManifest",
    corpus,
    mutate: jsonMutator(),
    runs: 1500,
    target: (bytes) => {
      const m = parseManifest(bytes, undefined, "fuzz");
      referrerOf({ digest: `sha256:${"0".repeat(64)}`, mediaType: m.mediaType, bytes });
    },
  });
});
