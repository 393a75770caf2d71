/**
 * The `--json` schema: every event, result and snapshot ferry prints, one type per shape, so that
 * a command cannot print a field the schema (docs/JSON.md) does not describe.
 *
 * The vocabulary is the same everywhere:
 *
 * - `source` / `destination`: the image a transfer read / wrote, as a location string that
 *   `ferry copy` accepts (`docker://docker.io/library/nginx:1.27`, `registry-dir:/abs/dir:REPO:TAG`,
 *   `oci:/abs/store:NAME`, `oci-archive:/abs/file.tar:REF`, `docker-archive:/abs/file.tar:@0`);
 *   see `formatLocation` in ../location.ts.
 * - `image`: an image argument as the user gave it; `name` / `names`: names in the image store.
 * - `digest`, `mediaType`: the manifest or index a name points at; `manifests`: the
 *   single-platform manifests among what was copied.
 * - Paths are absolute; platforms are `os/arch[/variant]` strings.
 *
 * @module
 */
import type { ErrorCode } from "../errors.ts";
import type { ImageConfigSummary } from "../image_store/mod.ts";
import type { Descriptor } from "../manifest.ts";

// ---- events shared by the streams ----

/** A blob was stored, or was already at the destination. */
export interface BlobDoneEvent {
  type: "blob-done";
  source: string;
  digest: string;
  size: number;
  status: "copied" | "exists";
}

/** A single-platform manifest was stored, or was already at the destination. */
export interface ManifestEvent {
  type: "manifest";
  source: string;
  digest: string;
  mediaType: string;
  platform?: string;
  status: "copied" | "exists";
}

/**
 * A manifest that belongs to an image (a signature, SBOM, attestation) was stored with it, or was
 * already at the destination.
 */
export interface ReferrerEvent extends ReferrerSummary {
  type: "referrer";
  source: string;
  status: "copied" | "exists";
}

/** One image of a multi-image command is complete. */
export interface ImageDoneEvent {
  type: "image-done";
  source: string;
  destination: string;
  digest: string;
  mediaType: string;
}

/** One image of a multi-image command failed; the others go on. */
export interface ImageFailedEvent {
  type: "image-failed";
  source: string;
  error: string;
}

/** Something was skipped or fixed up. */
export interface WarningEvent {
  type: "warning";
  message: string;
}

/**
 * How far a long step that is no transfer has got (`registry gc`, `registry verify`), at most
 * once a second and at its end.
 */
export interface ProgressEvent {
  type: "progress";
  /** `mark` (repositories looked at), `sweep` (blobs removed), `hash` (blobs hashed). */
  step: "mark" | "sweep" | "hash";
  done: number;
  total: number;
  /** Bytes freed (`sweep`) or hashed (`hash`) so far. */
  bytes?: number;
  /** Bytes to hash in all (`hash`). */
  totalBytes?: number;
}

/** `registry verify` hashed a blob. */
export interface BlobCheckedEvent {
  type: "blob-checked";
  digest: string;
  /** Bytes hashed. */
  size: number;
  /** `ok`: the bytes hash to the digest; `corrupt`: they do not (a problem in the result). */
  status: "ok" | "corrupt";
}

/** `registry gc` removed something (or would, with `--dry-run`). */
export interface RemovedEvent {
  type: "removed";
  /** An untagged manifest's revision, a blob, or a repository's `_layers` link. */
  kind: "manifest" | "blob" | "layer-link";
  digest: string;
  /** For `manifest` and `layer-link`. */
  repository?: string;
  /** For `blob`. */
  size?: number;
  dryRun: boolean;
}

/** The command failed (the last line). */
export interface ErrorEvent {
  type: "error";
  code: ErrorCode | "internal";
  message: string;
  /** Lines that follow the message (a list of what is missing), when there are. */
  details?: string[];
}

// ---- build and merge events ----

/** An instruction starts. */
export interface StepEvent {
  type: "step";
  platform: string;
  step: number;
  steps: number;
  text: string;
}

/** A layer was written, or reused. */
export interface LayerEvent {
  type: "layer";
  platform: string;
  digest: string;
  size: number;
  diffId: string;
  reused: boolean;
}

/** A base image or merge input is pulled into the image store. */
export interface PullEvent {
  type: "pull";
  image: string;
}

/** One platform's image is stored. */
export interface BuiltEvent {
  type: "built";
  platform: string;
  digest: string;
  config: string;
}

/** How a merge input's layers went into the result. */
export interface InputEvent {
  type: "input";
  image: string;
  reused: number;
  skipped: number;
  flattened: boolean;
}

// ---- results ----

/** A manifest stored because it belongs to another: its subject, what it is, its cosign tag. */
export interface ReferrerSummary {
  /** The manifest it belongs to (the image's index or one of its manifests, or a referrer). */
  subject: string;
  digest: string;
  mediaType: string;
  artifactType?: string;
  kind: "signature" | "attestation" | "sbom" | "other";
  /** The cosign tag naming it (`sha256-<hex>.sig`), when it has one. */
  tag?: string;
}

/** An image a transfer stored. */
export interface TransferredImage {
  source: string;
  digest: string;
  mediaType: string;
  manifests: string[];
  /** Signatures, SBOMs and attestations stored with it (`--no-referrers`: none). */
  referrers?: ReferrerSummary[];
}

/** One image copied to one destination (`copy`, `registry copy`, `push`, `build -o`). */
export interface Transfer extends TransferredImage {
  destination: string;
  /** The tag written at the destination. */
  tag?: string;
}

/** An image saved into a registry directory. */
export interface SavedToRegistry extends TransferredImage {
  destination: string;
  repository: string;
  tag?: string;
}

/** An image written into or read from the image store or an archive, with its names there. */
export interface NamedImage extends TransferredImage {
  names: string[];
}

/** A layer of a built or merged image. */
export interface LayerSummary {
  digest: string;
  size: number;
  diffId: string;
  /** Not written by this command: taken from the layer cache, a base image or a merge input. */
  reused: boolean;
  /** The merge input it came from, as given (merge only). */
  image?: string;
}

/** One platform's image of a build or merge. */
export interface PlatformImage {
  platform: string;
  digest: string;
  config: string;
  layers: LayerSummary[];
}

/** `registry save`; printed also when images failed (an `error` event follows). */
export interface RegistrySaveResult {
  type: "result";
  registryDir: string;
  images: SavedToRegistry[];
  /** The images that could not be saved (empty when all were). */
  failed: { source: string; error: string }[];
  totals: TransferTotals;
}

/** `copy`, `registry copy` (with `totals`), `push`. */
export interface TransferResult extends Transfer {
  type: "result";
  totals?: TransferTotals;
}

/** `registry sync`. */
export interface SyncResult {
  type: "result";
  copied: number;
  failed: { source: string; error: string }[];
  totals: TransferTotals;
}

/**
 * What a transfer moved (`registry save`, `copy`, `registry copy`, `registry sync`): each distinct
 * blob counted once.
 */
export interface TransferTotals {
  /** Images completed. */
  images: number;
  /** Distinct layers and configs stored or found stored. */
  blobs: number;
  /** Bytes read from the source. */
  bytesFetched: number;
  /** Bytes the destination already held (blobs found there, and resumed parts). */
  bytesPresent: number;
  /** Wall time in seconds. */
  seconds: number;
}

/** `pull`. */
export interface PullResult extends NamedImage {
  type: "result";
}

/** `tag`. */
export interface TagResult {
  type: "result";
  image: string;
  digest: string;
  names: string[];
}

/** `rmi`. */
export interface RmiResult {
  type: "result";
  untagged: string[];
  removed: string[];
  freedBytes: number;
  deferred?: string;
}

/** `prune`. */
export interface PruneResult {
  type: "result";
  removed: string[];
  freedBytes: number;
}

/** `registry gc`. */
export interface RegistryGcResult {
  type: "result";
  dir: string;
  dryRun: boolean;
  repositories: number;
  keptManifests: number;
  keptBlobs: number;
  removed: { manifests: number; blobs: number; layerLinks: number };
  freedBytes: number;
}

/** `save`: images of the store written into one archive. */
export interface SaveResult {
  type: "result";
  destination: string;
  images: NamedImage[];
  /** With `--base`: the blobs left out because the base holds them. */
  omitted?: { blobs: number; size: number };
}

/** `load`: images of one archive stored. */
export interface LoadResult {
  type: "result";
  source: string;
  images: NamedImage[];
}

/** `build`. */
export interface BuildResult {
  type: "result";
  context: string;
  digest: string;
  mediaType: string;
  names: string[];
  savedImages: number;
  images: PlatformImage[];
  /** With `-o`. */
  output?: Transfer;
}

/** `merge`. */
export interface MergeResult {
  type: "result";
  digest: string;
  mediaType: string;
  names: string[];
  images: PlatformImage[];
}

/** Anything an event stream prints. */
export type Event =
  | BlobDoneEvent
  | ManifestEvent
  | ReferrerEvent
  | ImageDoneEvent
  | ImageFailedEvent
  | WarningEvent
  | ProgressEvent
  | BlobCheckedEvent
  | RemovedEvent
  | ErrorEvent
  | StepEvent
  | LayerEvent
  | PullEvent
  | BuiltEvent
  | InputEvent
  | RegistrySaveResult
  | TransferResult
  | SyncResult
  | PullResult
  | TagResult
  | RmiResult
  | PruneResult
  | RegistryGcResult
  | RegistryVerifyResult
  | SaveResult
  | LoadResult
  | BuildResult
  | MergeResult;

// ---- snapshots ----

/** `images`. */
export interface ImagesSnapshot {
  root: string;
  images: {
    name?: string;
    digest: string;
    mediaType: string;
    size: number;
    created?: string;
    platforms: string[];
  }[];
}

/** `inspect`. */
export interface InspectSnapshot {
  image: string;
  name?: string;
  names: string[];
  digest: string;
  mediaType: string;
  size: number;
  created?: string;
  platforms: string[];
  manifests?: { digest: string; mediaType: string; size: number; platform?: string }[];
  manifest: {
    digest: string;
    mediaType: string;
    platform?: string;
    config: ImageConfigSummary;
    layers: { digest: string; size: number; mediaType: string }[];
  };
  registry?: { repository: string; tag: string; digest: string }[];
  /** What the store holds for the image and its manifests, by kind. */
  referrers: { signatures: number; attestations: number; sboms: number; other: number };
  notes: string[];
}

/** Where `context images` found an image. */
export interface FoundIn {
  file: string;
  line: number;
  rule: string;
  /** `env` or `args` when the image is only named there (a reference). */
  referencedIn?: "env" | "args";
  /** `line` counts the template's rendered output, not its source. */
  rendered?: true;
}

/** One image of `context images`. */
export interface ContextImage {
  image: string;
  /** Other spellings of the same image. */
  aliases?: string[];
  foundIn: FoundIn[];
}

/** `context images`. */
export interface ContextImagesSnapshot {
  context: string;
  images: ContextImage[];
  /** Images named only in env values or container args: not saved unless asked for. */
  referenced: ContextImage[];
  archives: { source: string; repository: string; tag: string; foundIn: FoundIn[] }[];
  warnings: { file: string; line?: number; message: string }[];
  ignored: string[];
}

/** `registry verify`. */
export interface RegistryVerifyResult {
  type: "result";
  /** `registry-dir:/abs`, `oci:/abs`, `oci-archive:/abs/file.tar`, `docker-archive:/abs/file.tar`. */
  location: string;
  /** For a registry directory: its path. */
  dir?: string;
  blobs: number;
  bytes: number;
  /** `index.json` / `manifest.json` entries checked (0 for a registry directory). */
  images: number;
  /** Blobs a differential archive (`ferry save --base`) leaves out on purpose, when there are any. */
  omitted?: number;
  repositories: number;
  tags: number;
  problems: { kind: string; path: string; digest?: string; message: string }[];
  /** Problems found past `--max-problems`. */
  moreProblems: number;
}

/** `registry ls-blobs`. */
export interface LsBlobsSnapshot {
  location: string;
  kind: "registry-dir" | "oci" | "oci-archive" | "docker-archive" | "digest-list";
  blobs: { digest: string; size?: number }[];
}

/** One image `verify` checked. */
export interface VerifiedImage {
  /** The location as given. */
  image: string;
  /** The image read, as a location string. */
  source: string;
  /** The manifest or index checked; absent when the location could not be read. */
  digest?: string;
  /** With `--platform`: the platform of the manifest checked. */
  platform?: string;
  /** Signatures that verified with a key and name the image (or the index it was found in). */
  verified: number;
  /** The files of the keys that verified them. */
  keys: string[];
  signatures: {
    tag?: string;
    referrer?: string;
    payload: string;
    key?: string;
    signedDigest?: string;
    dockerReference?: string;
    problem?: string;
  }[];
  /** Why nothing verified; absent when `verified > 0`. */
  reason?: string;
}

/** `verify`. */
export interface SignaturesSnapshot {
  images: VerifiedImage[];
}

/** Anything a snapshot command prints. */
export type Snapshot =
  | ImagesSnapshot
  | InspectSnapshot
  | ContextImagesSnapshot
  | LsBlobsSnapshot
  | SignaturesSnapshot;

/** The `digest`, `mediaType` and `manifests` of a copy's outcome. */
export function transferred(
  source: string,
  root: Descriptor,
  images: Descriptor[],
  referrers?: ReferrerSummary[],
): TransferredImage {
  return {
    source,
    digest: root.digest,
    mediaType: root.mediaType,
    manifests: images.map((i) => i.digest),
    ...(referrers ? { referrers: referrers.map(referrerSummary) } : {}),
  };
}

/** A referrer in its documented shape (fields in a fixed order, none added). */
export function referrerSummary(r: ReferrerSummary): ReferrerSummary {
  return {
    subject: r.subject,
    digest: r.digest,
    mediaType: r.mediaType,
    ...(r.artifactType !== undefined ? { artifactType: r.artifactType } : {}),
    kind: r.kind,
    ...(r.tag !== undefined ? { tag: r.tag } : {}),
  };
}
