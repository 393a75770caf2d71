/**
 * OCI image configs as a build and a merge produce them: the document, its history, and the
 * canonical bytes (fixed key order, so the same image gives the same config digest anywhere).
 *
 * @module
 */
import { type Digest, sha256 } from "../digest.ts";
import { FerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import {
  DOCKER_LAYER_GZIP,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_LAYER_TAR,
  OCI_MANIFEST,
} from "../media_types.ts";
import type { Platform } from "../platform.ts";

/** One `history` entry. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  /** True for instructions that add no layer. */
  empty_layer?: boolean;
}

/**
 * The `config` section: the run-time settings. Fields ferry does not know (a Docker config's
 * `Hostname`, `Image`…) are kept as they came from a base image.
 */
export interface RunConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: Record<string, unknown>;
  OnBuild?: string[];
  Shell?: string[];
  [key: string]: unknown;
}

/** An image config document. */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
  config: RunConfig;
  rootfs: { type: "layers"; diff_ids: Digest[] };
  history: HistoryEntry[];
}

/** A config with no layers and no settings, for `FROM scratch` and merges. */
export function emptyConfig(platform: Platform): ImageConfig {
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {},
    rootfs: { type: "layers", diff_ids: [] },
    history: [],
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Takes a base image's config document as the start of a stage: its settings, diff IDs and
 * history, with the platform of the image being built.
 *
 * @throws {FerryError} `invalid_input` when `rootfs.diff_ids` does not match the layer count.
 */
export function configFromBase(
  doc: Record<string, unknown>,
  layerCount: number,
  platform: Platform,
  where: string,
): ImageConfig {
  const rootfs = isObject(doc.rootfs) ? doc.rootfs : {};
  const diffIds = Array.isArray(rootfs.diff_ids) ? rootfs.diff_ids as Digest[] : [];
  if (diffIds.length !== layerCount) {
    throw new FerryError(
      "invalid_input",
      `${where}: config lists ${diffIds.length} diff IDs for ${layerCount} layers`,
    );
  }
  const history = Array.isArray(doc.history)
    ? (doc.history as unknown[]).filter(isObject) as HistoryEntry[]
    : [];
  const out: ImageConfig = {
    ...(typeof doc.created === "string" ? { created: doc.created } : {}),
    ...(typeof doc.author === "string" ? { author: doc.author } : {}),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: isObject(doc.config) ? structuredClone(doc.config) as RunConfig : {},
    rootfs: { type: "layers", diff_ids: [...diffIds] },
    history: consistentHistory(structuredClone(history), layerCount),
  };
  return out;
}

/**
 * A history whose non-empty entries match the layers one to one, as the image spec asks; a base
 * image whose history does not (some tools write none) gets one synthetic entry per layer.
 */
export function consistentHistory(history: HistoryEntry[], layerCount: number): HistoryEntry[] {
  const nonEmpty = history.filter((h) => h.empty_layer !== true).length;
  if (nonEmpty === layerCount) return history;
  return Array.from({ length: layerCount }, (_, i) => ({
    created_by: `layer ${i + 1} of ${layerCount} (base image history unavailable)`,
  }));
}

/** Layer media types as an OCI manifest lists them (Docker's gzip layer is the same bytes). */
export function ociLayerType(mediaType: string): string {
  return mediaType === DOCKER_LAYER_GZIP ? OCI_LAYER_GZIP : mediaType;
}

/** Drops undefined fields and fixes the key order of the run-time settings. */
function canonicalRunConfig(c: RunConfig): RunConfig {
  const known = [
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
  ];
  const out: Record<string, unknown> = {};
  for (const key of known) {
    const value = c[key];
    if (value === undefined) continue;
    if (key === "Labels" || key === "ExposedPorts" || key === "Volumes") {
      out[key] = sortedRecord(value as Record<string, unknown>);
    } else out[key] = value;
  }
  for (const key of Object.keys(c).sort()) {
    if (!known.includes(key) && c[key] !== undefined) out[key] = c[key];
  }
  return out as RunConfig;
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

/** Canonical JSON bytes of a config: fixed key order, no insignificant whitespace. */
export function serializeConfig(config: ImageConfig): Uint8Array {
  const doc: Record<string, unknown> = {};
  if (config.created !== undefined) doc.created = config.created;
  if (config.author !== undefined) doc.author = config.author;
  doc.architecture = config.architecture;
  doc.os = config.os;
  if (config.variant !== undefined) doc.variant = config.variant;
  if (config["os.version"] !== undefined) doc["os.version"] = config["os.version"];
  if (config["os.features"] !== undefined) doc["os.features"] = config["os.features"];
  doc.config = canonicalRunConfig(config.config);
  doc.rootfs = { type: "layers", diff_ids: config.rootfs.diff_ids };
  doc.history = config.history.map((h) => {
    const e: HistoryEntry = {};
    if (h.created !== undefined) e.created = h.created;
    if (h.created_by !== undefined) e.created_by = h.created_by;
    if (h.author !== undefined) e.author = h.author;
    if (h.comment !== undefined) e.comment = h.comment;
    if (h.empty_layer) e.empty_layer = true;
    return e;
  });
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** A serialised blob and its descriptor. */
export interface JsonBlob {
  bytes: Uint8Array;
  descriptor: Descriptor;
}

/** The config blob of `config`. */
export async function configBlob(config: ImageConfig): Promise<JsonBlob> {
  const bytes = serializeConfig(config);
  return {
    bytes,
    descriptor: { mediaType: OCI_CONFIG, digest: await sha256(bytes), size: bytes.length },
  };
}

/** An OCI image manifest over a config and layers. */
export async function manifestBlob(
  config: Descriptor,
  layers: Descriptor[],
  annotations?: Record<string, string>,
): Promise<JsonBlob> {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: plainDescriptor(config),
    layers: layers.map(plainDescriptor),
    ...(annotations && Object.keys(annotations).length > 0
      ? { annotations: sortedRecord(annotations) }
      : {}),
  };
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  return {
    bytes,
    descriptor: { mediaType: OCI_MANIFEST, digest: await sha256(bytes), size: bytes.length },
  };
}

/** An OCI image index over per-platform manifests. */
export async function indexBlob(manifests: Descriptor[]): Promise<JsonBlob> {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: manifests.map((m) => ({
      ...plainDescriptor(m),
      ...(m.platform ? { platform: m.platform } : {}),
    })),
  };
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  return {
    bytes,
    descriptor: { mediaType: OCI_INDEX, digest: await sha256(bytes), size: bytes.length },
  };
}

/** `mediaType`, `digest`, `size` (and annotations/urls when present), in that order. */
function plainDescriptor(d: Descriptor): Descriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.urls ? { urls: d.urls } : {}),
    ...(d.annotations ? { annotations: d.annotations } : {}),
  };
}

/** Whether a layer media type is one ferry writes (plain or gzip tar). */
export function isOwnLayerType(mediaType: string): boolean {
  return mediaType === OCI_LAYER_GZIP || mediaType === OCI_LAYER_TAR;
}

/** RFC 3339 time of `seconds` since the epoch (`2024-01-02T03:04:05Z`). */
export function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, "Z");
}
