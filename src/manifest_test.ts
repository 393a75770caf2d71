import assert from "node:assert/strict";
import { isFerryError } from "./errors.ts";
import { parseManifest } from "./manifest.ts";
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from "./media_types.ts";

const D = "sha256:" + "a".repeat(64);
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const blob = (mediaType: string) => ({ mediaType, digest: D, size: 3 });

Deno.test("parseManifest takes the media type from the document, the header, or the shape", () => {
  const image = { schemaVersion: 2, config: blob("c"), layers: [blob("l")] };
  assert.equal(
    parseManifest(enc({ ...image, mediaType: DOCKER_MANIFEST }), undefined, "x").mediaType,
    DOCKER_MANIFEST,
  );
  assert.equal(parseManifest(enc(image), OCI_MANIFEST, "x").mediaType, OCI_MANIFEST);
  assert.equal(parseManifest(enc(image), "application/json", "x").mediaType, OCI_MANIFEST);
  const index = {
    schemaVersion: 2,
    manifests: [{ ...blob(OCI_MANIFEST), platform: { os: "linux", architecture: "amd64" } }],
  };
  const parsed = parseManifest(enc(index), undefined, "x");
  assert.equal(parsed.kind, "index");
  assert.equal(parsed.mediaType, OCI_INDEX);
  assert.equal(parseManifest(enc(index), DOCKER_LIST, "x").mediaType, DOCKER_LIST);
});

Deno.test("parseManifest rejects schema 1, bad JSON and bad descriptors with the location", () => {
  assert.throws(
    () => parseManifest(enc({ schemaVersion: 1, fsLayers: [] }), undefined, "quay.io/a:1"),
    (e) => isFerryError(e, "unsupported") && /quay.io\/a:1: Docker schema 1/.test(e.message),
  );
  assert.throws(
    () => parseManifest(new TextEncoder().encode("{"), undefined, "x"),
    /not valid JSON/,
  );
  assert.throws(
    () =>
      parseManifest(
        enc({ config: { mediaType: "c", digest: "sha256:zz", size: 1 }, layers: [] }),
        OCI_MANIFEST,
        "x",
      ),
    (e) => isFerryError(e, "invalid_input"),
  );
  assert.throws(
    () => parseManifest(enc({ config: { ...blob("c"), size: -1 }, layers: [] }), OCI_MANIFEST, "x"),
    /invalid size/,
  );
});
