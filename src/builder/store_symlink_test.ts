/**
 * What builds write into the image store (layers, the layer cache) never goes through a symlink
 * planted in the store.
 */
import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import { ImageStore } from "../image_store/mod.ts";
import { writeLayer } from "../layer/mod.ts";
import { OCI_LAYER_GZIP } from "../media_types.ts";
import { makeVictim, snapshotTree } from "../symlink_test_util.ts";
import { LayerCache } from "./layer_cache.ts";
import { storeLayer } from "./store_blobs.ts";

const foreign = (err: unknown) =>
  isFerryError(err, "invalid_input") && /symbolic link/.test(err.message);

const entries = () => [{
  kind: "file" as const,
  path: "etc/hello",
  mode: 0o644,
  size: 5,
  mtime: 10,
  open: () => new Blob(["hello"]).stream(),
}];

async function withStore(
  fn: (ctx: { root: string; victim: string }) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-build-symlink-" });
  try {
    await makeVictim(`${tmp}/victim`);
    await (await ImageStore.open({ root: `${tmp}/store` })).close();
    await fn({ root: `${tmp}/store`, victim: `${tmp}/victim` });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("build: a layer is not staged or published through a symlink in the image store", async () => {
  await withStore(async ({ root, victim }) => {
    const before = await snapshotTree(victim);
    await Deno.remove(`${root}/.ferry/tmp`, { recursive: true });
    await Deno.symlink(victim, `${root}/.ferry/tmp`);
    let store = await ImageStore.open({ root });
    await assert.rejects(
      storeLayer(store, writeLayer(entries(), { compression: "gzip" })),
      foreign,
    );
    await store.close();
    assert.deepEqual(await snapshotTree(victim), before);

    await Deno.remove(`${root}/.ferry/tmp`);
    await Deno.remove(`${root}/blobs/sha256`, { recursive: true });
    await Deno.symlink(victim, `${root}/blobs/sha256`);
    store = await ImageStore.open({ root });
    await assert.rejects(
      storeLayer(store, writeLayer(entries(), { compression: "gzip" })),
      foreign,
    );
    await store.close();
    assert.deepEqual(await snapshotTree(victim), before);
  });
});

Deno.test("build: the layer cache is not read or written through a symlink in the image store", async () => {
  await withStore(async ({ root, victim }) => {
    const layer = {
      mediaType: OCI_LAYER_GZIP,
      digest: await sha256("blob"),
      size: 4,
      diffId: await sha256("tar"),
    };
    await Deno.writeTextFile(
      `${victim}/cache.json`,
      JSON.stringify({ version: 1, layers: { k: { ...layer, used: 1 } }, facts: {} }),
    );
    await Deno.symlink(`${victim}/cache.json`, `${root}/.ferry/layer-cache.json`);
    const before = await snapshotTree(victim);
    const cache = new LayerCache(root);
    assert.equal(await cache.get("k"), undefined);

    await Deno.remove(`${root}/.ferry`, { recursive: true });
    await Deno.symlink(victim, `${root}/.ferry`);
    const writer = new LayerCache(root);
    writer.put("k2", layer);
    await assert.rejects(writer.flush(), foreign);
    assert.deepEqual(await snapshotTree(victim), before);
  });
});
