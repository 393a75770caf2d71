/**
 * `ferry merge`: one cluster image whose file system is the inputs' overlaid in order (their
 * `registry/` trees merge, being content addressed), with Sealos's config rules (see
 * merge_config.ts).
 *
 * Sealos merges by `COPY --from=<image> . .` per input, which flattens every input into one new
 * layer. ferry reuses the inputs' layers instead, which gives the same file system without reading
 * or writing a byte of them, wherever that is provably the same:
 *
 * - the first input's layers are always reused (its whiteouts only act on its own layers);
 * - a later input's layers are reused when none of them holds a whiteout: stacking such layers on
 *   top of the earlier inputs adds and replaces files exactly as copying the input's file system
 *   would;
 * - when the layers merged so far are the first layers of the next input (it was built FROM the
 *   previous image), only its remaining layers are added: applying a stack again on top of its own
 *   result changes nothing;
 * - a later input whose layers hold whiteouts would delete files of the earlier inputs, which a
 *   copy never does: that input is flattened into one new layer (streamed from its layers, never
 *   unpacked to disk), as Sealos does.
 *
 * Whether a layer holds whiteouts is recorded in the store's layer cache when ferry writes it, and
 * learnt once by reading it otherwise.
 *
 * @module
 */
import {
  configBlob,
  type HistoryEntry,
  type ImageConfig,
  ImageResolver,
  LayerCache,
  LayerStack,
  manifestBlob,
  type ResolvedImage,
  rfc3339,
  storeJson,
  storeLayer,
} from "../builder/mod.ts";
import { consistentHistory, ociLayerType } from "../builder/config.ts";
import type { CopyEvent } from "../copy/mod.ts";
import { type Digest, sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { type ImageStore, localImageName } from "../image_store/mod.ts";
import { readLayer, writeLayer } from "../layer/mod.ts";
import type { Descriptor } from "../manifest.ts";
import { OCI_LAYER_GZIP, OCI_LAYER_TAR } from "../media_types.ts";
import { hostPlatform, type Platform } from "../platform.ts";
import type { RegistryClient } from "../remote/mod.ts";
import { mergeRunConfigs } from "./merge_config.ts";

/** Options of {@link mergeImages}. */
export interface MergeOptions {
  /** The local image store (opened and closed by the caller). */
  store: ImageStore;
  /** Input images, in order (at least two): stored names or references to pull. */
  images: string[];
  /** Names for the result (at least one); unqualified names get `localhost/`. */
  tags: string[];
  /** The platform taken from multi-platform inputs (default: this host's). */
  platform?: Platform;
  /** Registry access for pulling inputs the store lacks. */
  client?: RegistryClient;
  /** Compression of layers written for flattened inputs (default gzip). */
  compression?: "gzip" | "none";
  /** Threads compressing such layers (default: the CPUs, at most 4). */
  compressionThreads?: number;
  /** Creation time and mtime clamp (seconds since the epoch), as for build. */
  timestamp?: number;
  /** Progress. */
  onEvent?: (event: MergeEvent) => void;
}

/** Progress of a merge. */
export type MergeEvent =
  | CopyEvent
  | { type: "pull"; image: string }
  /** How an input's layers went into the result. */
  | { type: "input"; image: string; reused: number; skipped: number; flattened: boolean };

/** A layer of the merged image and where it came from. */
export interface MergedLayer {
  /** As the manifest lists it. */
  descriptor: Descriptor;
  /** Digest of the uncompressed tar. */
  diffId: Digest;
  /** The input image it belongs to, as given. */
  image: string;
  /** Taken from the input as it is, rather than written by this merge (a flattened input). */
  reused: boolean;
}

/** What {@link mergeImages} stored. */
export interface MergeResult {
  /** The merged image's manifest. */
  descriptor: Descriptor;
  /** Its platform (the one taken from multi-platform inputs). */
  platform: Platform;
  /** Its names. */
  names: string[];
  /** The config blob. */
  config: Descriptor;
  /** The layers, base first. */
  layers: MergedLayer[];
}

/** Whether a layer holds whiteouts or opaque markers (recorded in the cache once known). */
async function hasWhiteouts(
  store: ImageStore,
  cache: LayerCache,
  layer: Descriptor,
): Promise<boolean> {
  const known = await cache.whiteouts(layer.digest);
  if (known !== undefined) return known;
  const target = store.target();
  let found = false;
  for await (
    const entry of readLayer(await target.fetch(layer), {
      where: `${target.location}@${layer.digest}`,
    })
  ) {
    if (entry.kind === "whiteout" || entry.kind === "opaque") {
      found = true;
      break;
    }
  }
  cache.setWhiteouts(layer.digest, found);
  return found;
}

/** An input with its layers as the merged manifest lists them. */
interface Input {
  ref: string;
  image: ResolvedImage;
  layers: { descriptor: Descriptor; diffId: Digest; history: HistoryEntry }[];
}

function inputOf(ref: string, image: ResolvedImage): Input {
  const rootfs = image.config.rootfs as { diff_ids?: unknown } | undefined;
  const diffIds = Array.isArray(rootfs?.diff_ids) ? rootfs.diff_ids as Digest[] : [];
  const layers = image.manifest.layers;
  if (diffIds.length !== layers.length) {
    throw new FerryError(
      "invalid_input",
      `${ref}: config lists ${diffIds.length} diff IDs for ${layers.length} layers`,
    );
  }
  const history = consistentHistory(
    Array.isArray(image.config.history) ? image.config.history as HistoryEntry[] : [],
    layers.length,
  ).filter((h) => h.empty_layer !== true);
  return {
    ref,
    image,
    layers: layers.map((l, i) => ({
      descriptor: {
        mediaType: ociLayerType(l.mediaType),
        digest: l.digest,
        size: l.size,
        ...(l.urls ? { urls: l.urls } : {}),
      },
      diffId: diffIds[i],
      history: history[i],
    })),
  };
}

/**
 * Merges images into one, stored under `tags`.
 *
 * @throws {FerryError} `usage` for fewer than two images or no tag; `invalid_reference` for a
 *   name that does not parse; `not_found` for an image (or its platform) found nowhere.
 */
export async function mergeImages(options: MergeOptions): Promise<MergeResult> {
  if (options.images.length < 2) {
    throw new FerryError("usage", "merge needs at least two images");
  }
  if (options.tags.length === 0) throw new FerryError("usage", "merge needs a name (-t NAME)");
  const names = [...new Set(options.tags.map((t) => localImageName(t)))];
  const { store } = options;
  const platform = options.platform ?? hostPlatform();
  const compression = options.compression ?? "gzip";
  const mediaType = compression === "gzip" ? OCI_LAYER_GZIP : OCI_LAYER_TAR;
  const created = options.timestamp !== undefined
    ? rfc3339(options.timestamp)
    : new Date().toISOString();
  const resolver = new ImageResolver(store, {
    client: options.client,
    platforms: [platform],
    onEvent: options.onEvent,
    onPull: (image) => options.onEvent?.({ type: "pull", image }),
  });
  const inputs: Input[] = [];
  for (const ref of options.images) {
    try {
      inputs.push(inputOf(ref, await resolver.get(ref, platform)));
    } catch (err) {
      if (!isFerryError(err) || err.message.includes(ref)) throw err;
      throw new FerryError(err.code, `${ref}: ${err.message}`, { cause: err });
    }
  }

  const cache = new LayerCache(store.root);
  const layers: MergedLayer[] = [];
  const history: HistoryEntry[] = [];
  try {
    for (const [k, input] of inputs.entries()) {
      let skip = 0;
      if (
        k > 0 && layers.length <= input.layers.length &&
        layers.every((l, i) => l.diffId === input.layers[i].diffId)
      ) skip = layers.length;
      const rest = input.layers.slice(skip);
      let clean = true;
      if (k > 0) {
        for (const l of rest) {
          if (await hasWhiteouts(store, cache, l.descriptor)) {
            clean = false;
            break;
          }
        }
      }
      if (clean) {
        for (const l of rest) {
          layers.push({
            descriptor: l.descriptor,
            diffId: l.diffId,
            image: input.ref,
            reused: true,
          });
          history.push(l.history);
        }
        options.onEvent?.({
          type: "input",
          image: input.ref,
          reused: rest.length,
          skipped: skip,
          flattened: false,
        });
        continue;
      }
      const flat = await flatten(store, cache, input, {
        compression,
        threads: options.compressionThreads,
        timestamp: options.timestamp,
        mediaType,
      });
      layers.push({ ...flat, image: input.ref, reused: false });
      history.push({ created, created_by: `/bin/sh -c #(nop) COPY --from=${input.ref} . . ` });
      options.onEvent?.({
        type: "input",
        image: input.ref,
        reused: 0,
        skipped: 0,
        flattened: true,
      });
    }
  } finally {
    await cache.flush().catch(() => {});
  }

  const run = mergeRunConfigs(
    inputs.map((i) => (i.image.config.config ?? {}) as Record<string, unknown>),
  );
  const config: ImageConfig = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: run,
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history,
  };
  const note = (text: string) =>
    history.push({ created, created_by: `/bin/sh -c #(nop) ${text}`, empty_layer: true });
  if (run.Labels) {
    note(`LABEL ${Object.entries(run.Labels).map(([k, v]) => `${k}=${v}`).join(" ")}`);
  }
  if (run.Env) note(`ENV ${run.Env.join(" ")}`);
  if (run.Entrypoint) note(`ENTRYPOINT ${JSON.stringify(run.Entrypoint)}`);
  if (run.Cmd) note(`CMD ${JSON.stringify(run.Cmd)}`);

  const cfg = await configBlob(config);
  await storeJson(store, cfg);
  const manifest = await manifestBlob(cfg.descriptor, layers.map((l) => l.descriptor));
  await storeJson(store, manifest);
  for (const name of names) await store.setName(manifest.descriptor, name);
  return { descriptor: manifest.descriptor, platform, names, config: cfg.descriptor, layers };
}

/** Writes an input's file system as one layer without whiteouts (cached by its diff IDs). */
async function flatten(
  store: ImageStore,
  cache: LayerCache,
  input: Input,
  options: {
    compression: "gzip" | "none";
    threads?: number;
    timestamp?: number;
    mediaType: string;
  },
): Promise<{ descriptor: Descriptor; diffId: Digest }> {
  const key = await sha256(JSON.stringify({
    kind: "merge-flatten",
    layers: input.layers.map((l) => l.diffId),
    compression: options.compression,
    clamp: options.timestamp ?? null,
  }));
  const hit = await cache.get(key);
  const target = store.target();
  if (
    hit && hit.mediaType === options.mediaType &&
    await target.exists({ mediaType: hit.mediaType, digest: hit.digest, size: hit.size })
  ) {
    return {
      descriptor: { mediaType: hit.mediaType, digest: hit.digest, size: hit.size },
      diffId: hit.diffId,
    };
  }
  const stack = new LayerStack(target, input.layers.map((l) => l.descriptor));
  const result = await storeLayer(
    store,
    writeLayer(stack.entries((p) => [p], { where: input.ref }), {
      compression: options.compression,
      mtime: options.timestamp,
      threads: options.threads,
    }),
  );
  const descriptor = { mediaType: options.mediaType, digest: result.digest, size: result.size };
  cache.put(key, { ...descriptor, diffId: result.diffId });
  cache.setWhiteouts(result.digest, false);
  return { descriptor, diffId: result.diffId };
}
