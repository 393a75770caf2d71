/**
 * Test images, the one place tests make them:
 *
 * - in memory ({@link makeImage}, {@link makeTarImage}, {@link makeIndex}, pushed into any
 *   `Target` with {@link pushImage} / {@link pushIndex}), for unit tests and in-process tests;
 * - written as an OCI image layout ({@link makeLayout}), for interop tests with real peers.
 *
 * Layout images have real content: each layer is a gzip-compressed tar holding one file of
 * pseudo-random bytes derived from a seed, so the same `{seed, size}` always gives the same layer
 * digest (layers shared across images, across runs and across machines) while different seeds
 * never deduplicate. The bytes come from AES-128-CTR over zeros (native, about 1 GiB/s) and the
 * gzip stream uses stored deflate blocks: random data does not compress anyway, and stored blocks
 * make the digest independent of any compressor's version. A 100 MiB layer takes well under a
 * second.
 *
 * @module
 */
import { createCipheriv, createHash } from "node:crypto";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { type Digest, digestHex, Sha256, sha256 } from "../../src/digest.ts";
import { digestOf } from "./digest.ts";
import type { Descriptor } from "../../src/manifest.ts";
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_LAYER_TAR,
  OCI_MANIFEST,
} from "../../src/media_types.ts";
import type { Platform } from "../../src/platform.ts";
import { bytesSource, type Target } from "../../src/store.ts";
import { copy, type CopyOptions } from "./skopeo.ts";
import { tempDir } from "./tmp.ts";

/** One layer: a tar with one file of `size` pseudo-random bytes derived from `seed`. */
export interface LayerSpec {
  /** Same seed and size, same layer digest. */
  seed: string;
  /** Size in bytes of the file inside the tar (the blob is about 1.5 KiB larger). */
  size: number;
}

/** Manifest flavour: OCI media types, or Docker v2 schema 2 (manifest list for indexes). */
export type ImageFormat = "oci" | "docker";

/** A single-platform image stored under `name` in the layout. */
export interface SingleImageSpec {
  /** `org.opencontainers.image.ref.name` in the layout's index.json. */
  name: string;
  /** Layers, base first. */
  layers: LayerSpec[];
  /** Platform in the config; default linux/amd64. */
  platform?: Platform;
  /** Config labels (also a way to make two images with equal layers differ). */
  labels?: Record<string, string>;
  /** Default `oci`. */
  format?: ImageFormat;
  children?: never;
}

/** A multi-platform image (image index) stored under `name` in the layout. */
export interface IndexImageSpec {
  /** `org.opencontainers.image.ref.name` in the layout's index.json. */
  name: string;
  /** One image per platform. */
  children: { platform: Platform; layers: LayerSpec[]; labels?: Record<string, string> }[];
  /** Default `oci`. */
  format?: ImageFormat;
  layers?: never;
}

/** What {@link makeLayout} builds. */
export type ImageSpec = SingleImageSpec | IndexImageSpec;

/** A written image manifest. */
export interface BuiltImage {
  kind: "manifest";
  /** Ref name in the layout (for an index's child: the index's name). */
  name: string;
  /** Digest of the manifest bytes. */
  digest: Digest;
  /** Size of the manifest bytes. */
  size: number;
  /** Manifest media type. */
  mediaType: string;
  /** Platform of the image. */
  platform: Platform;
  /** Config descriptor. */
  config: Descriptor;
  /** Layer descriptors, base first. */
  layers: Descriptor[];
  /** Digests of the uncompressed layers (the config's `rootfs.diff_ids`). */
  diffIds: Digest[];
}

/** A written image index. */
export interface BuiltIndex {
  kind: "index";
  /** Ref name in the layout. */
  name: string;
  /** Digest of the index bytes. */
  digest: Digest;
  /** Size of the index bytes. */
  size: number;
  /** Index media type. */
  mediaType: string;
  /** The platform images, in spec order. */
  children: BuiltImage[];
}

/** An image written by {@link makeLayout}. */
export type BuiltLayoutImage = BuiltImage | BuiltIndex;

const CHUNK = 1 << 20;
const STORED_MAX = 65535;
const ZEROS = new Uint8Array(CHUNK);
const DEFAULT_PLATFORM: Platform = { os: "linux", architecture: "amd64" };

/** Deterministic pseudo-random bytes for `seed`, in chunks of at most 1 MiB. */
export function* pseudoRandomChunks(seed: string, size: number): Generator<Uint8Array> {
  const key = createHash("sha256").update(`ferry-test-bytes\0${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, new Uint8Array(16));
  for (let left = size; left > 0; left -= CHUNK) {
    const n = Math.min(CHUNK, left);
    yield new Uint8Array(cipher.update(n === CHUNK ? ZEROS : ZEROS.subarray(0, n)));
  }
}

function writeOctal(block: Uint8Array, offset: number, width: number, value: number): void {
  const text = value.toString(8).padStart(width - 1, "0");
  if (text.length > width - 1) throw new Error(`tar field overflow: ${value}`);
  block.set(new TextEncoder().encode(text), offset);
}

/** A ustar header for a regular file (mode 0644, root, mtime 0); long paths use the prefix. */
function tarHeader(path: string, size: number): Uint8Array {
  const block = new Uint8Array(512);
  const enc = new TextEncoder();
  let name = path;
  let prefix = "";
  if (enc.encode(path).byteLength > 100) {
    const cut = path.indexOf("/", path.length - 101);
    if (cut <= 0 || cut > 155) throw new Error(`tar path too long for ustar: ${path}`);
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  block.set(enc.encode(name), 0);
  block.set(enc.encode(prefix), 345);
  writeOctal(block, 100, 8, 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0);
  block.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  block[156] = 0x30; // regular file
  block.set(enc.encode("ustar\u000000"), 257);
  block.set(enc.encode("root"), 265);
  block.set(enc.encode("root"), 297);
  writeOctal(block, 329, 8, 0);
  writeOctal(block, 337, 8, 0);
  let sum = 0;
  for (const b of block) sum += b;
  writeOctal(block, 148, 7, sum);
  block[155] = 0x20;
  return block;
}

/** The uncompressed tar of a layer, in chunks. */
function* tarChunks(spec: LayerSpec): Generator<Uint8Array> {
  if (!Number.isSafeInteger(spec.size) || spec.size < 0 || spec.size >= 8 ** 11) {
    throw new Error(`layer ${spec.seed}: invalid size ${spec.size}`);
  }
  const name = `ferry-${digestHex(digestOf(spec.seed)).slice(0, 16)}.bin`;
  yield tarHeader(name, spec.size);
  yield* pseudoRandomChunks(spec.seed, spec.size);
  const pad = (512 - (spec.size % 512)) % 512;
  yield new Uint8Array(pad + 1024); // padding plus the two zero blocks ending the archive
}

/** gzip with stored (uncompressed) deflate blocks, fed chunk by chunk. */
class StoredGzip {
  #crc = 0;
  #size = 0;
  header(): Uint8Array {
    // magic, CM=deflate, no flags, mtime 0, no extra flags, OS unknown: the same bytes everywhere
    return new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  }
  chunk(data: Uint8Array): Uint8Array {
    this.#crc = crc32(data, this.#crc);
    this.#size += data.byteLength;
    const blocks = Math.ceil(data.byteLength / STORED_MAX);
    const out = new Uint8Array(data.byteLength + 5 * blocks);
    let at = 0;
    for (let i = 0; i < data.byteLength; i += STORED_MAX) {
      const piece = data.subarray(i, i + STORED_MAX);
      const n = piece.byteLength;
      out.set([0, n & 0xff, n >>> 8, ~n & 0xff, (~n >>> 8) & 0xff], at);
      out.set(piece, at + 5);
      at += 5 + n;
    }
    return out;
  }
  trailer(): Uint8Array {
    const out = new Uint8Array(13);
    out.set([1, 0, 0, 0xff, 0xff]); // final, empty stored block
    const view = new DataView(out.buffer);
    view.setUint32(5, this.#crc >>> 0, true);
    view.setUint32(9, this.#size >>> 0, true);
    return out;
  }
}

/** The compressed layer blob, in chunks, reporting the uncompressed digest when done. */
function* layerChunks(spec: LayerSpec, onDiffId?: (d: Digest) => void): Generator<Uint8Array> {
  const gzip = new StoredGzip();
  const diff = createHash("sha256");
  yield gzip.header();
  for (const chunk of tarChunks(spec)) {
    diff.update(chunk);
    yield gzip.chunk(chunk);
  }
  yield gzip.trailer();
  onDiffId?.(`sha256:${diff.digest("hex")}`);
}

/** A layer blob as a stream (the same bytes {@link makeLayout} writes for `spec`). */
export function layerStream(spec: LayerSpec): ReadableStream<Uint8Array> {
  const chunks = layerChunks(spec);
  return new ReadableStream({
    pull(controller) {
      const next = chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel() {
      chunks.return(undefined);
    },
  });
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.byteLength;) at += await file.write(data.subarray(at));
}

/** Path of a blob in an OCI layout. */
export function layoutBlobPath(layoutDir: string, digest: Digest): string {
  return join(layoutDir, "blobs", "sha256", digestHex(digest));
}

/** Writes chunks to a temp file, then renames it to its digest's place. */
async function writeBlob(
  layoutDir: string,
  chunks: Iterable<Uint8Array>,
): Promise<{ digest: Digest; size: number }> {
  const dir = join(layoutDir, "blobs", "sha256");
  const tmp = join(dir, `.tmp-${crypto.randomUUID()}`);
  const hash = await Sha256.create();
  const file = await Deno.open(tmp, { write: true, createNew: true });
  try {
    for (const chunk of chunks) {
      hash.update(chunk);
      await writeAll(file, chunk);
    }
  } catch (err) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  file.close();
  const digest = hash.digest();
  await Deno.rename(tmp, layoutBlobPath(layoutDir, digest));
  return { digest, size: hash.size };
}

async function writeJsonBlob(
  layoutDir: string,
  mediaType: string,
  value: unknown,
): Promise<Descriptor> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const { digest, size } = await writeBlob(layoutDir, [bytes]);
  return { mediaType, digest, size };
}

interface LayerInfo {
  descriptor: Descriptor;
  diffId: Digest;
}

/** Builds images into one layout, writing each distinct layer once. */
class LayoutWriter {
  #blobs = new Map<string, Promise<{ digest: Digest; size: number; diffId: Digest }>>();
  constructor(readonly dir: string) {}

  async layer(spec: LayerSpec, format: ImageFormat): Promise<LayerInfo> {
    // The blob is the same for both formats; only the descriptor's media type differs.
    const key = `${spec.seed}\0${spec.size}`;
    let blob = this.#blobs.get(key);
    if (!blob) {
      blob = (async () => {
        let diffId: Digest | undefined;
        const written = await writeBlob(this.dir, layerChunks(spec, (d) => diffId = d));
        return { ...written, diffId: diffId! };
      })();
      this.#blobs.set(key, blob);
    }
    const { digest, size, diffId } = await blob;
    const mediaType = format === "docker" ? DOCKER_LAYER_GZIP : OCI_LAYER_GZIP;
    return { descriptor: { mediaType, digest, size }, diffId };
  }

  async image(
    name: string,
    layerSpecs: LayerSpec[],
    platform: Platform,
    labels: Record<string, string> | undefined,
    format: ImageFormat,
  ): Promise<BuiltImage> {
    const layers: LayerInfo[] = [];
    for (const spec of layerSpecs) layers.push(await this.layer(spec, format));
    const config = await writeJsonBlob(this.dir, format === "docker" ? DOCKER_CONFIG : OCI_CONFIG, {
      created: "2024-01-01T00:00:00Z",
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        ...(labels ? { Labels: labels } : {}),
      },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: layerSpecs.map((l) => ({
        created: "2024-01-01T00:00:00Z",
        created_by: `ferry-test layer ${l.seed} (${l.size} bytes)`,
      })),
    });
    const mediaType = format === "docker" ? DOCKER_MANIFEST : OCI_MANIFEST;
    const manifest = await writeJsonBlob(this.dir, mediaType, {
      schemaVersion: 2,
      mediaType,
      config,
      layers: layers.map((l) => l.descriptor),
    });
    return {
      kind: "manifest",
      name,
      digest: manifest.digest,
      size: manifest.size,
      mediaType,
      platform,
      config,
      layers: layers.map((l) => l.descriptor),
      diffIds: layers.map((l) => l.diffId),
    };
  }

  async build(spec: ImageSpec): Promise<BuiltLayoutImage> {
    const format = spec.format ?? "oci";
    if (spec.children === undefined) {
      return await this.image(
        spec.name,
        spec.layers,
        spec.platform ?? DEFAULT_PLATFORM,
        spec.labels,
        format,
      );
    }
    const children: BuiltImage[] = [];
    for (const child of spec.children) {
      children.push(
        await this.image(spec.name, child.layers, child.platform, child.labels, format),
      );
    }
    const mediaType = format === "docker" ? DOCKER_LIST : OCI_INDEX;
    const index = await writeJsonBlob(this.dir, mediaType, {
      schemaVersion: 2,
      mediaType,
      manifests: children.map((c) => ({
        mediaType: c.mediaType,
        digest: c.digest,
        size: c.size,
        platform: c.platform,
      })),
    });
    return {
      kind: "index",
      name: spec.name,
      digest: index.digest,
      size: index.size,
      mediaType,
      children,
    };
  }
}

const REF_NAME = "org.opencontainers.image.ref.name";

/**
 * Writes `images` into the OCI image layout at `dir` (created when missing; an existing layout
 * keeps its other refs, and a ref of the same name is replaced). Returns what was written, in
 * the order of `images`. Images with equal layers, platform and labels get equal digests.
 */
export async function makeLayout(dir: string, images: ImageSpec[]): Promise<BuiltLayoutImage[]> {
  await Deno.mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  await Deno.writeTextFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  const writer = new LayoutWriter(dir);
  const built: BuiltLayoutImage[] = [];
  for (const spec of images) built.push(await writer.build(spec));

  const indexPath = join(dir, "index.json");
  let existing: Descriptor[] = [];
  try {
    existing = JSON.parse(await Deno.readTextFile(indexPath)).manifests ?? [];
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const names = new Set(built.map((b) => b.name));
  const manifests = [
    ...existing.filter((d) => !names.has(d.annotations?.[REF_NAME] ?? "")),
    ...built.map((b) => ({
      mediaType: b.mediaType,
      digest: b.digest,
      size: b.size,
      annotations: { [REF_NAME]: b.name },
    })),
  ];
  const tmp = join(dir, `.index.json.${crypto.randomUUID()}`);
  await Deno.writeTextFile(
    tmp,
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }, null, 2),
  );
  await Deno.rename(tmp, indexPath);
  return built;
}

// ---- Images in memory ----------------------------------------------------------------------

/** A blob with its descriptor. */
export interface TestBlob {
  desc: Descriptor;
  bytes: Uint8Array;
}

/** A layer blob and the digest of its uncompressed tar (the config's `rootfs.diff_ids`). */
export interface TestLayer extends TestBlob {
  diffId: Digest;
}

/** A single-platform image in memory: config, layers and manifest. */
export interface TestImage {
  config: TestBlob;
  layers: TestLayer[];
  manifest: TestBlob;
}

/** A multi-platform index in memory and its images. */
export interface TestIndex {
  index: TestBlob;
  images: TestImage[];
}

const encoder = new TextEncoder();

/** Wraps bytes as a blob of `mediaType`. */
export function blob(mediaType: string, bytes: Uint8Array): TestBlob {
  return { desc: { mediaType, digest: digestOf(bytes), size: bytes.byteLength }, bytes };
}

/** Random bytes (`crypto.getRandomValues` fills at most 64 KiB per call). */
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(out.subarray(at, Math.min(size, at + 65536)));
  }
  return out;
}

/** The image manifest naming `config` and `layers`. */
function imageOf(config: TestBlob, layers: TestLayer[]): TestImage {
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

/** Options of {@link makeImage}. */
export interface ImageOptions {
  /** Default `amd64`. */
  architecture?: string;
  /** Layer sizes of random bytes (default two layers, 1500 and 2500 bytes). */
  layerSizes?: number[];
  /** The layers' bytes themselves (instead of `layerSizes`). */
  layers?: Uint8Array[];
}

/**
 * A valid OCI image of uncompressed layers (random bytes: registries and stores do not look
 * inside layers, and for an uncompressed layer the diff ID is the layer digest).
 */
export function makeImage(options: ImageOptions = {}): TestImage {
  const architecture = options.architecture ?? "amd64";
  const layerBytes = options.layers ??
    (options.layerSizes ?? [1500, 2500]).map((n) => randomBytes(n));
  const layers = layerBytes.map((b) => {
    const layer = blob(OCI_LAYER_TAR, b);
    return { ...layer, diffId: layer.desc.digest };
  });
  const config = blob(
    OCI_CONFIG,
    encoder.encode(JSON.stringify({
      architecture,
      os: "linux",
      config: { Cmd: ["/bin/true"] },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created_by: "ferry test" })),
    })),
  );
  return imageOf(config, layers);
}

/** Options of {@link makeTarImage}. */
export interface TarImageOptions {
  /** Files of each layer: path → text. Default: one layer with `etc/ferry-<seed>`. */
  files?: Record<string, string>[];
  /** Makes otherwise equal images distinct (a config label); default random. */
  seed?: string;
  /** Default `amd64`. */
  architecture?: string;
}

/** A ustar archive of `files` (path → text): regular files, mode 0644, root, mtime 0. */
export function tarOf(files: Record<string, string>): Uint8Array {
  const entries = Object.entries(files).map(([path, text]) => ({
    path,
    body: encoder.encode(text),
  }));
  const padded = (n: number) => Math.ceil(n / 512) * 512;
  // Headers and padded bodies, then the two zero blocks that end an archive.
  const out = new Uint8Array(entries.reduce((n, e) => n + 512 + padded(e.body.byteLength), 1024));
  let at = 0;
  for (const { path, body } of entries) {
    out.set(tarHeader(path, body.byteLength), at);
    out.set(body, at + 512);
    at += 512 + padded(body.byteLength);
  }
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A valid single-platform OCI image whose layers are gzip tars of real files. */
export async function makeTarImage(options: TarImageOptions = {}): Promise<TestImage> {
  const seed = options.seed ?? crypto.randomUUID();
  const layerFiles = options.files ?? [{ [`etc/ferry-${seed}`]: `hello ${seed}\n` }];
  const layers: TestLayer[] = [];
  for (const files of layerFiles) {
    const tar = tarOf(files);
    layers.push({ ...blob(OCI_LAYER_GZIP, await gzip(tar)), diffId: await sha256(tar) });
  }
  const config = blob(
    OCI_CONFIG,
    encoder.encode(JSON.stringify({
      created: "2024-01-01T00:00:00Z",
      architecture: options.architecture ?? "amd64",
      os: "linux",
      config: { Env: ["PATH=/usr/bin:/bin"], Labels: { seed } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "ferry test" })),
    })),
  );
  return imageOf(config, layers);
}

/**
 * An OCI index over `images`, one entry per image with its config's platform. Default: two
 * images (amd64, arm64) of random layers sharing their first.
 */
export function makeIndex(images?: TestImage[]): TestIndex {
  if (!images) {
    const base = randomBytes(3000);
    images = ["amd64", "arm64"].map((architecture) =>
      makeImage({ architecture, layers: [base, randomBytes(1000)] })
    );
  }
  const index = blob(
    OCI_INDEX,
    encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: images.map((img) => {
        const cfg = JSON.parse(new TextDecoder().decode(img.config.bytes));
        return { ...img.manifest.desc, platform: { os: cfg.os, architecture: cfg.architecture } };
      }),
    })),
  );
  return { index, images };
}

/** Pushes an image (blobs first, then the manifest, as the copy engine does); tags it if asked. */
export async function pushImage(target: Target, image: TestImage, tag?: string): Promise<void> {
  for (const b of [image.config, ...image.layers]) await target.push(b.desc, bytesSource(b.bytes));
  await target.push(image.manifest.desc, bytesSource(image.manifest.bytes));
  if (tag !== undefined) await target.tag(image.manifest.desc, tag);
}

/** Pushes an index with all its images and tags it. */
export async function pushIndex(target: Target, index: TestIndex, tag: string): Promise<void> {
  for (const image of index.images) await pushImage(target, image);
  await target.push(index.index.desc, bytesSource(index.index.bytes));
  await target.tag(index.index.desc, tag);
}

/** Reads a whole stream. */
export async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// ---- Pushing layout images with skopeo -------------------------------------------------------

/** Options for {@link pushToRegistry}. */
export interface PushOptions {
  /** `user:password` for the destination. */
  creds?: string;
  /** Bearer token for the destination (skips the token dance). */
  registryToken?: string;
  /** Copy every platform of an index (default true); false copies only the host's platform. */
  all?: boolean;
  /** Extra options for `skopeo copy`. */
  copy?: Omit<CopyOptions, "all" | "destCreds" | "destRegistryToken">;
}

/** The descriptor of ref `name` in the layout's index.json. */
async function layoutRef(layoutDir: string, name: string): Promise<Descriptor> {
  const index = JSON.parse(await Deno.readTextFile(join(layoutDir, "index.json")));
  const found = (index.manifests as Descriptor[] ?? []).find((d) =>
    d.annotations?.[REF_NAME] === name
  );
  if (!found) throw new Error(`${layoutDir}: no image named ${JSON.stringify(name)}`);
  return found;
}

/**
 * Writes the image `top` from the layout as a skopeo `dir:` directory (blobs hard-linked). skopeo
 * 1.9 reads only OCI media types from an OCI layout, so Docker-format images go through `dir:`,
 * which serves their bytes unchanged.
 */
async function dirFromLayout(layoutDir: string, top: Descriptor, out: string): Promise<void> {
  await Deno.writeTextFile(join(out, "version"), "Directory Transport Version: 1.1\n");
  const linked = new Set<string>();
  async function link(digest: Digest): Promise<void> {
    if (linked.has(digest)) return;
    linked.add(digest);
    await Deno.link(layoutBlobPath(layoutDir, digest), join(out, digestHex(digest)));
  }
  async function image(digest: Digest, manifestName: string): Promise<void> {
    const bytes = await Deno.readFile(layoutBlobPath(layoutDir, digest));
    await Deno.writeFile(join(out, manifestName), bytes);
    const doc = JSON.parse(new TextDecoder().decode(bytes));
    if (Array.isArray(doc.manifests)) {
      for (const child of doc.manifests as Descriptor[]) {
        await image(child.digest, `${digestHex(child.digest)}.manifest.json`);
      }
      return;
    }
    await link(doc.config.digest);
    for (const layer of doc.layers as Descriptor[]) await link(layer.digest);
  }
  await image(top.digest, "manifest.json");
}

/**
 * Pushes the layout image `name` to `destRef` (`127.0.0.1:PORT/repo:tag`, with or without
 * `docker://`) with `skopeo copy`, bytes unchanged. Returns the digest of the pushed manifest or
 * index.
 */
export async function pushToRegistry(
  layoutDir: string,
  name: string,
  destRef: string,
  options: PushOptions = {},
): Promise<Digest> {
  const top = await layoutRef(layoutDir, name);
  const copyOptions: CopyOptions = {
    ...options.copy,
    all: options.all ?? true,
    destCreds: options.creds,
    destRegistryToken: options.registryToken,
  };
  if (top.mediaType === OCI_MANIFEST || top.mediaType === OCI_INDEX) {
    return (await copy(`oci:${layoutDir}:${name}`, destRef, copyOptions)).digest;
  }
  await using dir = await tempDir("ferry-push-");
  await dirFromLayout(layoutDir, top, dir.path);
  return (await copy(`dir:${dir.path}`, destRef, copyOptions)).digest;
}
