/**
 * Images a build or a merge reads (FROM, COPY --from, merge inputs): found in the local image
 * store, else pulled into it from their registry, for one platform.
 *
 * @module
 */
import type { CopyEvent } from "../copy/mod.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { type ImageStore, pullImage } from "../image_store/mod.ts";
import { readConfig, readManifest } from "../image_store/describe.ts";
import type { Descriptor, ImageManifest } from "../manifest.ts";
import { formatPlatform, type Platform, platformMatches } from "../platform.ts";
import { tryParseReference } from "../reference.ts";
import type { RegistryClient } from "../remote/mod.ts";
import type { ImageCheck } from "../transfer/signature_policy.ts";

/** One single-platform image, read from the store. */
export interface ResolvedImage {
  /** The reference as written. */
  ref: string;
  /** The stored name it was found under, when found by name. */
  name?: string;
  /** The single-platform manifest's descriptor. */
  descriptor: Descriptor;
  /** The parsed manifest. */
  manifest: ImageManifest;
  /** The config document. */
  config: Record<string, unknown>;
}

/** Options of {@link ImageResolver}. */
export interface ImageResolverOptions {
  /** Registry access for pulls; without it, only stored images can be used. */
  client?: RegistryClient;
  /** Every platform the caller will ask for: a pull fetches them all at once. */
  platforms: Platform[];
  /** Progress of pulls. */
  onEvent?: (event: CopyEvent) => void;
  /** Told when an image is pulled. */
  onPull?: (ref: string) => void;
  /** Checks an image at its registry before it is pulled (`--verify-key`). */
  check?: ImageCheck;
}

function configPlatformMatches(config: Record<string, unknown>, want: Platform): boolean {
  if (typeof config.os !== "string" || typeof config.architecture !== "string") return true;
  return platformMatches({
    os: config.os,
    architecture: config.architecture,
    ...(typeof config.variant === "string" ? { variant: config.variant } : {}),
  }, want);
}

/** Finds images in the store, pulling each missing one once. */
export class ImageResolver {
  readonly #store: ImageStore;
  readonly #options: ImageResolverOptions;
  readonly #pulled = new Map<string, Promise<void>>();

  /** A resolver over `store`. */
  constructor(store: ImageStore, options: ImageResolverOptions) {
    this.#store = store;
    this.#options = options;
  }

  /**
   * The image `ref` for `platform`: from the store when it holds that platform, else pulled.
   *
   * @throws {FerryError} `invalid_reference` for a name that does not parse, `not_found` when
   *   the image or its platform is found nowhere.
   */
  async get(ref: string, platform: Platform): Promise<ResolvedImage> {
    const local = await this.#fromStore(ref, platform);
    if (local) return local;
    const parsed = tryParseReference(ref);
    if (!parsed) {
      await this.#store.resolve(ref); // throws the parse error
      throw new FerryError("invalid_reference", `invalid image reference ${JSON.stringify(ref)}`);
    }
    if (parsed.registry === "localhost" || !this.#options.client) {
      throw new FerryError(
        "not_found",
        `image ${ref} (${formatPlatform(platform)}) is not in the image store` +
          (parsed.registry === "localhost" ? "" : " and pulling is off"),
      );
    }
    let pull = this.#pulled.get(ref);
    if (!pull) {
      this.#options.onPull?.(ref);
      pull = pullImage(this.#store, ref, {
        client: this.#options.client,
        platforms: this.#options.platforms,
        onEvent: this.#options.onEvent,
        // A base image's signatures do not belong to the image built on it.
        referrers: false,
        check: this.#options.check,
      }).then(() => {});
      this.#pulled.set(ref, pull);
    }
    await pull;
    const pulled = await this.#fromStore(ref, platform);
    if (!pulled) {
      throw new FerryError(
        "not_found",
        `${ref}: no image for platform ${formatPlatform(platform)}`,
      );
    }
    return pulled;
  }

  async #fromStore(ref: string, platform: Platform): Promise<ResolvedImage | undefined> {
    let found;
    try {
      found = await this.#store.resolve(ref);
    } catch (err) {
      if (isFerryError(err, "not_found")) return undefined;
      throw err;
    }
    const target = this.#store.target();
    const where = found.name ?? ref;
    let desc = found.descriptor;
    let manifest = await readManifest(target, desc);
    if (manifest.kind === "index") {
      let chosen: Descriptor | undefined;
      for (const child of manifest.manifests) {
        if (platformMatches(child.platform, platform) && await target.exists(child)) {
          chosen = child;
          break;
        }
      }
      if (!chosen) return undefined;
      desc = chosen;
      manifest = await readManifest(target, desc);
      if (manifest.kind !== "manifest") {
        throw new FerryError("unsupported", `${where}: nested image indexes are not supported`);
      }
    }
    for (const blob of [manifest.config, ...manifest.layers]) {
      if (!(await target.exists(blob))) return undefined;
    }
    const config = await readConfig(target, manifest.config);
    if (!configPlatformMatches(config, platform)) return undefined;
    return {
      ref,
      ...(found.name !== undefined ? { name: found.name } : {}),
      descriptor: desc,
      manifest,
      config,
    };
  }
}
