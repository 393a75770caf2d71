/**
 * Parsed manifests and indexes, validated enough that later code may trust their shape.
 *
 * The bytes stay the source of truth: a digest is always of the raw bytes, never of a re-serialised
 * object.
 *
 * @module
 */
import { type Digest, isDigest, parseDigest } from "./digest.ts";
import { FerryError, printable } from "./errors.ts";
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  isIndexType,
  OCI_INDEX,
  OCI_MANIFEST,
} from "./media_types.ts";
import type { Platform } from "./platform.ts";

/** A content descriptor (OCI image spec). */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  artifactType?: string;
  urls?: string[];
}

/** A single-image manifest (OCI or Docker v2 schema 2). */
export interface ImageManifest {
  kind: "manifest";
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** An image index or Docker manifest list. */
export interface ImageIndex {
  kind: "index";
  mediaType: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Either kind of manifest. */
export type Manifest = ImageManifest | ImageIndex;

function fail(where: string, why: string): never {
  throw new FerryError("invalid_input", `${where}: ${why}`);
}

function descriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== "object" || value === null) fail(where, "descriptor is not an object");
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== "string" || d.mediaType === "") {
    fail(where, "descriptor without mediaType");
  }
  if (typeof d.digest !== "string") fail(where, "descriptor without digest");
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) {
    fail(where, `descriptor ${d.digest} has an invalid size`);
  }
  return { ...(d as unknown as Descriptor), digest: parseDigest(d.digest, where) };
}

/**
 * Parses manifest bytes. The media type comes from the document, else from `contentType` (what the
 * registry said), else from the document's shape, since `mediaType` is optional in OCI manifests.
 * Schema 1 manifests are refused with an explanation.
 */
export function parseManifest(
  bytes: Uint8Array,
  contentType: string | undefined,
  where: string,
): Manifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    fail(where, "manifest is not valid JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    fail(where, "manifest is not a JSON object");
  }
  const ct = contentType?.split(";")[0].trim();
  if (
    doc.schemaVersion === 1 || ct === DOCKER_SCHEMA1 || ct === DOCKER_SCHEMA1_SIGNED
  ) {
    throw new FerryError(
      "unsupported",
      `${where}: Docker schema 1 manifests are not supported (deprecated since 2017); re-push the image with a current tool`,
    );
  }
  let mediaType = typeof doc.mediaType === "string" ? doc.mediaType : undefined;
  if (!mediaType && ct && (isIndexType(ct) || ct === OCI_MANIFEST || ct === DOCKER_MANIFEST)) {
    mediaType = ct;
  }
  if (!mediaType) mediaType = Array.isArray(doc.manifests) ? OCI_INDEX : OCI_MANIFEST;
  const annotations = doc.annotations as Record<string, string> | undefined;
  const subject = doc.subject === undefined ? undefined : descriptor(doc.subject, where);
  if (mediaType === OCI_INDEX || mediaType === DOCKER_LIST) {
    if (!Array.isArray(doc.manifests)) fail(where, "index without manifests");
    return {
      kind: "index",
      mediaType,
      manifests: doc.manifests.map((m) => descriptor(m, where)),
      ...(subject ? { subject } : {}),
      ...(annotations ? { annotations } : {}),
    };
  }
  if (mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST) {
    if (!Array.isArray(doc.layers)) fail(where, "manifest without layers");
    return {
      kind: "manifest",
      mediaType,
      config: descriptor(doc.config, where),
      layers: doc.layers.map((l) => descriptor(l, where)),
      ...(subject ? { subject } : {}),
      ...(annotations ? { annotations } : {}),
      ...(typeof doc.artifactType === "string" ? { artifactType: doc.artifactType } : {}),
    };
  }
  throw new FerryError(
    "unsupported",
    `${where}: unsupported manifest media type ${printable(mediaType)}`,
  );
}

/** Every blob (config, layers) a manifest needs, config first. */
export function manifestBlobs(m: ImageManifest): Descriptor[] {
  return [m.config, ...m.layers];
}

/**
 * The subject of a manifest and the descriptor that lists it as a referrer: its media type,
 * digest, size, `artifactType` (for an image manifest without one, its config's media type, as
 * the spec says) and annotations. Undefined when the manifest has no (valid) subject.
 */
export function referrerOf(
  manifest: { digest: Digest; mediaType: string; bytes: Uint8Array },
): { subject: Digest; descriptor: Descriptor } | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(manifest.bytes));
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null) return undefined;
  const subject = doc.subject as { digest?: unknown } | undefined;
  if (typeof subject?.digest !== "string" || !isDigest(subject.digest)) {
    return undefined;
  }
  const descriptor: Descriptor = {
    mediaType: typeof doc.mediaType === "string" ? doc.mediaType : manifest.mediaType,
    digest: manifest.digest,
    size: manifest.bytes.byteLength,
  };
  const config = doc.config as { mediaType?: unknown } | undefined;
  const artifactType = typeof doc.artifactType === "string"
    ? doc.artifactType
    : typeof config?.mediaType === "string"
    ? config.mediaType
    : undefined;
  if (artifactType !== undefined) descriptor.artifactType = artifactType;
  if (typeof doc.annotations === "object" && doc.annotations !== null) {
    descriptor.annotations = doc.annotations as Record<string, string>;
  }
  return { subject: subject.digest as Digest, descriptor };
}
