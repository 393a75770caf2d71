/**
 * Layers written by ferry, wrapped by hand in an OCI image layout, unpacked by umoci: the result
 * must be exactly the intended tree (contents, modes, symlink targets, hard links, mtimes, and the
 * whiteouts of an upper layer).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Digest, sha256 } from "../src/digest.ts";
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_MANIFEST } from "../src/media_types.ts";
import { walkTree, writeLayer } from "../src/layer/mod.ts";
import type { LayerEntry, LayerResult } from "../src/layer/mod.ts";
import { buildSampleTree, requirePeer, run, snapshot } from "../src/layer/test_util.ts";

const CLAMP = 1_700_000_000;

/** Writes a layer blob into the layout; returns its descriptor data. */
async function addLayer(
  layout: string,
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  compression: "gzip" | "none",
): Promise<LayerResult> {
  const tmp = join(layout, "blobs", "layer.tmp");
  const w = writeLayer(entries, { compression, mtime: CLAMP });
  await w.stream.pipeTo((await Deno.create(tmp)).writable);
  const result = await w.done;
  await Deno.rename(tmp, join(layout, "blobs", "sha256", result.digest.slice(7)));
  return result;
}

async function addJson(layout: string, value: unknown): Promise<{ digest: Digest; size: number }> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const digest = await sha256(bytes);
  await Deno.writeFile(join(layout, "blobs", "sha256", digest.slice(7)), bytes);
  return { digest, size: bytes.byteLength };
}

function emptyFile(path: string): LayerEntry {
  return { kind: "file", path, mode: 0o644, size: 0, mtime: CLAMP };
}

Deno.test("interop: umoci unpacks ferry layers (with whiteouts) to the exact tree", async () => {
  if (!(await requirePeer("umoci", ["--version"]))) return;
  if (!(await requirePeer("cp"))) return;
  const dir = await Deno.makeTempDir({ prefix: "ferry-umoci-" });
  try {
    const src = join(dir, "src");
    await Deno.mkdir(src);
    await buildSampleTree(src, 1_800_000_000);

    const layout = join(dir, "layout");
    await Deno.mkdir(join(layout, "blobs", "sha256"), { recursive: true });
    const lower = await addLayer(layout, walkTree(src, ""), "gzip");
    const upperText = new TextEncoder().encode("added\n");
    const upper = await addLayer(
      layout,
      [
        emptyFile("a/.wh..wh..opq"),
        {
          kind: "file",
          path: "a/new",
          mode: 0o640,
          size: 4,
          mtime: CLAMP,
          open: () => new Blob(["new\n"]).stream(),
        },
        {
          kind: "file",
          path: "added.txt",
          mode: 0o600,
          size: upperText.byteLength,
          mtime: CLAMP,
          open: () => new Blob([upperText]).stream(),
        },
        emptyFile("etc/.wh.empty"),
      ],
      "none",
    );
    const config = await addJson(layout, {
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: [lower.diffId, upper.diffId] },
    });
    const manifest = await addJson(layout, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, ...config },
      layers: [
        { mediaType: OCI_LAYER_GZIP, digest: lower.digest, size: lower.size },
        { mediaType: OCI_LAYER_TAR, digest: upper.digest, size: upper.size },
      ],
    });
    await Deno.writeTextFile(join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    await Deno.writeTextFile(
      join(layout, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{
          mediaType: OCI_MANIFEST,
          ...manifest,
          annotations: { "org.opencontainers.image.ref.name": "tag" },
        }],
      }),
    );

    const bundle = join(dir, "bundle");
    const unpack = await run("umoci", ["unpack", "--rootless", "--image", `${layout}:tag`, bundle]);
    assert.equal(unpack.code, 0, unpack.stderr);

    // The expected tree: the source with the upper layer's changes applied.
    const expected = join(dir, "expected");
    const cp = await run("cp", ["-a", src, expected]);
    assert.equal(cp.code, 0, cp.stderr);
    await Deno.remove(join(expected, "a/inner"));
    await Deno.writeTextFile(join(expected, "a/new"), "new\n");
    await Deno.chmod(join(expected, "a/new"), 0o640);
    await Deno.writeFile(join(expected, "added.txt"), upperText);
    await Deno.chmod(join(expected, "added.txt"), 0o600);
    await Deno.remove(join(expected, "etc/empty"));

    const rootfs = join(bundle, "rootfs");
    const got = await snapshot(rootfs);
    assert.deepEqual(got, await snapshot(expected));
    assert.equal(got["etc/tool-hardlink"].linkedTo, "bin/tool");
    assert.equal(got["bin/rel-link"].target, "../etc/config.yaml");

    // mtimes come from the headers: clamped to the epoch given to the writer.
    const withTimes = await snapshot(rootfs, { mtimes: true });
    for (const [path, s] of Object.entries(withTimes)) {
      if (s.mtime !== undefined && path !== "a") assert.equal(s.mtime, CLAMP, path);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
