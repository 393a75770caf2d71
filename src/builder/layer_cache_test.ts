import { digestOf } from "../../tests/support/digest.ts";
import assert from "node:assert/strict";
import { OCI_LAYER_GZIP } from "../media_types.ts";
import { LayerCache } from "./layer_cache.ts";

const layer = (seed: string) => ({
  mediaType: OCI_LAYER_GZIP,
  digest: digestOf(`blob ${seed}`),
  size: seed.length,
  diffId: digestOf(`tar ${seed}`),
});

Deno.test("layer cache: entries survive a flush and are seen by another instance", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-cache-" });
  try {
    const a = new LayerCache(root);
    assert.equal(await a.get("k1"), undefined);
    a.put("k1", layer("one"));
    a.setWhiteouts(layer("one").digest, false);
    assert.deepEqual(await a.get("k1"), layer("one"), "pending entries are visible at once");
    await a.flush();
    const b = new LayerCache(root);
    assert.deepEqual(await b.get("k1"), layer("one"));
    assert.equal(await b.whiteouts(layer("one").digest), false);
    assert.equal(await b.whiteouts(layer("two").digest), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("layer cache: concurrent writers keep each other's entries", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-cache-" });
  try {
    const writers = Array.from({ length: 8 }, (_, i) => {
      const c = new LayerCache(root);
      c.put(`k${i}`, layer(`n${i}`));
      return c;
    });
    await Promise.all(writers.map((c) => c.flush()));
    const reader = new LayerCache(root);
    for (let i = 0; i < 8; i++) assert.deepEqual(await reader.get(`k${i}`), layer(`n${i}`));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("layer cache: a damaged file counts as empty and is replaced", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-cache-" });
  try {
    await Deno.mkdir(`${root}/.ferry`);
    await Deno.writeTextFile(`${root}/.ferry/layer-cache.json`, "{not json");
    const c = new LayerCache(root);
    assert.equal(await c.get("k"), undefined);
    c.put("k", layer("x"));
    await c.flush();
    const doc = JSON.parse(await Deno.readTextFile(`${root}/.ferry/layer-cache.json`));
    assert.equal(doc.version, 1);
    assert.equal(doc.layers.k.digest, layer("x").digest);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
