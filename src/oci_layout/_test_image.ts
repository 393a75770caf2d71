/**
 * Small but real images for tests: a gzip tar layer, an OCI config with matching diff_ids, and the
 * manifest (plus optional index) naming them. Test-only; not part of the public API.
 *
 * @module
 */
import { packTar } from "modern-tar";
import { type Digest, sha256 } from "../digest.ts";
import type { Descriptor } from "../manifest.ts";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from "../media_types.ts";
import { bytesSource, type Target } from "../store.ts";

/** A blob with its descriptor. */
export interface TestBlob {
  desc: Descriptor;
  bytes: Uint8Array;
}

/** An image made by {@link makeTestImage}. */
export interface TestImage {
  manifest: TestBlob;
  config: TestBlob;
  layers: (TestBlob & { diffId: Digest })[];
}

/** Options for {@link makeTestImage}. */
export interface TestImageOptions {
  /** Files of each layer: path → text. Default: one layer with `etc/ferry-<seed>`. */
  layers?: Record<string, string>[];
  /** Makes otherwise equal images distinct. */
  seed?: string;
  architecture?: string;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function blob(mediaType: string, bytes: Uint8Array): TestBlob {
  return { desc: { mediaType, digest: sha256(bytes), size: bytes.byteLength }, bytes };
}

/** Builds a valid single-platform OCI image with gzip layers. */
export async function makeTestImage(options: TestImageOptions = {}): Promise<TestImage> {
  const seed = options.seed ?? crypto.randomUUID();
  const layerFiles = options.layers ?? [{ [`etc/ferry-${seed}`]: `hello ${seed}\n` }];
  const layers: TestImage["layers"] = [];
  for (const files of layerFiles) {
    const tar = await packTar(
      Object.entries(files).map(([name, text]) => ({
        header: { name, size: new TextEncoder().encode(text).byteLength, mtime: new Date(0) },
        body: text,
      })),
    );
    layers.push({ ...blob(OCI_LAYER_GZIP, await gzip(tar)), diffId: sha256(tar) });
  }
  const config = blob(
    OCI_CONFIG,
    new TextEncoder().encode(JSON.stringify({
      created: "2024-01-01T00:00:00Z",
      architecture: options.architecture ?? "amd64",
      os: "linux",
      config: { Env: ["PATH=/usr/bin:/bin"], Labels: { seed } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "ferry test" })),
    })),
  );
  const manifest = blob(
    OCI_MANIFEST,
    new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: config.desc,
      layers: layers.map((l) => l.desc),
    })),
  );
  return { manifest, config, layers };
}

/** An OCI index over `images`, one entry per image with its config's platform. */
export function makeTestIndex(images: TestImage[]): TestBlob {
  return blob(
    OCI_INDEX,
    new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: images.map((img) => {
        const cfg = JSON.parse(new TextDecoder().decode(img.config.bytes));
        return { ...img.manifest.desc, platform: { os: cfg.os, architecture: cfg.architecture } };
      }),
    })),
  );
}

/** Pushes the image's blobs then its manifest (copy-engine order); tags it when `tag` is given. */
export async function pushTestImage(target: Target, image: TestImage, tag?: string): Promise<void> {
  for (const b of [image.config, ...image.layers]) await target.push(b.desc, bytesSource(b.bytes));
  await target.push(image.manifest.desc, bytesSource(image.manifest.bytes));
  if (tag !== undefined) await target.tag(image.manifest.desc, tag);
}

/** Reads a whole stream. */
export async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
