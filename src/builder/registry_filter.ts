/**
 * The registry content of one platform, for multi-platform builds.
 *
 * A multi-platform build saves every platform's images into the one `CONTEXT/registry` (as
 * `ferry registry save --platform a,b` does: each tag keeps pointing at the image's original
 * index, and only the chosen children are stored). Each platform's cluster image must carry only
 * its own platform's images, so while that platform is built, the blobs that only other
 * platforms' children use are left out of every COPY that reads `registry/`: their blob
 * directories and the `_layers` and `_manifests/revisions` links to them. What stays is a valid
 * registry directory whose indexes list children it does not hold, which is how the sparse saver
 * stores a platform selection anyway.
 *
 * A single-platform build copies `CONTEXT/registry` as it is, like Sealos.
 *
 * Reading follows no symlink below `registry/` (see ../store_root.ts): a symlinked directory or
 * blob counts as absent here.
 *
 * @module
 */
import { join } from "../path.ts";
import { type Digest, isDigest } from "../digest.ts";
import { parseManifest } from "../manifest.ts";
import { MAX_MANIFEST_SIZE } from "../media_types.ts";
import { type Platform, platformMatches } from "../platform.ts";
import { isFerryError } from "../errors.ts";
import { StoreRoot } from "../store_root.ts";

const V2 = "docker/registry/v2";

async function listDir(root: StoreRoot, path: string): Promise<Deno.DirEntry[]> {
  try {
    if (!await root.checkDir(path)) return [];
    return await Array.fromAsync(Deno.readDir(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return [];
    if (isFerryError(err, "invalid_input")) return [];
    throw err;
  }
}

/** Every repository directory (one holding `_manifests`) under `repositories/`. */
async function repositoryDirs(root: StoreRoot): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries = await listDir(root, dir);
    if (entries.some((e) => e.name === "_manifests" && e.isDirectory)) out.push(dir);
    for (const e of entries) {
      if (e.isDirectory && !e.name.startsWith("_")) await walk(join(dir, e.name));
    }
  };
  await walk(join(root.root, V2, "repositories"));
  return out;
}

async function readBlob(root: StoreRoot, digest: Digest): Promise<Uint8Array | undefined> {
  const hex = digest.slice(7);
  const path = join(root.root, V2, "blobs/sha256", hex.slice(0, 2), hex, "data");
  // Absent, no regular file, a symlink or too large: not a manifest to read.
  return await root.readSmallFile(path, MAX_MANIFEST_SIZE).catch(() => undefined);
}

/**
 * The digests of a registry directory that only children for other platforms than `platform`
 * use (their manifests, configs and layers).
 */
export async function foreignDigests(dir: string, platform: Platform): Promise<Set<Digest>> {
  const manifests = new Set<Digest>();
  let root: StoreRoot;
  try {
    root = await StoreRoot.open(dir);
  } catch (err) {
    if (isFerryError(err)) return manifests;
    throw err;
  }
  for (const repo of await repositoryDirs(root)) {
    for (const e of await listDir(root, join(repo, "_manifests/revisions/sha256"))) {
      const digest = `sha256:${e.name}`;
      if (isDigest(digest)) manifests.add(digest);
    }
  }
  const foreignChildren = new Set<Digest>();
  const images = new Map<Digest, Digest[]>();
  for (const digest of manifests) {
    const bytes = await readBlob(root, digest);
    if (!bytes) continue;
    let m;
    try {
      m = parseManifest(bytes, undefined, digest);
    } catch {
      continue;
    }
    if (m.kind === "index") {
      for (const child of m.manifests) {
        const p = child.platform;
        if (!p || p.os === "unknown" || platformMatches(p, platform)) continue;
        foreignChildren.add(child.digest);
      }
    } else {
      images.set(digest, [digest, m.config.digest, ...m.layers.map((l) => l.digest)]);
    }
  }
  const foreign = new Set<Digest>();
  const kept = new Set<Digest>();
  for (const [digest, blobs] of images) {
    for (const b of blobs) (foreignChildren.has(digest) ? foreign : kept).add(b);
  }
  for (const b of kept) foreign.delete(b);
  return foreign;
}

/**
 * An exclusion test over context-relative paths that drops the registry content of other
 * platforms from `<prefix>/` (the context's `registry` directory); undefined when there is none.
 */
export async function platformRegistryFilter(
  contextDir: string,
  platform: Platform,
  prefix = "registry",
): Promise<((relPath: string) => boolean) | undefined> {
  const foreign = await foreignDigests(join(contextDir, prefix), platform);
  if (foreign.size === 0) return undefined;
  const hexes = new Set([...foreign].map((d) => d.slice(7)));
  const base = `${prefix}/${V2}/`;
  const blobRe = /^blobs\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})(?:\/|$)/;
  const linkRe =
    /^repositories\/.+\/(?:_layers\/sha256|_manifests\/revisions\/sha256|_manifests\/tags\/[^/]+\/index\/sha256)\/([0-9a-f]{64})(?:\/|$)/;
  return (relPath: string) => {
    if (!relPath.startsWith(base)) return false;
    const rest = relPath.slice(base.length);
    const m = blobRe.exec(rest) ?? linkRe.exec(rest);
    return m !== null && hexes.has(m[1]);
  };
}
