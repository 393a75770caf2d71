/**
 * `registry save`: copy a list of images into a registry directory (distribution layout), the way
 * Sealos's registry-sync path does, without a temporary registry: the remote client reads, the
 * registry-directory store writes, the copy engine moves.
 *
 * @module
 */
import { type CopiedReferrer, CopyEngine, type CopyEvent, type CopyResult } from "../copy/mod.ts";
import { preloadSha256 } from "../digest.ts";
import { errorMessage, FerryError } from "../errors.ts";
import { type BoundedFailure, failedImagesError, runBounded } from "../limit.ts";
import type { Descriptor } from "../manifest.ts";
import type { Platform } from "../platform.ts";
import {
  formatReference,
  manifestReference,
  parseReference,
  type Reference,
} from "../reference.ts";
import type { RegistryClient } from "../remote/mod.ts";
import { RegistryDir } from "../registry_dir/registry_dir.ts";
import type { Store, Target } from "../store.ts";
import { checkHook, type ImageCheck } from "./signature_policy.ts";
import {
  archiveDestination,
  type ArchiveTransport,
  formatLocation,
  withReference,
} from "./location.ts";

/** An image to read from somewhere other than a registry (a `tar.txt` archive line). */
export interface ArchiveSource {
  /** Names the source in messages (`docker-archive:/ctx/images/skopeo/a.tar`). */
  label: string;
  /** Opens the archive: the store and the reference of the image to save from it. */
  open(): Promise<{ store: Store; reference: string }>;
  /** Repository path in the registry directory (`library/app`). */
  repository: string;
  /** Tag in the registry directory. */
  tag: string;
}

/**
 * An archive line of a context (`images/skopeo/tar.txt`, discovery's `ArchiveEntry`) or of
 * `--tars` as a save job source: its format, path, and `repository:tag` in the registry directory.
 */
export function archiveSource(
  entry: { transport: ArchiveTransport; path: string; destination: string },
): ArchiveSource {
  return {
    label: `${entry.transport}:${entry.path}`,
    ...archiveDestination(entry.destination),
    open: async () => {
      // Loaded only for archives: a save of registry images needs none of the archive code.
      const { openArchive } = await import("../archive/mod.ts");
      const store = await openArchive(entry.path, { format: entry.transport });
      const images = await store.images();
      if (images.length !== 1) {
        await store.close();
        throw new FerryError(
          "invalid_input",
          `${entry.transport}:${entry.path}: holds ${images.length} images; a ${entry.transport} line must name an archive of exactly one`,
        );
      }
      return { store, reference: images[0].descriptor.digest };
    },
  };
}

/** Options of {@link saveImages}. */
export interface SaveOptions {
  /** The registry directory (created if missing). */
  registryDir: string;
  /** Image references, as written in a context or on the command line. */
  images: string[];
  /** Archives to save too. */
  archives?: ArchiveSource[];
  /** Platforms to keep from multi-platform images. */
  platforms: Platform[];
  /** Keep every platform (the whole index). */
  all?: boolean;
  /** Save signatures, SBOMs and attestations too (default true). */
  referrers?: boolean;
  /** Images copied at once (Sealos's `--max-pull-procs`, default 5). */
  maxParallel?: number;
  /** Registry access. */
  client: RegistryClient;
  /** Progress. */
  onEvent?: (event: SaveEvent) => void;
  /** Non-fatal problems (name collisions). */
  warn?: (message: string) => void;
  /** Checks each image at its source before it is saved (a signature policy). */
  check?: ImageCheck;
}

/** Events of a save: the copy engine's plus one per finished image. */
export type SaveEvent =
  | CopyEvent
  /** `source` and `destination` are location strings (see `formatLocation`). */
  | { type: "image-done"; source: string; destination: string; digest: string; mediaType: string }
  | { type: "image-failed"; source: string; error: string };

/** One saved image. */
export interface SavedImage {
  /** The image read, as a location string (`docker://…`, or the archive's `label`). */
  source: string;
  /** The image written: `registry-dir:DIR:REPOSITORY:TAG` (or `@DIGEST`), DIR absolute. */
  destination: string;
  /** Repository path in the registry directory. */
  repository: string;
  /** Tag written, if any (digest-only references get none). */
  tag?: string;
  /** What the tag (or digest reference) resolves to. */
  root: Descriptor;
  /** Single-platform manifests stored. */
  images: Descriptor[];
  /** Signatures, SBOMs and attestations stored with it. */
  referrers: CopiedReferrer[];
}

interface Job {
  /** Names the image in messages (as given). */
  label: string;
  /** The image read, as a location string. */
  source: string;
  repository: string;
  tag?: string;
  /**
   * Starts, once, what the job can do before its turn: resolving a remote image's manifest (and
   * fetching its token), so that its blobs start as soon as a slot frees.
   */
  prefetch?: (dst: Target) => void;
  /** Copies the image into `dst` and points {@link tag} at it (last, after its signatures' tags). */
  run: (dst: Target) => Promise<CopyResult>;
}

/** An image that could not be saved. */
export interface FailedImage {
  /** The image read, as a location string (`docker://…`, or the archive's `label`). */
  source: string;
  /** Why (as the `image-failed` event says it). */
  error: string;
}

/** What {@link saveImagesSettled} did: the images saved and those that failed. */
export interface SaveOutcome {
  /** Sorted by source. */
  saved: SavedImage[];
  /** In the order they failed. */
  failed: FailedImage[];
  /** When any image failed: the error {@link saveImages} throws, naming every failure. */
  error?: FerryError;
}

/**
 * Saves every image into the registry directory. Images are copied in parallel; one failing
 * image does not stop the others, and the error names every failure. What finished is kept, so a
 * rerun only fetches what is missing.
 */
export async function saveImages(options: SaveOptions): Promise<SavedImage[]> {
  const { saved, error } = await saveImagesSettled(options);
  if (error) throw error;
  return saved;
}

/**
 * {@link saveImages}, resolving to what was saved and what failed (with the error it would
 * throw) instead of throwing when images fail: a caller reports both. Fails as a whole only when
 * nothing could start (the directory cannot be opened, an image reference is invalid).
 */
export async function saveImagesSettled(options: SaveOptions): Promise<SaveOutcome> {
  const refs = options.images.map((text) => ({ text, ref: parseReference(text) }));
  warnCollisions(refs.map((r) => r.ref), options.warn);
  // Each registry is probed (scheme, authentication) while the directory opens.
  for (const registry of new Set(refs.map((r) => r.ref.registry))) {
    options.client.registry(registry).connect().catch(() => {});
  }
  const dir = await RegistryDir.open(options.registryDir);
  const engine = new CopyEngine({ onEvent: options.onEvent });
  const copyOptions = {
    platforms: options.platforms,
    all: options.all,
    indexSubset: "sparse" as const,
    referrers: options.referrers,
  };

  const jobs: Job[] = refs.map(({ text, ref }) => {
    const source = formatLocation(
      withReference({ transport: "docker", ...ref }, manifestReference(ref)),
    );
    const src = options.client.registry(ref.registry).repository(ref.repository);
    const reference = manifestReference(ref);
    const tag = ref.tag ?? (ref.digest ? undefined : "latest");
    let root: Promise<Descriptor> | undefined;
    const resolveRoot = (dst: Target) =>
      root ??= (async () => {
        // A first save reads the manifest anyway: one GET resolves and reads it (kept by `src`
        // for the copy). A rerun (the directory holds the reference) asks with HEAD, which
        // Docker Hub does not count as a pull.
        const held = await dst.resolve(reference).then(() => true, () => false);
        const resolved = src.resolve(reference, { withContent: !held });
        // The repository's tag list (where its signatures are looked up) is asked alongside the
        // manifest, right after it: the manifest is what the image's blobs wait for.
        engine.prepare(src, copyOptions);
        // Blobs will follow a first save's manifest: the hasher loads while the requests are on
        // their way, not once the manifest is in.
        if (!held) preloadSha256();
        return await resolved;
      })();
    return {
      label: text,
      source,
      repository: ref.repository,
      tag,
      // A failure is reported when the job runs and awaits the same promise.
      prefetch: (dst) => void resolveRoot(dst).catch(() => {}),
      run: async (dst: Target) => {
        const root = await resolveRoot(dst);
        await options.check?.({ target: src, root, label: source });
        // The engine writes the tag: after, and where it can with, the tags of what belongs to it.
        return engine.copyDescriptor(src, root, dst, {
          ...copyOptions,
          label: source,
          tags: tag ? [tag] : [],
        });
      },
    };
  });
  for (const archive of options.archives ?? []) {
    jobs.push({
      label: archive.label,
      source: archive.label,
      repository: archive.repository,
      tag: archive.tag,
      run: async (dst) => {
        const { store, reference } = await archive.open();
        try {
          const src = store.repository("");
          return await engine.copy(src, reference, dst, {
            ...copyOptions,
            label: archive.label,
            tags: [archive.tag],
            beforeCopy: checkHook(options.check, { target: src, label: archive.label }),
          });
        } finally {
          await store.close();
        }
      },
    });
  }

  const saved: SavedImage[] = [];
  const width = options.maxParallel ?? 5;
  const run = async (job: Job) => {
    // This job's requests go first: the first of a round takes the connection already open.
    const dst = dir.repository(job.repository);
    const copied = job.run(dst);
    // The job `width` places further on resolves now, while this one copies: at most `width`
    // images are resolved ahead of their turn.
    const ahead = jobs[jobs.indexOf(job) + width];
    ahead?.prefetch?.(dir.repository(ahead.repository));
    const { root, images, referrers } = await copied;
    const destination = formatLocation({
      transport: "registry-dir",
      path: options.registryDir,
      repository: job.repository,
      ...(job.tag ? { tag: job.tag } : { digest: root.digest }),
    });
    saved.push({
      source: job.source,
      destination,
      repository: job.repository,
      tag: job.tag,
      root,
      images,
      referrers,
    });
    options.onEvent?.({
      type: "image-done",
      source: job.source,
      destination,
      digest: root.digest,
      mediaType: root.mediaType,
    });
  };
  let failed: BoundedFailure<Job>[];
  try {
    failed = await runBounded(jobs, {
      width,
      run,
      onFailure: (job, err) =>
        options.onEvent?.({ type: "image-failed", source: job.source, error: errorMessage(err) }),
    });
  } finally {
    await dir.close();
  }
  const failures = failed.map(({ item, error }) => `${item.label}: ${errorMessage(error)}`);
  saved.sort((a, b) => a.source < b.source ? -1 : a.source > b.source ? 1 : 0);
  return {
    saved,
    failed: failed.map(({ item, error }) => ({
      source: item.source,
      error: errorMessage(error),
    })),
    ...(failures.length === 0 ? {} : {
      error: failures.length === 1 && jobs.length === 1
        ? new FerryError("registry", failures[0])
        : failedImagesError(failures, jobs.length),
    }),
  };
}

/**
 * The registry directory names repositories by path alone (Sealos's rule), so `docker.io/x/y` and
 * `quay.io/x/y` land in one repository; say so, since a shared tag then points at whichever came last.
 */
function warnCollisions(refs: Reference[], warn?: (message: string) => void): void {
  const byRepo = new Map<string, Reference[]>();
  for (const ref of refs) byRepo.set(ref.repository, [...(byRepo.get(ref.repository) ?? []), ref]);
  for (const [repo, group] of byRepo) {
    const registries = new Set(group.map((r) => r.registry));
    if (registries.size < 2) continue;
    const tags = group.map((r) => r.tag ?? (r.digest ? undefined : "latest")).filter(Boolean);
    const clash = tags.length !== new Set(tags).size;
    warn?.(
      `${group.map((r) => formatReference(r)).join(" and ")} are all saved as repository ${repo}` +
        (clash ? "; they share a tag, so it points at whichever is saved last" : ""),
    );
  }
}
