/**
 * Finding the images a cluster image carries in its `registry/` directory (the distribution
 * layout `ferry registry save` writes and `sealos run` serves): each tag is a file
 * `registry/docker/registry/v2/repositories/<repo>/_manifests/tags/<tag>/current/link` holding the
 * digest it points at.
 *
 * Layers are read as streams, one entry at a time (constant memory whatever their size), and
 * stacked the way a container's root file system is: a later layer replaces a link, and its
 * whiteouts remove what lower layers put there.
 *
 * @module
 */
import { type Digest, isDigest } from "../digest.ts";
import { readLayer } from "../layer/mod.ts";
import type { Descriptor } from "../manifest.ts";
import type { Target } from "../store.ts";
import { readAll } from "../streams.ts";
import { MAX_LINK_SIZE } from "../registry_dir/fs.ts";

/** One image found in a `registry/` directory. */
export interface RegistryImage {
  /** Repository path inside the registry (`library/nginx`). */
  repository: string;
  tag: string;
  /** What the tag's `current/link` holds. */
  digest: Digest;
}

const REGISTRY_DIR = "registry/docker/registry/v2/repositories";
const LINK_RE = new RegExp(`^${REGISTRY_DIR}/(.+)/_manifests/tags/([^/]+)/current/link$`);

/** Whether a layer's media type says it is a tar stream (plain or compressed). */
function isTarLayer(mediaType: string): boolean {
  return /tar/.test(mediaType);
}

/**
 * The registry images of an image whose layers are `layers` (base first), sorted by repository and
 * tag. Layers that are not tar streams (artifacts) are skipped.
 */
export async function registryImages(
  target: Target,
  layers: readonly Descriptor[],
): Promise<RegistryImage[]> {
  const found = new Map<string, Found>();
  for (const [n, layer] of layers.entries()) {
    if (!isTarLayer(layer.mediaType)) continue;
    const where = `${target.location}@${layer.digest}`;
    for await (const entry of readLayer(await target.fetch(layer), { where })) {
      if (!entry.path.startsWith("registry")) continue;
      if (entry.kind === "whiteout" || entry.kind === "opaque") {
        // A whiteout hides the path and everything under it; an opaque directory hides what
        // lower layers had under it.
        dropUnder(found, entry.path, n);
        continue;
      }
      const m = LINK_RE.exec(entry.path);
      if (!m) {
        // A non-directory replacing a path hides what was below it.
        if (entry.kind !== "dir") dropUnder(found, entry.path, n);
        continue;
      }
      if (entry.kind !== "file" || entry.size > MAX_LINK_SIZE) continue;
      const digest = new TextDecoder().decode(await readAll(entry.body, MAX_LINK_SIZE, where))
        .trim();
      if (!isDigest(digest)) continue;
      found.set(entry.path, { image: { repository: m[1], tag: m[2], digest }, layer: n });
    }
  }
  return [...found.values()].map((f) => f.image).sort((a, b) =>
    a.repository < b.repository
      ? -1
      : a.repository > b.repository
      ? 1
      : a.tag < b.tag
      ? -1
      : a.tag > b.tag
      ? 1
      : 0
  );
}

/** A link found so far and the layer it came from. */
interface Found {
  image: RegistryImage;
  layer: number;
}

/** Forgets links at or under `path` that layers below `layer` contributed. */
function dropUnder(found: Map<string, Found>, path: string, layer: number): void {
  for (const [key, f] of [...found]) {
    if (f.layer < layer && (key === path || key.startsWith(`${path}/`))) found.delete(key);
  }
}
