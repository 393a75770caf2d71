/**
 * Copying images between any two locations (`ferry copy`, `registry copy`, `registry sync`), over
 * the one copy engine.
 *
 * @module
 */
import { CopyEngine, type CopyEvent, type CopyResult } from "../copy/mod.ts";
import { isReferrerTag, warnDockerArchiveReferrers } from "../copy/referrers.ts";
import { errorMessage, type FerryError } from "../errors.ts";
import { failedImagesError, runBounded } from "../limit.ts";
import { hostPlatform, type Platform } from "../platform.ts";
import { defaultRegistryClient, type RegistryClient } from "../remote/mod.ts";
import { repositoryOfRefName } from "../oci_layout/ref_name.ts";
import { isRepositoryName, isTag } from "../reference.ts";
import { finishStore, type Store } from "../store.ts";
import { type Location, parseLocation, repositoryLocation } from "./location.ts";
import { checkHook, type ImageCheck, isArtifactTag, signatureHomes } from "./signature_policy.ts";
import { openDestination, type Opened, openSource } from "./transport.ts";

/** Options of {@link copyImage}. */
export interface TransferOptions {
  /** Client for a `docker://` source. */
  sourceClient: RegistryClient;
  /** Client for a `docker://` destination (separate credentials: Sealos issue 4802). */
  destinationClient: RegistryClient;
  /** Platforms of a multi-platform source copied. */
  platforms: Platform[];
  /** Copy every platform of a multi-platform source. */
  all?: boolean;
  /** Copy signatures, SBOMs and attestations too (default true; see `CopyOptions.referrers`). */
  referrers?: boolean;
  /** Receives one line for what cannot be copied (referrers into a docker-archive). */
  warn?: (message: string) => void;
  /** Shares de-duplication across several copies. */
  engine?: CopyEngine;
  /** Progress of the copy (ignored when `engine` is given: it has its own). */
  onEvent?: (event: CopyEvent) => void;
  /** Checks each image at the source before it is copied (a signature policy). */
  check?: ImageCheck;
}

/** What one copy did. */
export interface TransferResult extends CopyResult {
  /** The image read, as a location string (see `formatLocation`). */
  source: string;
  /** The image written, as a location string. */
  destination: string;
  /** Tag written at the destination. */
  tag?: string;
}

/** An image a sync could not copy. */
export interface SyncFailure {
  /** The image, as a location string. */
  source: string;
  /** One line. */
  error: string;
}

/**
 * The full name of the image `source` names, when it has one: a registry image by tag
 * (`docker.io/library/nginx:1.27`), or a layout or archive image whose ref name is one.
 */
function nameOf(source: Location): { name?: string } {
  if (source.transport === "docker") {
    return source.tag ? { name: `${source.registry}/${source.repository}:${source.tag}` } : {};
  }
  if (source.transport === "registry-dir") return {};
  const ref = source.ref;
  return ref !== undefined && repositoryOfRefName(ref) !== undefined ? { name: ref } : {};
}

/** Copies one image from `source` to `destination`. */
export async function copyImage(
  source: Location,
  destination: Location,
  options: TransferOptions,
): Promise<TransferResult> {
  const src = await openSource(source, options.sourceClient);
  let dst: Opened | undefined;
  let ok = false;
  try {
    const defaultTag = "tag" in source && source.tag
      ? source.tag
      : "ref" in source && source.ref && !source.ref.startsWith("@") && !source.ref.includes(":")
      ? source.ref
      : "latest";
    dst = await openDestination(destination, options.destinationClient, {
      tag: defaultTag,
      ...nameOf(source),
    });
    const referrers = options.referrers !== false && destination.transport !== "docker-archive";
    const engine = options.engine ?? new CopyEngine({ onEvent: options.onEvent });
    const result = await engine.copy(src.target, src.reference!, dst.target, {
      platforms: options.platforms,
      all: options.all,
      indexSubset: dst.sparseIndexes ? "sparse" : "filter",
      skipMissingChildren: src.sparseIndexes,
      tags: dst.tag ? [dst.tag] : [],
      label: src.location,
      beforeCopy: checkHook(options.check, {
        target: src.target,
        signatures: signatureHomes(source, src.store, src.target, src.reference!),
        label: src.location,
      }),
      referrers,
    });
    if (options.referrers !== false && !referrers) {
      await warnDockerArchiveReferrers(src.target, result.root, src.location, options.warn);
    }
    ok = true;
    return { ...result, source: src.location, destination: dst.location, tag: dst.tag };
  } finally {
    await src.store.close();
    if (dst) await finishStore(dst.store, ok);
  }
}

/** Options of {@link syncRegistries}. */
export interface SyncOptions extends TransferOptions {
  /** Repositories copied at once. */
  maxParallel?: number;
  /** Receives one line per image that failed, and for a source without tagged images. */
  warn?: (message: string) => void;
  /** Told about each image copied. */
  onImage?: (result: TransferResult) => void;
}

/**
 * Copies every tag of every repository of `source` (a registry or registry directory) into
 * `destination`, with what belongs to each image (unless `referrers` is false); the tags naming
 * only that (`sha256-<hex>.sig`, `sha256-<hex>`) are not images of their own. Failed images are
 * reported and counted; the rest still copy.
 */
export async function syncRegistries(
  source: Store,
  destination: Store,
  options: SyncOptions,
): Promise<{ copied: number; failed: SyncFailure[] }> {
  const engine = options.engine ?? new CopyEngine({ onEvent: options.onEvent });
  const jobs: { repo: string; tag: string }[] = [];
  // Names the source lists are its word: one that is no name is not asked for (a request path
  // built of `..`), and is a failure of its own.
  const invalid: SyncFailure[] = [];
  const refuse = (what: string, why: string) => {
    options.warn?.(`${what}: ${why}`);
    invalid.push({ source: what, error: why });
  };
  for (const repo of await source.repositories()) {
    if (!isRepositoryName(repo)) {
      refuse(
        `${source.location}/${JSON.stringify(repo)}`,
        "the source lists this as a repository, but it is not a valid repository name",
      );
      continue;
    }
    for (const tag of await source.repository(repo).tags()) {
      if (!isTag(tag)) {
        refuse(
          `${source.location}/${repo}:${JSON.stringify(tag)}`,
          "the source lists this as a tag, but it is not a valid tag",
        );
        continue;
      }
      // Cosign and fallback tags name what belongs to images: copied with them, or left out.
      if (!isReferrerTag(tag)) jobs.push({ repo, tag });
    }
  }
  let copied = 0;
  const label = (job: { repo: string; tag: string }) =>
    repositoryLocation(source, job.repo, job.tag);
  const failures = await runBounded(jobs, {
    width: options.maxParallel ?? 5,
    run: async (job) => {
      const result = await engine.copy(
        source.repository(job.repo),
        job.tag,
        destination.repository(job.repo),
        {
          platforms: options.platforms,
          all: options.all ?? true,
          indexSubset: "filter",
          skipMissingChildren: true,
          tags: [job.tag],
          label: label(job),
          beforeCopy: checkHook(isArtifactTag(job.tag) ? undefined : options.check, {
            target: source.repository(job.repo),
            label: label(job),
          }),
          referrers: options.referrers,
        },
      );
      copied++;
      options.onImage?.({
        ...result,
        source: label(job),
        destination: repositoryLocation(destination, job.repo, job.tag),
        tag: job.tag,
      });
    },
    onFailure: (job, err) => options.warn?.(`${label(job)}: ${errorMessage(err)}`),
  });
  const failed: SyncFailure[] = [
    ...invalid,
    ...failures.map(({ item, error }) => ({ source: label(item), error: errorMessage(error) })),
  ];
  if (jobs.length === 0 && invalid.length === 0) {
    options.warn?.(`${source.location} holds no tagged images`);
  }
  return { copied, failed };
}

/** The error for a sync with failures: `N of M images failed: …`. */
export function syncError(failed: SyncFailure[], total: number): FerryError {
  return failedImagesError(failed.map((f) => `${f.source}: ${f.error}`), total);
}

/** Options of {@link copy}. */
export interface LocationCopyOptions {
  /**
   * Client for `docker://` locations, at either end. Default: {@link defaultRegistryClient}'s
   * (the containers and Docker auth files and their helpers, verified TLS), closed afterwards.
   */
  client?: RegistryClient;
  /** Platforms of a multi-platform source copied; default: this host's. */
  platforms?: Platform[];
  /** Copy every platform of a multi-platform source (`--all`). */
  all?: boolean;
  /** Copy signatures, SBOMs and attestations too (default true). */
  referrers?: boolean;
  /** Progress of the copy. */
  onEvent?: (event: CopyEvent) => void;
  /** Checks the image at the source before it is copied (see `signaturePolicy`). */
  check?: ImageCheck;
}

/**
 * Copies one image between two location strings, as `ferry copy SRC DST` does: `docker://`,
 * `registry-dir:`, `oci:`, `oci-archive:`, `docker-archive:` (a string without a transport is a
 * `docker://` reference).
 *
 * ```ts
 * await copy("docker://quay.io/org/app:1.0", "oci:./layout:app:1.0");
 * await copy("oci:./layout:app:1.0", "registry-dir:./registry:org/app:1.0", { all: true });
 * ```
 *
 * @throws {FerryError} `usage` for a location that does not parse; whatever the copy meets.
 */
export async function copy(
  source: string,
  destination: string,
  options: LocationCopyOptions = {},
): Promise<TransferResult> {
  const src = parseLocation(source);
  const dst = parseLocation(destination);
  const client = options.client ?? await defaultRegistryClient();
  try {
    return await copyImage(src, dst, {
      sourceClient: client,
      destinationClient: client,
      platforms: options.platforms ?? [hostPlatform()],
      all: options.all,
      referrers: options.referrers,
      onEvent: options.onEvent,
      check: options.check,
    });
  } finally {
    if (!options.client) await client.close();
  }
}
