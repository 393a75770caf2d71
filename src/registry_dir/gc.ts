/**
 * Garbage collection of a registry directory by docker-registry 2.8's rules
 * (`registry garbage-collect [--dry-run] [--delete-untagged]`), so that on one directory ferry
 * keeps exactly the blobs, manifests and tags docker-registry 2.8.2 keeps.
 *
 * Mark: every manifest a repository holds (a revision link whose data is stored) is marked with
 * the blobs it names (an image's config and layers, an index's child manifests: one level, as
 * docker-registry does; a child is marked through its own revision). With `deleteUntagged`, a
 * manifest no tag of its repository points at (by `current/link`) is not marked but deleted from
 * that repository: its revision and its entry in every tag's history. As in docker-registry, this
 * applies to the children of a tagged index too: they lose their revision and their layers, and
 * the index no longer pulls.
 *
 * Sweep: manifests first, then every `_layers` link naming a digest nothing marked
 * (docker-registry 2.8 leaves such links dangling; distribution 3 removes them, and so does
 * ferry), then every stored blob nothing marked. Upload sessions (`_uploads`) are left to the
 * server that owns them.
 *
 * Unless it is a dry run, it first takes the directory's writer lock exclusively (./lock.ts): it is
 * refused while ferry writes into the directory, and ferry's writers are refused while it runs.
 *
 * Everything is read and removed through the directory's {@link StoreRoot}: only regular files
 * named as the layout names them are removed, one by one, then their directory if it is empty,
 * so a planted symlink or a stray file is never followed nor removed; a symlinked directory where
 * marks are read stops the run before anything is removed. Each removal is one unlink; the order
 * (a manifest's revision, then links, then blobs) means no link names a missing blob at any
 * point, and a rerun after a kill computes the same marks and finishes the sweep.
 *
 * @module
 */
import { dirname } from "../path.ts";
import type { Digest } from "../digest.ts";
import { errorMessage, FerryError } from "../errors.ts";
import { runBounded } from "../limit.ts";
import { parseManifest } from "../manifest.ts";
import { MAX_MANIFEST_SIZE } from "../media_types.ts";
import { fileReadable, readAll } from "../streams.ts";
import type { StoreRoot } from "../store_root.ts";
import { listDirs, readLink } from "./fs.ts";
import { Layout } from "./layout.ts";
import type { RegistryDir } from "./registry_dir.ts";

const HEX_RE = /^[a-f0-9]{64}$/;
/** Filesystem operations at once: link and manifest reads while marking, removals in a phase. */
export const GC_WIDTH = 16;

/** Options of {@link collectGarbage}. */
export interface GcOptions {
  /** Only report what would be removed. */
  dryRun?: boolean;
  /** Delete manifests no tag points at (and what only they use). */
  deleteUntagged?: boolean;
  /** Told of each step as it happens (progress and removals). */
  onEvent?: (event: GcEvent) => void;
  /** Stops the run between two removals (what is removed stays removed; a rerun finishes). */
  signal?: AbortSignal;
}

/** A manifest removed from a repository. */
export interface GcManifest {
  repository: string;
  digest: Digest;
}

/** A blob removed. */
export interface GcBlob {
  digest: Digest;
  size: number;
}

/** What {@link collectGarbage} reports as it goes. */
export type GcEvent =
  /** Marking: `done` of `total` repositories looked at, `manifests` marked so far. */
  | { type: "mark"; done: number; total: number; manifests: number }
  /** Sweeping blobs: `done` of `total` removed, `bytes` freed so far. */
  | { type: "sweep"; done: number; total: number; bytes: number }
  /** An untagged manifest left its repository (or would, in a dry run). */
  | { type: "manifest"; repository: string; digest: Digest }
  /** A blob was removed (or would be). */
  | { type: "blob"; digest: Digest; size: number }
  /** A repository's `_layers` link to a removed blob was removed (or would be). */
  | { type: "layer-link"; repository: string; digest: Digest }
  /** A tagged index one of whose children leaves its repository (docker-registry's rule). */
  | { type: "broken-index"; repository: string; digest: Digest; child: Digest };

/** What {@link collectGarbage} did (or would do, in a dry run). */
export interface GcReport {
  dryRun: boolean;
  /** Repositories looked at. */
  repositories: number;
  /** Manifests marked (kept). */
  markedManifests: number;
  /** Blobs kept. */
  keptBlobs: number;
  /** Untagged manifests removed from their repositories. */
  manifests: GcManifest[];
  /** Blobs removed. */
  blobs: GcBlob[];
  /** `_layers` links removed. */
  layerLinks: GcManifest[];
  /** Bytes of the blobs removed. */
  freedBytes: number;
}

/** A manifest to delete and every tag whose history may name it. */
interface Doomed extends GcManifest {
  tags: string[];
}

/**
 * Marks and sweeps `dir` by docker-registry 2.8's rules (see the module doc). Throws, before
 * removing anything, when a revision or tag link is damaged or a marked manifest cannot be read:
 * marks would be incomplete, as docker-registry stops there too.
 */
export async function collectGarbage(
  dir: RegistryDir,
  options: GcOptions = {},
): Promise<GcReport> {
  if (!options.dryRun && dir.readOnly) {
    throw new FerryError("denied", `${dir.location}: registry directory is opened read-only`);
  }
  // No writer may store a blob it has not linked yet while marks are read and the sweep runs.
  if (!options.dryRun) await dir.lockExclusive();
  const root = dir.storeRoot;
  const layout = new Layout(dir.root);
  const emit = options.onEvent ?? (() => {});
  const marked = new Set<Digest>();
  const doomed: Doomed[] = [];
  // Strict: a symlinked directory would hide marks from what is swept.
  const repositories = await dir.repositoriesHolding("_manifests", { strict: true });
  let markedManifests = 0;
  const brokenChecks: { repository: string; index: Digest; children: Digest[] }[] = [];

  for (const [i, name] of repositories.entries()) {
    const repoDir = layout.repository(name);
    const revisions = `${repoDir}/_manifests/revisions/sha256`;
    const hexes = (await listDirs(root, revisions, { strict: true })).filter((hex) =>
      HEX_RE.test(hex)
    );
    const found = await inParallel(hexes, async (hex) => {
      const digest = await linkOf(root, `${revisions}/${hex}/link`, `sha256:${hex}`);
      // A revision whose data is gone is not enumerated by docker-registry either.
      return digest && await root.fileSize(layout.blobData(digest)) !== undefined
        ? digest
        : undefined;
    });
    const manifests = found.filter((d) => d !== undefined).sort();
    let tags: string[] = [];
    const tagged = new Set<Digest>();
    if (options.deleteUntagged) {
      // Every entry of tags/ counts as a tag whose history may name a deleted manifest; only a
      // present current link makes a manifest tagged.
      tags = await listDirs(root, layout.tagsDir(name), { strict: true });
      const currents = await inParallel(
        tags,
        (tag) => linkOf(root, `${layout.tagsDir(name)}/${tag}/current/link`),
      );
      for (const digest of currents) if (digest) tagged.add(digest);
    }
    const kept: Digest[] = [];
    for (const digest of manifests) {
      if (options.deleteUntagged && !tagged.has(digest)) {
        doomed.push({ repository: name, digest, tags });
      } else kept.push(digest);
    }
    const parsed = await inParallel(kept, async (digest) => {
      const path = layout.blobData(digest);
      try {
        const size = await root.fileSize(path);
        if (size !== undefined && size > MAX_MANIFEST_SIZE) {
          throw new FerryError("too_large", `larger than ${MAX_MANIFEST_SIZE} bytes`);
        }
        const bytes = await readAll(fileReadable(await root.open(path)), MAX_MANIFEST_SIZE, path);
        return parseManifest(bytes, undefined, `${name}@${digest}`);
      } catch (err) {
        throw new FerryError(
          "invalid_input",
          `${dir.location}: cannot read manifest ${name}@${digest} (${
            errorMessage(err)
          }); nothing was removed`,
          { cause: err },
        );
      }
    });
    for (const [j, manifest] of parsed.entries()) {
      const digest = kept[j];
      marked.add(digest);
      markedManifests++;
      if (manifest.kind === "index") {
        for (const child of manifest.manifests) marked.add(child.digest);
        brokenChecks.push({
          repository: name,
          index: digest,
          children: manifest.manifests.map((c) => c.digest),
        });
      } else {
        marked.add(manifest.config.digest);
        for (const layer of manifest.layers) marked.add(layer.digest);
      }
    }
    emit({ type: "mark", done: i + 1, total: repositories.length, manifests: markedManifests });
  }

  const doomedKeys = new Set(doomed.map((d) => `${d.repository}@${d.digest}`));
  for (const check of brokenChecks) {
    for (const child of check.children) {
      if (doomedKeys.has(`${check.repository}@${child}`)) {
        emit({ type: "broken-index", repository: check.repository, digest: check.index, child });
      }
    }
  }

  // Blobs stored and not marked, found before anything is removed.
  const stored = await dir.storedBlobs();
  // A directory without data (size undefined) is what a sweep killed between its two steps leaves.
  const unmarked = stored.filter((blob) => !marked.has(blob.digest));
  const keptBlobs = stored.length - unmarked.length;
  const layerLinks: GcManifest[] = [];
  for (const name of repositories) {
    const layers = `${layout.repository(name)}/_layers/sha256`;
    for (const hex of await listDirs(root, layers)) {
      if (HEX_RE.test(hex) && !marked.has(`sha256:${hex}`)) {
        layerLinks.push({ repository: name, digest: `sha256:${hex}` });
      }
    }
  }

  const report: GcReport = {
    dryRun: options.dryRun ?? false,
    repositories: repositories.length,
    markedManifests,
    keptBlobs,
    manifests: doomed.map(({ repository, digest }) => ({ repository, digest })),
    blobs: [],
    layerLinks,
    freedBytes: 0,
  };
  const dry = options.dryRun ?? false;

  // Manifests first: once a revision is gone a rerun no longer marks from it. Each phase ends
  // before the next begins; within one, removals run side by side.
  await inParallel(doomed, async ({ repository, digest, tags }) => {
    if (!dry) {
      for (const tag of tags) {
        await removeLink(root, layout.tagIndexLink(repository, tag, digest));
      }
      await removeLink(root, layout.revisionLink(repository, digest));
    }
    emit({ type: "manifest", repository, digest });
  }, options.signal);
  // Then the links to blobs about to go, so that no link names a missing blob at any point.
  await inParallel(layerLinks, async ({ repository, digest }) => {
    if (!dry) await removeLink(root, layout.layerLink(repository, digest));
    emit({ type: "layer-link", repository, digest });
  }, options.signal);
  const total = unmarked.filter((b) => b.size !== undefined).length;
  await inParallel(unmarked, async ({ digest, size }) => {
    if (size === undefined) {
      if (!dry) await removeEmptyDir(root, layout.blobDir(digest));
      return;
    }
    if (!dry) await removeLink(root, layout.blobData(digest));
    report.blobs.push({ digest, size });
    report.freedBytes += size;
    emit({ type: "blob", digest, size });
    emit({ type: "sweep", done: report.blobs.length, total, bytes: report.freedBytes });
  }, options.signal);
  report.blobs.sort((a, b) => a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);
  return report;
}

/**
 * `fn` over `items`, {@link GC_WIDTH} at a time, results in order; after every item ran, the
 * first failure is thrown.
 */
async function inParallel<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  const failures = await runBounded(items.map((item, i) => ({ item, i })), {
    width: GC_WIDTH,
    run: async ({ item, i }) => {
      signal?.throwIfAborted();
      out[i] = await fn(item);
    },
  });
  if (failures.length > 0) throw failures[0].error;
  return out;
}

/**
 * The digest a revision or tag link holds; undefined when the link is absent.
 *
 * @throws {FerryError} when it is damaged (or names another digest than `expect`).
 */
async function linkOf(root: StoreRoot, path: string, expect?: Digest): Promise<Digest | undefined> {
  let digest: Digest | undefined;
  try {
    digest = await readLink(root, path);
  } catch (err) {
    throw new FerryError(
      "invalid_input",
      `${path}: damaged link (${errorMessage(err)}); nothing was removed`,
      { cause: err },
    );
  }
  if (digest === undefined) return undefined;
  if (expect !== undefined && digest !== expect) {
    throw new FerryError(
      "invalid_input",
      `${path}: link names ${digest}, not ${expect}; nothing was removed`,
    );
  }
  return digest;
}

/**
 * Removes the regular file `path` (a link or a blob's data), then its directory if that is now
 * empty. A symlink, a directory or anything reached through one is left alone.
 */
async function removeLink(root: StoreRoot, path: string): Promise<void> {
  // A symlink on the way (planted after the marks were read) is not the store's to remove.
  if (await root.fileSize(path).catch(() => undefined) !== undefined) {
    try {
      await Deno.remove(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  await removeEmptyDir(root, dirname(path));
}

/** Removes the directory `path` if it is a real, empty directory of the store. */
async function removeEmptyDir(root: StoreRoot, path: string): Promise<void> {
  try {
    if (!await root.checkDir(path)) return;
    // Not recursive: a directory holding anything else stays.
    await Deno.remove(path);
  } catch {
    // Not empty, gone meanwhile, or not ours: left as it is.
  } finally {
    root.forget(path);
  }
}
