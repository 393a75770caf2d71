import assert from "node:assert/strict";
import { join } from "node:path";
import { type Digest, sha256 } from "../digest.ts";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from "../media_types.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import { bytesSource } from "../store.ts";
import { foreignDigests, platformRegistryFilter } from "./registry_filter.ts";

const enc = new TextEncoder();
const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };

/** Pushes a blob; returns its descriptor. */
async function blob(repo: ReturnType<RegistryDir["repository"]>, mediaType: string, text: string) {
  const bytes = enc.encode(text);
  const desc = { mediaType, digest: await sha256(bytes), size: bytes.length };
  await repo.push(desc, bytesSource(bytes));
  return desc;
}

Deno.test("multi-platform registry content: other platforms' blobs are left out, shared ones kept", async () => {
  const ctx = await Deno.makeTempDir({ prefix: "ferry-regfilter-" });
  try {
    const dir = await RegistryDir.open(join(ctx, "registry"));
    const repo = dir.repository("library/app");
    const shared = await blob(repo, OCI_LAYER_GZIP, "shared layer");
    const amdLayer = await blob(repo, OCI_LAYER_GZIP, "amd64 layer");
    const armLayer = await blob(repo, OCI_LAYER_GZIP, "arm64 layer");
    const child = async (p: typeof AMD64, layer: typeof shared) => {
      const config = await blob(repo, OCI_CONFIG, JSON.stringify({ ...p, rootfs: {} }));
      const m = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config,
        layers: [shared, layer],
      });
      return { ...(await blob(repo, OCI_MANIFEST, m)), platform: p, config };
    };
    const amd = await child(AMD64, amdLayer);
    const arm = await child(ARM64, armLayer);
    const index = await blob(
      repo,
      OCI_INDEX,
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd, arm] }),
    );
    await repo.tag(index, "1.0");
    await dir.close();

    const foreign = await foreignDigests(join(ctx, "registry"), AMD64);
    assert.deepEqual(
      [...foreign].sort(),
      [arm.digest, arm.config.digest, armLayer.digest].sort() as Digest[],
    );
    const drop = (await platformRegistryFilter(ctx, AMD64))!;
    const hex = (d: string) => d.slice(7);
    const v2 = "registry/docker/registry/v2";
    const blobPath = (d: string) => `${v2}/blobs/sha256/${hex(d).slice(0, 2)}/${hex(d)}`;
    assert.equal(drop(blobPath(armLayer.digest)), true);
    assert.equal(drop(`${blobPath(armLayer.digest)}/data`), true);
    assert.equal(drop(blobPath(shared.digest)), false);
    assert.equal(drop(blobPath(amdLayer.digest)), false);
    assert.equal(drop(blobPath(index.digest)), false);
    assert.equal(
      drop(`${v2}/repositories/library/app/_layers/sha256/${hex(armLayer.digest)}/link`),
      true,
    );
    assert.equal(
      drop(`${v2}/repositories/library/app/_manifests/revisions/sha256/${hex(arm.digest)}`),
      true,
    );
    assert.equal(
      drop(`${v2}/repositories/library/app/_manifests/revisions/sha256/${hex(amd.digest)}`),
      false,
    );
    assert.equal(drop(`${v2}/repositories/library/app/_manifests/tags/1.0/current/link`), false);
    assert.equal(drop(`other/${hex(armLayer.digest)}`), false);
    // The other way round, and a context without a registry.
    assert.equal((await foreignDigests(join(ctx, "registry"), ARM64)).has(amdLayer.digest), true);
    assert.equal(await platformRegistryFilter(join(ctx, "nothing"), AMD64), undefined);

    // The index's data a symlink to a copy outside registry/: not read, so no child is foreign.
    const indexData = `${ctx}/${blobPath(index.digest)}/data`;
    await Deno.rename(indexData, `${ctx}/outside-index`);
    await Deno.symlink(`${ctx}/outside-index`, indexData);
    assert.deepEqual([...await foreignDigests(join(ctx, "registry"), AMD64)], []);
  } finally {
    await Deno.remove(ctx, { recursive: true });
  }
});

Deno.test("a context's registry whose manifest data is a named pipe is not waited on", async () => {
  const ctx = await Deno.makeTempDir({ prefix: "ferry-regfilter-" });
  try {
    const dir = await RegistryDir.open(join(ctx, "registry"));
    const repo = dir.repository("library/app");
    const config = await blob(repo, OCI_CONFIG, JSON.stringify({ ...AMD64, rootfs: {} }));
    const m = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] });
    const manifest = await blob(repo, OCI_MANIFEST, m);
    await repo.tag(manifest, "1.0");
    await dir.close();
    const hex = manifest.digest.slice(7);
    const data = join(
      ctx,
      "registry/docker/registry/v2/blobs/sha256",
      hex.slice(0, 2),
      hex,
      "data",
    );
    await Deno.remove(data);
    const made = await new Deno.Command("mkfifo", { args: [data] }).output();
    assert.ok(made.success);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("waited on the pipe")), 5000);
    });
    try {
      const foreign = await Promise.race([foreignDigests(join(ctx, "registry"), AMD64), late]);
      assert.equal(foreign.size, 0);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    // A reader still blocked on the pipe would hold the test open: give it its end of file.
    await Deno.remove(ctx, { recursive: true });
  }
});
