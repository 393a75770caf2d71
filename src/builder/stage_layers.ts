/**
 * Writing a stage's layers into the local image store: a COPY/ADD layer written from its
 * entries or reused from the layer cache, and the layer of a stage's trailing WORKDIRs. Each
 * layer is recorded in the stage's config (diffID, history), the cache, the listings later
 * WORKDIRs consult, and a `layer` event.
 *
 * @module
 */
import { basename } from "../path.ts";
import type { Digest } from "../digest.ts";
import type { ImageStore } from "../image_store/mod.ts";
import { defaultGzipThreads, GzipWorkerPool, type LayerEntry, writeLayer } from "../layer/mod.ts";
import { OCI_LAYER_GZIP, OCI_LAYER_TAR } from "../media_types.ts";
import { addHistory } from "./config_edits.ts";
import type { LayerCache } from "./layer_cache.ts";
import type { StageState } from "./stage_state.ts";
import { storeLayer } from "./store_blobs.ts";
import type { BuildEvent, BuiltLayer, Compression } from "./types.ts";
import { LayerListings, type ListedPath } from "./workdir.ts";

/** Options of {@link StageLayers}. */
export interface StageLayersOptions {
  /** The local image store the layers are written into. */
  store: ImageStore;
  /** The layer cache (none with `--no-cache`). */
  cache?: LayerCache;
  /** `--compression`. */
  compression: Compression;
  /** `--compression-threads`. */
  compressionThreads?: number;
  /** `--timestamp`: the time every entry is clamped to. */
  timestamp?: number;
  /** The platform, as `os/arch[/variant]`, for events. */
  platform: string;
  /** The build time (RFC 3339), for history entries. */
  created: string;
  /** Receives a `layer` event for each layer added. */
  onEvent?: (event: BuildEvent) => void;
}

/** Writes (or reuses) one platform's layers. */
export class StageLayers {
  readonly #o: StageLayersOptions;
  /**
   * Compression threads shared by every layer of the platform (a COPY of `registry/` writes many
   * layers in a row: starting threads for each would cost more than compressing them).
   */
  readonly #workers: GzipWorkerPool | undefined;
  /** What each layer holds, by diffID: the paths WORKDIR finds existing. */
  readonly listings: LayerListings;

  /** Writes into `options.store`; nothing is read or written until a layer is asked for. */
  constructor(options: StageLayersOptions) {
    this.#o = options;
    this.listings = new LayerListings(options.store.target());
    const threads = options.compressionThreads ?? defaultGzipThreads();
    this.#workers = options.compression === "gzip" && threads > 1
      ? new GzipWorkerPool(threads)
      : undefined;
  }

  /** Stops the compression threads (call when the platform's layers are written). */
  close(): void {
    this.#workers?.close();
  }

  /** The media type of the layers written. */
  get mediaType(): string {
    return this.#o.compression === "gzip" ? OCI_LAYER_GZIP : OCI_LAYER_TAR;
  }

  /** A layer holding only the directories of the stage's last WORKDIRs. */
  async workdirLayer(state: StageState): Promise<void> {
    const o = this.#o;
    const entries = state.workdirs;
    const result = await storeLayer(
      o.store,
      writeLayer(entries, {
        compression: o.compression,
        mtime: o.timestamp,
        threads: o.compressionThreads,
        ...(this.#workers ? { workers: this.#workers } : {}),
      }),
    );
    this.listings.set(result.diffId, entries.map((e) => ({ path: e.path, kind: e.kind })));
    o.cache?.setWhiteouts(result.digest, false);
    state.workdirs = [];
    // The WORKDIR's history entry stands for the layer, as the last step's does in buildah.
    delete state.config.history[state.workdirHistory!].empty_layer;
    const layer: BuiltLayer = {
      descriptor: { mediaType: this.mediaType, digest: result.digest, size: result.size },
      diffId: result.diffId,
      reused: false,
    };
    state.layers.push(layer);
    state.config.rootfs.diff_ids.push(layer.diffId);
    this.#layerEvent(layer);
  }

  /**
   * Adds the cached layer of `key` when its blob is still stored; false on a miss. With
   * `workdirs` false the layer does not hold the pending WORKDIR directories (a later one does).
   */
  async reuse(
    state: StageState,
    key: Digest,
    createdBy: (diffId: Digest) => string,
    listing?: ListedPath[],
    workdirs = true,
  ): Promise<boolean> {
    const o = this.#o;
    const mediaType = this.mediaType;
    const cached = await o.cache?.get(key);
    if (
      !cached || cached.mediaType !== mediaType ||
      !await o.store.target().exists({ mediaType, digest: cached.digest, size: cached.size })
    ) return false;
    this.#add(state, cached, true, createdBy, listing, workdirs);
    return true;
  }

  /**
   * Writes a layer of `produce`'s entries into the store and adds it (with the pending WORKDIR
   * directories unless `withWorkdirs` is false).
   */
  async write(
    state: StageState,
    key: Digest,
    createdBy: (diffId: Digest) => string,
    produce: () => AsyncIterable<LayerEntry>,
    withWorkdirs = true,
  ): Promise<void> {
    const o = this.#o;
    const mediaType = this.mediaType;
    let whiteouts = false;
    const listing: ListedPath[] = [];
    const workdirs = withWorkdirs ? state.workdirs : [];
    const watched = async function* () {
      // The directories of earlier WORKDIRs come first, as they were made before the copy; the
      // copy's own entries for them are left out (buildah's copy finds them existing).
      const made = new Set(workdirs.map((d) => d.path));
      for (const d of workdirs) {
        listing.push({ path: d.path, kind: d.kind });
        yield d;
      }
      for await (const e of produce()) {
        if (e.kind === "dir" && made.has(e.path)) continue;
        if (basename(e.path).startsWith(".wh.")) whiteouts = true;
        listing.push({ path: e.path, kind: e.kind });
        yield e;
      }
    };
    const result = await storeLayer(
      o.store,
      writeLayer(watched(), {
        compression: o.compression,
        mtime: o.timestamp,
        threads: o.compressionThreads,
        ...(this.#workers ? { workers: this.#workers } : {}),
      }),
    );
    o.cache?.put(key, {
      mediaType,
      digest: result.digest,
      size: result.size,
      diffId: result.diffId,
    });
    o.cache?.setWhiteouts(result.digest, whiteouts);
    this.#add(state, result, false, createdBy, listing, withWorkdirs);
  }

  /**
   * Adds a COPY/ADD layer to the stage (holding the pending WORKDIR directories when `workdirs`),
   * noting what it lists when that is known.
   */
  #add(
    state: StageState,
    blob: { digest: Digest; size: number; diffId: Digest },
    reused: boolean,
    createdBy: (diffId: Digest) => string,
    listing: ListedPath[] | undefined,
    workdirs: boolean,
  ): void {
    if (listing) this.listings.set(blob.diffId, listing);
    if (workdirs) state.workdirs = [];
    const layer: BuiltLayer = {
      descriptor: { mediaType: this.mediaType, digest: blob.digest, size: blob.size },
      diffId: blob.diffId,
      reused,
    };
    state.layers.push(layer);
    state.config.rootfs.diff_ids.push(layer.diffId);
    addHistory(state, this.#o.created, createdBy(layer.diffId), false);
    this.#layerEvent(layer);
  }

  #layerEvent(layer: BuiltLayer): void {
    this.#o.onEvent?.({
      type: "layer",
      platform: this.#o.platform,
      digest: layer.descriptor.digest,
      size: layer.descriptor.size,
      diffId: layer.diffId,
      cached: layer.reused,
    });
  }
}
