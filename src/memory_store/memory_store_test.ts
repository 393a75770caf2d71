import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { OCI_LAYER_TAR, OCI_MANIFEST } from "../media_types.ts";
import { blob, makeImage, makeIndex, pushImage, pushIndex } from "../../tests/support/images.ts";
import { bytesSource } from "../store.ts";
import { readAll } from "../streams.ts";
import { MemoryStore } from "./mod.ts";

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof FerryError, `expected FerryError, got ${err}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

Deno.test("memory store: push, resolve, fetch and tag an image", async () => {
  const store = new MemoryStore();
  const repo = store.repository("library/app");
  const image = makeImage();
  await pushImage(repo, image, "1.0");

  const desc = await repo.resolve("1.0");
  assert.deepEqual(desc, image.manifest.desc);
  assert.deepEqual(await repo.resolve(image.manifest.desc.digest), image.manifest.desc);
  const bytes = await readAll(await repo.fetch(desc), 1 << 20, "test");
  assert.deepEqual(bytes, image.manifest.bytes);
  const layer = image.layers[0];
  const tail = await readAll(await repo.fetch(layer.desc, { offset: 100 }), 1 << 20, "test");
  assert.deepEqual(tail, layer.bytes.subarray(100));
  assert.deepEqual(await repo.tags(), ["1.0"]);
  assert.deepEqual(await store.repositories(), ["library/app"]);
  assert.equal(repo.blobSize(layer.desc.digest), layer.bytes.byteLength);
  assert.deepEqual(repo.manifests(), [image.manifest.desc.digest]);
  assert.equal(await repo.exists(image.manifest.desc), true);
  // A manifest is not linked as a layer, and a layer not as a manifest.
  assert.equal(await repo.exists({ ...layer.desc, mediaType: OCI_MANIFEST }), false);
});

Deno.test("memory store: a repository sees only what it links; blobs are shared", async () => {
  const store = new MemoryStore();
  const a = store.repository("a");
  const b = store.repository("b");
  const index = makeIndex();
  await pushIndex(a, index, "v1");
  const layer = index.images[0].layers[0];
  assert.equal(await b.exists(layer.desc), false);
  await rejectsWith(b.fetch(layer.desc), "not_found");
  await rejectsWith(b.resolve("v1"), "not_found");
  // Already held: linked without reading the source.
  await b.push(layer.desc, () => Promise.reject(new Error("must not be called")));
  assert.equal(await b.exists(layer.desc), true);
  const before = store.byteSize;
  assert.equal(b.deleteBlob(layer.desc.digest), true);
  assert.equal(store.byteSize, before, "still linked by a");
});

Deno.test("memory store: push verifies digest and size", async () => {
  const store = new MemoryStore();
  const repo = store.repository("x");
  const good = blob(OCI_LAYER_TAR, new Uint8Array([1, 2, 3]));
  await rejectsWith(
    repo.push(good.desc, bytesSource(new Uint8Array([1, 2, 4]))),
    "digest_mismatch",
  );
  await rejectsWith(repo.push(good.desc, bytesSource(new Uint8Array([1, 2]))), "size_mismatch");
  await rejectsWith(
    repo.push(good.desc, bytesSource(new Uint8Array([1, 2, 3, 4]))),
    "size_mismatch",
  );
  assert.equal(store.hasBlob(good.desc.digest), false);
  await repo.push(good.desc, bytesSource(good.bytes));
  assert.equal(store.hasBlob(good.desc.digest), true);
});

Deno.test("memory store: names, tags and deletes", async () => {
  const store = new MemoryStore();
  assert.throws(() => store.repository("../x"), FerryError);
  assert.throws(() => store.repository("Upper"), FerryError);
  const repo = store.repository("x");
  const image = makeImage();
  await pushImage(repo, image, "t");
  await rejectsWith(repo.tag(image.manifest.desc, "bad tag"), "invalid_reference");
  await rejectsWith(
    repo.tag({ ...image.manifest.desc, digest: await sha256("other") }, "t2"),
    "not_found",
  );
  assert.equal(repo.deleteManifest(image.manifest.desc.digest), true);
  assert.deepEqual(await repo.tags(), [], "tags of a deleted manifest go with it");
  assert.equal(store.hasBlob(image.manifest.desc.digest), false, "unlinked manifest is freed");
  assert.equal(repo.deleteManifest(image.manifest.desc.digest), false);
  assert.deepEqual(await store.repositories(), []);
});
