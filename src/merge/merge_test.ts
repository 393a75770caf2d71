import assert from "node:assert/strict";
import { join } from "node:path";
import {
  build,
  configBlob,
  type ImageConfig,
  manifestBlob,
  storeJson,
  storeLayer,
} from "../builder/mod.ts";
import { imageTree, readStored, textDigest, writeTree } from "../builder/test_util.ts";
import { ImageStore } from "../image_store/mod.ts";
import { type LayerEntry, writeLayer } from "../layer/mod.ts";
import { OCI_LAYER_GZIP } from "../media_types.ts";
import { hostPlatform } from "../platform.ts";
import { mergeImages } from "./mod.ts";

const EPOCH = 1_700_000_000;

async function withStore(fn: (store: ImageStore, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ferry-merge-" });
  const store = await ImageStore.open({ root: join(dir, "root") });
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Builds `files` (a Kubefile included) as image `tag`. */
async function buildImage(
  store: ImageStore,
  dir: string,
  tag: string,
  files: Record<string, string>,
) {
  const ctx = join(dir, tag.replace(/[^a-z0-9]/g, "-"));
  await writeTree(ctx, files);
  await build({ context: ctx, store, tags: [tag], saveImages: false, timestamp: EPOCH });
  return await readStored(store, tag);
}

/** Stores an image whose second layer deletes `etc/shared` (a whiteout). */
async function storeWhiteoutImage(store: ImageStore, tag: string) {
  const file = (path: string, text: string): LayerEntry => ({
    kind: "file",
    path,
    mode: 0o644,
    size: text.length,
    mtime: 1,
    open: () => new Blob([text]).stream(),
  });
  const l0 = await storeLayer(
    store,
    writeLayer([
      { kind: "dir", path: "etc", mode: 0o755 },
      file("etc/shared", "from wh"),
      file("etc/wh-only", "wh"),
    ], { compression: "gzip" }),
  );
  const l1 = await storeLayer(
    store,
    writeLayer([file("etc/.wh.shared", "")], { compression: "gzip" }),
  );
  const p = hostPlatform();
  const config: ImageConfig = {
    architecture: p.architecture,
    os: p.os,
    config: { Labels: { from: "wh" }, Cmd: ["wh"] },
    rootfs: { type: "layers", diff_ids: [l0.diffId, l1.diffId] },
    history: [{ created_by: "l0" }, { created_by: "l1" }],
  };
  const cfg = await configBlob(config);
  await storeJson(store, cfg);
  const m = await manifestBlob(
    cfg.descriptor,
    [l0, l1].map((l) => ({
      mediaType: OCI_LAYER_GZIP,
      digest: l.digest,
      size: l.size,
    })),
  );
  await storeJson(store, m);
  await store.setName(m.descriptor, `localhost/${tag}`);
}

Deno.test("merge: layers reused in order, file systems overlaid, config merged", async () => {
  await withStore(async (store, dir) => {
    const a = await buildImage(store, dir, "a:1", {
      Kubefile: [
        "FROM scratch",
        "LABEL sealos.io.type=rootfs shared=a",
        "ENV A=1 SHARED=a",
        'CMD ["a.sh"]',
        "COPY registry registry",
        "COPY etc etc",
      ].join("\n"),
      "registry/docker/registry/v2/blobs/a": "blob a",
      "etc/shared": "from a",
    });
    const b = await buildImage(store, dir, "b:1", {
      Kubefile: [
        "FROM scratch",
        "LABEL shared=b",
        "ENV SHARED=b PATH=/bin",
        'ENTRYPOINT ["b"]',
        'CMD ["b.sh"]',
        "COPY . .",
      ].join("\n"),
      "registry/docker/registry/v2/blobs/b": "blob b",
      "etc/shared": "from b",
    });
    const merged = await mergeImages({
      store,
      images: ["a:1", "b:1"],
      tags: ["ab"],
      timestamp: EPOCH,
    });
    assert.deepEqual(merged.names, ["localhost/ab:latest"]);
    assert.deepEqual(
      merged.layers.map((l) => l.descriptor.digest),
      [...a.manifest.layers, ...b.manifest.layers].map((l) => l.digest),
    );
    assert.ok(merged.layers.every((l) => l.reused), "no layer re-tarred");
    const { manifest, config } = await readStored(store, "ab");
    const tree = await imageTree(store, manifest);
    assert.equal(tree["etc/shared"].digest, textDigest("from b"));
    assert.equal(tree["registry/docker/registry/v2/blobs/a"].digest, textDigest("blob a"));
    assert.equal(tree["registry/docker/registry/v2/blobs/b"].digest, textDigest("blob b"));
    const c = config.config as Record<string, unknown>;
    assert.deepEqual(c.Labels, {
      "apps.sealos.io/type": "rootfs",
      "sealos.io.type": "rootfs",
      shared: "b",
    });
    assert.deepEqual(c.Env, ["A=1", "SHARED=b"]);
    assert.deepEqual(c.Cmd, ["a.sh", "b.sh"]);
    assert.deepEqual(c.Entrypoint, ["b"]);
    const history = config.history as { empty_layer?: boolean }[];
    assert.equal(history.filter((h) => !h.empty_layer).length, manifest.layers.length);
    assert.equal(config.created, "2023-11-14T22:13:20Z");
  });
});

Deno.test("merge: an image built FROM the previous one adds only its own layers", async () => {
  await withStore(async (store, dir) => {
    const base = await buildImage(store, dir, "base:1", {
      Kubefile: "FROM scratch\nCOPY base /base\n",
      "base/f": "base",
    });
    const app = await buildImage(store, dir, "app:1", {
      Kubefile: "FROM localhost/base:1\nCOPY app /app\n",
      "app/f": "app",
    });
    assert.equal(app.manifest.layers[0].digest, base.manifest.layers[0].digest);
    const merged = await mergeImages({ store, images: ["base:1", "app:1"], tags: ["m"] });
    assert.deepEqual(
      merged.layers.map((l) => l.descriptor.digest),
      app.manifest.layers.map((l) => l.digest),
    );
    // The same image twice is itself.
    const twice = await mergeImages({ store, images: ["app:1", "app:1"], tags: ["m2"] });
    assert.equal(twice.layers.length, 2);
  });
});

Deno.test("merge: a later input with whiteouts is flattened, so it cannot delete earlier files", async () => {
  await withStore(async (store, dir) => {
    await buildImage(store, dir, "a:1", {
      Kubefile: "FROM scratch\nCOPY etc etc\n",
      "etc/shared": "from a",
      "etc/a-only": "a",
    });
    await storeWhiteoutImage(store, "wh:1");
    const merged = await mergeImages({ store, images: ["a:1", "wh:1"], tags: ["m"] });
    assert.deepEqual(merged.layers.map((l) => l.reused), [true, false]);
    const tree = await imageTree(store, (await readStored(store, "m")).manifest);
    // Sealos copies wh's file system (without etc/shared) over a's: a's etc/shared stays.
    assert.equal(tree["etc/shared"].digest, textDigest("from a"));
    assert.equal(tree["etc/wh-only"].digest, textDigest("wh"));
    assert.equal(tree["etc/a-only"].digest, textDigest("a"));

    // First, its whiteouts act on its own layers only: reused as they are.
    const first = await mergeImages({ store, images: ["wh:1", "a:1"], tags: ["m2"] });
    assert.deepEqual(first.layers.map((l) => l.reused), [true, true, true]);
    const tree2 = await imageTree(store, (await readStored(store, "m2")).manifest);
    assert.equal(tree2["etc/shared"].digest, textDigest("from a"));

    // The flattened layer is cached: a second merge writes nothing.
    const again = await mergeImages({ store, images: ["a:1", "wh:1"], tags: ["m3"] });
    assert.equal(again.descriptor.digest === merged.descriptor.digest, false); // created differs
    assert.equal(again.layers[1].descriptor.digest, merged.layers[1].descriptor.digest);
  });
});

Deno.test("merge: bad input", async () => {
  await withStore(async (store) => {
    await assert.rejects(mergeImages({ store, images: ["a"], tags: ["x"] }), /at least two images/);
    await assert.rejects(mergeImages({ store, images: ["a", "b"], tags: [] }), /needs a name/);
    await assert.rejects(
      mergeImages({ store, images: ["localhost/nope:1", "b"], tags: ["x"] }),
      /image localhost\/nope:1 .* is not in the image store/,
    );
    await assert.rejects(
      mergeImages({ store, images: ["Bad Ref", "b"], tags: ["x"] }),
      /invalid reference "Bad Ref"/,
    );
  });
});
