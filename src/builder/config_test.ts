import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from "../media_types.ts";
import {
  configBlob,
  configFromBase,
  consistentHistory,
  emptyConfig,
  indexBlob,
  manifestBlob,
  ociLayerType,
  rfc3339,
  serializeConfig,
} from "./config.ts";

const AMD64 = { os: "linux", architecture: "amd64" };

Deno.test("configs serialise canonically: key order and sorted maps do not depend on input order", async () => {
  const a = emptyConfig(AMD64);
  a.config = { Labels: { b: "2", a: "1" }, Env: ["X=1"], Cmd: ["run"] };
  const b = emptyConfig(AMD64);
  b.config = { Cmd: ["run"], Env: ["X=1"], Labels: { a: "1", b: "2" } };
  assert.deepEqual(serializeConfig(a), serializeConfig(b));
  const doc = JSON.parse(new TextDecoder().decode(serializeConfig(a)));
  assert.deepEqual(Object.keys(doc), ["architecture", "os", "config", "rootfs", "history"]);
  assert.deepEqual(Object.keys(doc.config), ["Env", "Cmd", "Labels"]);
  assert.deepEqual(Object.keys(doc.config.Labels), ["a", "b"]);
  const blob = await configBlob(a);
  assert.equal(blob.descriptor.mediaType, OCI_CONFIG);
  assert.equal(blob.descriptor.digest, await sha256(blob.bytes));
});

Deno.test("a base config keeps settings and history, takes the new platform", async () => {
  const base = {
    architecture: "arm64",
    os: "linux",
    author: "someone",
    config: { Env: ["PATH=/bin"], Hostname: "x" },
    rootfs: { type: "layers", diff_ids: [await sha256("a"), await sha256("b")] },
    history: [{ created_by: "one" }, { created_by: "meta", empty_layer: true }, {
      created_by: "two",
    }],
  };
  const c = configFromBase(base, 2, AMD64, "base");
  assert.equal(c.architecture, "amd64");
  assert.equal(c.author, "someone");
  assert.deepEqual(c.config.Env, ["PATH=/bin"]);
  assert.equal(c.config.Hostname, "x");
  assert.equal(c.history.length, 3);
  assert.throws(
    () => configFromBase(base, 3, AMD64, "Kubefile:1: FROM x"),
    /Kubefile:1: FROM x: config lists 2 diff IDs for 3 layers/,
  );
});

Deno.test("a history that does not match the layers is replaced by one entry per layer", () => {
  assert.equal(consistentHistory([], 2).length, 2);
  const good = [{ created_by: "a" }, { empty_layer: true }];
  assert.equal(consistentHistory(good, 1), good);
});

Deno.test("manifests and indexes have OCI types and descriptors in a fixed shape", async () => {
  const cfg = await configBlob(emptyConfig(AMD64));
  const layer = { mediaType: OCI_LAYER_GZIP, digest: await sha256("l"), size: 10 };
  const m = await manifestBlob(cfg.descriptor, [layer], { "z": "1", "a": "2" });
  const doc = JSON.parse(new TextDecoder().decode(m.bytes));
  assert.equal(doc.mediaType, OCI_MANIFEST);
  assert.deepEqual(Object.keys(doc.annotations), ["a", "z"]);
  assert.deepEqual(doc.layers, [layer]);
  const idx = await indexBlob([{ ...m.descriptor, platform: AMD64 }]);
  const idoc = JSON.parse(new TextDecoder().decode(idx.bytes));
  assert.equal(idoc.mediaType, OCI_INDEX);
  assert.deepEqual(idoc.manifests[0].platform, AMD64);
});

Deno.test("small helpers", () => {
  assert.equal(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
  assert.equal(ociLayerType("application/vnd.docker.image.rootfs.diff.tar.gzip"), OCI_LAYER_GZIP);
});
