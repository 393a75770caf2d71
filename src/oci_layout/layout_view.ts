/**
 * Read-side logic shared by every store that is an OCI image layout, whether a directory or a tar
 * archive of one: resolving ref names and digests, listing tags.
 *
 * @module
 */
import { type Digest, isDigest } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { type Descriptor, parseManifest, referrerOf } from "../manifest.ts";
import { isManifestType, MAX_MANIFEST_SIZE } from "../media_types.ts";
import { readAll } from "../streams.ts";
import { findRef, type LayoutIndex, refNames } from "./index_file.ts";
import { refNameOf, tagOfRefName } from "./ref_name.ts";

/** Raw access to a layout's `index.json` and blobs. */
export interface LayoutBackend {
  /** Location for messages (`oci:/path`). */
  readonly location: string;
  /** The current `index.json`. */
  readIndex(): Promise<LayoutIndex>;
  /** Size of the blob, or undefined when it is absent. */
  blobSize(digest: Digest): Promise<number | undefined>;
  /** Opens a blob from `offset`. */
  openBlob(
    digest: Digest,
    offset: number,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>>;
}

/**
 * Resolves `reference` in `repository` (see ref_name.ts for the mapping): a tag (ref name) through
 * `index.json`, or a digest of any manifest held, including children of indexes.
 *
 * @throws {FerryError} `not_found` when nothing matches.
 */
export async function resolveInLayout(
  backend: LayoutBackend,
  repository: string,
  reference: string,
): Promise<Descriptor> {
  const index = await backend.readIndex();
  if (isDigest(reference)) {
    const entry = index.manifests.find((m) => m.digest === reference);
    if (entry) return entry;
    return await describeManifestBlob(backend, reference);
  }
  const refName = refNameOf(repository, reference, backend.location);
  const entry = findRef(index, refName);
  if (!entry) {
    throw new FerryError("not_found", `${backend.location}: no image named ${refName}`);
  }
  return entry;
}

/** The tags of `repository`, sorted. */
export async function tagsInLayout(backend: LayoutBackend, repository: string): Promise<string[]> {
  const tags: string[] = [];
  for (const name of refNames(await backend.readIndex())) {
    const tag = tagOfRefName(repository, name);
    if (tag !== undefined) tags.push(tag);
  }
  return tags.sort();
}

/**
 * The descriptor of the manifest stored as blob `digest`: its media type comes from the document,
 * since an untagged child of an index has no entry of its own.
 */
export async function describeManifestBlob(
  backend: LayoutBackend,
  digest: Digest,
): Promise<Descriptor> {
  const where = `${backend.location}@${digest}`;
  const size = await backend.blobSize(digest);
  if (size === undefined) throw new FerryError("not_found", `${where}: no such manifest`);
  if (size > MAX_MANIFEST_SIZE) throw new FerryError("not_found", `${where}: not a manifest`);
  const bytes = await readAll(await backend.openBlob(digest, 0), MAX_MANIFEST_SIZE, where);
  try {
    const manifest = parseManifest(bytes, undefined, where);
    return { mediaType: manifest.mediaType, digest, size };
  } catch {
    throw new FerryError("not_found", `${where}: not a manifest`);
  }
}

/** What each manifest of a layout refers to (undefined: not yet read; null: nothing). */
export type SubjectCache = Map<Digest, { subject: Digest; descriptor: Descriptor } | null>;

/**
 * What the manifest `entry` of a layout refers to (its subject and its descriptor as a referrer),
 * or null for nothing; read once (bounded) and remembered in `cache`. A manifest whose blob is
 * missing or too large refers to nothing.
 */
export async function subjectInLayout(
  backend: LayoutBackend,
  entry: Descriptor,
  cache: SubjectCache,
): Promise<{ subject: Digest; descriptor: Descriptor } | null> {
  let parsed = cache.get(entry.digest);
  if (parsed !== undefined) return parsed;
  parsed = null;
  const size = await backend.blobSize(entry.digest);
  if (isManifestType(entry.mediaType) && size !== undefined && size <= MAX_MANIFEST_SIZE) {
    const bytes = await readAll(
      await backend.openBlob(entry.digest, 0),
      MAX_MANIFEST_SIZE,
      `${backend.location}@${entry.digest}`,
    );
    parsed = referrerOf({ digest: entry.digest, mediaType: entry.mediaType, bytes }) ?? null;
  }
  cache.set(entry.digest, parsed);
  return parsed;
}

/**
 * The manifests listed in `index.json` whose `subject` is `subject` (OCI 1.1 referrers, which a
 * layout keeps as ordinary `index.json` entries), sorted by digest.
 */
export async function referrersInLayout(
  backend: LayoutBackend,
  subject: Descriptor,
  cache: SubjectCache,
): Promise<Descriptor[]> {
  const found = new Map<Digest, Descriptor>();
  for (const entry of (await backend.readIndex()).manifests) {
    if (found.has(entry.digest)) continue;
    const parsed = await subjectInLayout(backend, entry, cache);
    if (parsed?.subject === subject.digest) found.set(entry.digest, parsed.descriptor);
  }
  return [...found.values()].sort((a, b) => a.digest < b.digest ? -1 : 1);
}
