/**
 * Test fixtures for registry directories: small images and a tree lister. Used by the unit tests
 * here and by the interop tests.
 *
 * @module
 */
import { type Digest, sha256 } from "../digest.ts";
import type { Descriptor } from "../manifest.ts";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST } from "../media_types.ts";
import type { ContentSource, Target } from "../store.ts";
import { bytesSource } from "../store.ts";

/** A blob with its descriptor. */
export interface Blob {
  desc: Descriptor;
  bytes: Uint8Array;
}

/** A single-platform image: config, layers and manifest. */
export interface TestImage {
  config: Blob;
  layers: Blob[];
  manifest: Blob;
}

/** A multi-platform index and its images. */
export interface TestIndex {
  index: Blob;
  images: TestImage[];
}

const encoder = new TextEncoder();

/** Wraps bytes as a blob of `mediaType`. */
export function blob(mediaType: string, bytes: Uint8Array): Blob {
  return { desc: { mediaType, digest: sha256(bytes), size: bytes.byteLength }, bytes };
}

/** Random bytes (`crypto.getRandomValues` fills at most 64 KiB per call). */
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(out.subarray(at, Math.min(size, at + 65536)));
  }
  return out;
}

/**
 * A valid OCI image of uncompressed layers (random bytes: registries do not look inside layers,
 * and for an uncompressed layer the diff ID is the layer digest).
 */
export function makeImage(
  options: { architecture?: string; layerSizes?: number[]; layers?: Uint8Array[] } = {},
): TestImage {
  const architecture = options.architecture ?? "amd64";
  const layerBytes = options.layers ??
    (options.layerSizes ?? [1500, 2500]).map((n) => randomBytes(n));
  const layers = layerBytes.map((b) => blob(OCI_LAYER_TAR, b));
  const config = blob(
    OCI_CONFIG,
    encoder.encode(JSON.stringify({
      architecture,
      os: "linux",
      config: { Cmd: ["/bin/true"] },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.desc.digest) },
      history: layers.map(() => ({ created_by: "ferry test" })),
    })),
  );
  const manifest = blob(
    OCI_MANIFEST,
    encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: config.desc,
      layers: layers.map((l) => l.desc),
    })),
  );
  return { config, layers, manifest };
}

/** A two-platform (amd64, arm64) OCI index; `shared` layer bytes go into both images. */
export function makeIndex(shared?: Uint8Array): TestIndex {
  const base = shared ?? randomBytes(3000);
  const images = ["amd64", "arm64"].map((architecture) =>
    makeImage({ architecture, layers: [base, randomBytes(1000)] })
  );
  const index = blob(
    OCI_INDEX,
    encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: images.map((img, i) => ({
        ...img.manifest.desc,
        platform: { os: "linux", architecture: i === 0 ? "amd64" : "arm64" },
      })),
    })),
  );
  return { index, images };
}

/** Pushes an image (blobs first, then the manifest) and tags it when `tag` is given. */
export async function pushImage(target: Target, image: TestImage, tag?: string): Promise<void> {
  for (const b of [image.config, ...image.layers]) await target.push(b.desc, bytesSource(b.bytes));
  await target.push(image.manifest.desc, bytesSource(image.manifest.bytes));
  if (tag) await target.tag(image.manifest.desc, tag);
}

/** Pushes an index with all its images and tags it. */
export async function pushIndex(target: Target, index: TestIndex, tag: string): Promise<void> {
  for (const image of index.images) await pushImage(target, image);
  await target.push(index.index.desc, bytesSource(index.index.bytes));
  await target.tag(index.index.desc, tag);
}

/** A content source that records the offsets it was asked for and yields small chunks. */
export function recordingSource(
  bytes: Uint8Array,
  chunkSize = 1000,
): { source: ContentSource; offsets: number[] } {
  const offsets: number[] = [];
  const source: ContentSource = (offset) => {
    offsets.push(offset);
    let at = offset;
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.byteLength) return controller.close();
          controller.enqueue(bytes.slice(at, at + chunkSize));
          at += chunkSize;
        },
      }),
    );
  };
  return { source, offsets };
}

/** One entry of a listed tree. */
export interface TreeEntry {
  type: "dir" | "file";
  mode: number;
  /** Content of files up to 100 bytes (link files), as text. */
  text?: string;
  size?: number;
}

/** Every path under `dir` (relative, sorted) with type, permission bits and small contents. */
export async function listTree(dir: string): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (path: string, rel: string) => {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      const r = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const info = await Deno.lstat(full);
      const mode = (info.mode ?? 0) & 0o7777;
      if (info.isDirectory) {
        out.set(r, { type: "dir", mode });
        await walk(full, r);
      } else {
        const e: TreeEntry = { type: "file", mode, size: info.size };
        if (info.size <= 100) e.text = await Deno.readTextFile(full);
        out.set(r, e);
      }
    }
  };
  await walk(dir, "");
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Relative paths of the blob data file and link files a digest gets in the v2 tree. */
export function blobDataPath(digest: Digest): string {
  const hex = digest.slice(7);
  return `blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
}
