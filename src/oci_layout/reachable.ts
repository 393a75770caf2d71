/**
 * What garbage collection of a layout keeps, by the rules of `ferry registry gc` (docker-registry
 * 2.8's): every `index.json` entry is marked with what it names (an index's children, a
 * manifest's config and layers). A manifest's `subject` is not followed: a signature or other
 * referrer does not keep the image it refers to. A referrer listed without a name (how referrers
 * are kept in a layout) is kept only while its subject is; once the subject goes, so does it, its
 * entry included.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import { type Descriptor, parseManifest } from "../manifest.ts";
import { isManifestType, MAX_MANIFEST_SIZE } from "../media_types.ts";
import { refNameOfEntry } from "./index_file.ts";

/** Reads a manifest's bytes, or undefined when the blob is missing. */
export type ManifestReader = (digest: Digest) => Promise<Uint8Array | undefined>;

/** What {@link layoutMarks} found. */
export interface LayoutMarks {
  /** Blobs to keep. */
  keep: Set<Digest>;
  /** Digests of the unnamed referrer entries whose subject is not kept: entries to drop. */
  orphans: Set<Digest>;
}

/**
 * Walks the graph from `roots`. `read` returns a manifest's bytes, or undefined when the blob is
 * missing (a broken layout loses that branch, not the whole walk). A blob that does not parse as a
 * manifest is kept as a leaf.
 */
export async function reachableBlobs(
  roots: readonly Descriptor[],
  read: ManifestReader,
  seen: Set<Digest> = new Set(),
): Promise<Set<Digest>> {
  const queue: Descriptor[] = [...roots];
  while (queue.length > 0) {
    const desc = queue.pop()!;
    if (seen.has(desc.digest)) continue;
    seen.add(desc.digest);
    const manifest = await readManifest(desc, read);
    if (!manifest) continue;
    if (manifest.kind === "index") queue.push(...manifest.manifests);
    else queue.push(manifest.config, ...manifest.layers);
  }
  return seen;
}

/** The marks of a layout whose `index.json` lists `entries` (see the module doc). */
export async function layoutMarks(
  entries: readonly Descriptor[],
  read: ManifestReader,
): Promise<LayoutMarks> {
  const roots: Descriptor[] = [];
  const referrers: { entry: Descriptor; subject: Digest }[] = [];
  for (const entry of entries) {
    const subject = refNameOfEntry(entry) === undefined
      ? (await readManifest(entry, read))?.subject
      : undefined;
    if (subject) referrers.push({ entry, subject: subject.digest });
    else roots.push(entry);
  }
  const keep = await reachableBlobs(roots, read);
  // A referrer of a kept referrer is kept too: repeat until nothing more is.
  let waiting = referrers;
  for (let changed = true; changed;) {
    changed = false;
    const still: typeof referrers = [];
    for (const r of waiting) {
      if (keep.has(r.subject)) {
        await reachableBlobs([r.entry], read, keep);
        changed = true;
      } else still.push(r);
    }
    waiting = still;
  }
  return {
    keep,
    orphans: new Set(waiting.filter((r) => !keep.has(r.entry.digest)).map((r) => r.entry.digest)),
  };
}

async function readManifest(desc: Descriptor, read: ManifestReader) {
  if (!isManifestType(desc.mediaType) || desc.size > MAX_MANIFEST_SIZE) return undefined;
  const bytes = await read(desc.digest);
  if (bytes === undefined) return undefined;
  try {
    return parseManifest(bytes, desc.mediaType, desc.digest);
  } catch {
    return undefined;
  }
}
