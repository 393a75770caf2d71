/**
 * The set of blobs reachable from a layout's roots (its `index.json` entries): manifests, indexes
 * and their children, configs, layers and subjects. Garbage collection keeps exactly these.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import { type Descriptor, parseManifest } from "../manifest.ts";
import { isManifestType, MAX_MANIFEST_SIZE } from "../media_types.ts";

/**
 * Walks the graph from `roots`. `read` returns a manifest's bytes, or undefined when the blob is
 * missing (a broken layout loses that branch, not the whole walk). A blob that does not parse as a
 * manifest is kept as a leaf.
 */
export async function reachableBlobs(
  roots: readonly Descriptor[],
  read: (digest: Digest) => Promise<Uint8Array | undefined>,
): Promise<Set<Digest>> {
  const seen = new Set<Digest>();
  const queue: Descriptor[] = [...roots];
  while (queue.length > 0) {
    const desc = queue.pop()!;
    if (seen.has(desc.digest)) continue;
    seen.add(desc.digest);
    if (!isManifestType(desc.mediaType) || desc.size > MAX_MANIFEST_SIZE) continue;
    const bytes = await read(desc.digest);
    if (bytes === undefined) continue;
    let manifest;
    try {
      manifest = parseManifest(bytes, desc.mediaType, desc.digest);
    } catch {
      continue;
    }
    if (manifest.subject) queue.push(manifest.subject);
    if (manifest.kind === "index") queue.push(...manifest.manifests);
    else queue.push(manifest.config, ...manifest.layers);
  }
  return seen;
}
