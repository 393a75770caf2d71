/**
 * Options, events and results of a build.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import type { ImageStore } from "../image_store/mod.ts";
import type { Descriptor } from "../manifest.ts";
import type { Platform } from "../platform.ts";
import type { RegistryClient } from "../remote/mod.ts";
import type { SaveEvent } from "../transfer/save.ts";
import type { ImageCheck } from "../transfer/signature_policy.ts";

/** Layer compression: deterministic gzip, or plain tar (the digest is then the diffID). */
export type Compression = "gzip" | "none";

/** Options of {@link build}. */
export interface BuildOptions {
  /** The build context directory. */
  context: string;
  /** The local image store the result goes into (the caller opens and closes it). */
  store: ImageStore;
  /**
   * Instruction files (`-f`, in order); default: every existing one of Sealfile, Kubefile,
   * Dockerfile and Containerfile in the context.
   */
  files?: string[];
  /** Names for the image (`-t`); an unqualified name becomes `localhost/<name>:latest`. */
  tags?: string[];
  /** Platforms to build (several → an image index); default: this host's. */
  platforms?: Platform[];
  /** `--build-arg` values. */
  buildArgs?: Record<string, string>;
  /** `--label` values, applied last. */
  labels?: Record<string, string>;
  /** Save the context's images into `CONTEXT/registry` first (default true). */
  saveImages?: boolean;
  /** Save their signatures, SBOMs and attestations too (default true). */
  referrers?: boolean;
  /**
   * Checks each image entering the build at its registry before anything of it is written
   * (`--verify-key`): the context's images saved into `registry/`, and FROM / COPY --from images
   * pulled. Images already in the local store are used as they are.
   */
  check?: ImageCheck;
  /** Images saved at once (default 5). */
  maxPullProcs?: number;
  /** Save every platform of multi-platform images, and copy all of them into every image. */
  all?: boolean;
  /** Registry access (saving images, pulling base images); without it nothing is fetched. */
  client?: RegistryClient;
  /** Layer compression (default gzip). */
  compression?: Compression;
  /**
   * Threads compressing a layer (default: the CPUs, at most 4). Output does not depend on it;
   * 1 keeps memory lowest.
   */
  compressionThreads?: number;
  /**
   * Seconds since the epoch (SOURCE_DATE_EPOCH): the image's creation time, and the clamp for
   * every modification time in its layers. Same context and timestamp → same digest.
   */
  timestamp?: number;
  /** Reuse layers whose inputs did not change (default true). */
  cache?: boolean;
  /** Treat unusable context entries found while discovering images as errors. */
  strict?: boolean;
  /** Also save images the context names only in env values or container args. */
  includeReferenced?: boolean;
  /** Progress. */
  onEvent?: (event: BuildEvent) => void;
  /** Non-fatal problems. */
  warn?: (message: string) => void;
  /** Information worth one line (referenced-only images left out). */
  notice?: (message: string) => void;
}

/** Progress of a build: the image saver's events plus the build's own. */
export type BuildEvent =
  | SaveEvent
  /** An instruction starts (`STEP 2/4: COPY . .`). */
  | { type: "step"; platform: string; step: number; steps: number; text: string }
  /** A layer was written, or reused from the cache. */
  | {
    type: "layer";
    platform: string;
    digest: Digest;
    size: number;
    diffId: Digest;
    cached: boolean;
  }
  /** An image is being pulled into the store. */
  | { type: "pull"; image: string }
  /** A platform's image is stored. */
  | { type: "built"; platform: string; digest: Digest; config: Digest };

/** A layer of a built image. */
export interface BuiltLayer {
  /** As the manifest lists it. */
  descriptor: Descriptor;
  /** Digest of the uncompressed tar (`rootfs.diff_ids`). */
  diffId: Digest;
  /** Reused from the layer cache (or the base image) instead of written. */
  reused: boolean;
}

/** One platform's image of a build. */
export interface PlatformImage {
  /** The platform built. */
  platform: Platform;
  /** The manifest. */
  descriptor: Descriptor;
  /** The config blob. */
  config: Descriptor;
  /** The layers, base first. */
  layers: BuiltLayer[];
}

/** What {@link build} stored. */
export interface BuildResult {
  /** The image: a manifest, or an index for several platforms. */
  descriptor: Descriptor;
  /** The names it was stored under (empty: stored under its digest). */
  names: string[];
  /** Per-platform images. */
  images: PlatformImage[];
  /** Images saved into `CONTEXT/registry` (0 when saving was off or found nothing). */
  savedImages: number;
}
