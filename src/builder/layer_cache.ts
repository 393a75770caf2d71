/**
 * The layer cache of the local image store: `<root>/.ferry/layer-cache.json`.
 *
 * - `layers`: cache key of a COPY/ADD (a hash over the instruction and the metadata of its inputs)
 *   → the layer it produced. A hit whose blob is still in the store skips reading and tarring the
 *   inputs altogether.
 * - `facts`: layer digest → whether the layer holds whiteouts. Merges need to know (a layer
 *   without whiteouts can be reused as it is); ferry records it for every layer it writes and for
 *   every foreign layer it had to scan once.
 *
 * The file is small and advisory: it is read-modified-written under a file lock and replaced
 * atomically, so concurrent ferry processes never corrupt it; a damaged file is treated as empty.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import { writeFileAtomic } from "../fs_util.ts";
import { StoreRoot } from "../store_root.ts";

/** A cached layer. */
export interface CachedLayer {
  /** Layer media type (gzip or plain tar). */
  mediaType: string;
  /** Blob digest. */
  digest: Digest;
  /** Blob size. */
  size: number;
  /** Digest of the uncompressed tar. */
  diffId: Digest;
}

interface CacheFile {
  version: 1;
  layers: Record<string, CachedLayer & { used: number }>;
  facts: Record<string, { whiteouts: boolean }>;
}

/** Entries kept at most; the least recently used go first. */
const MAX_LAYERS = 4096;
const MAX_FACTS = 16384;

function emptyFile(): CacheFile {
  return { version: 1, layers: {}, facts: {} };
}

/** The layer cache of one store. Changes are buffered until {@link LayerCache.flush}. */
export class LayerCache {
  readonly #storeDir: string;
  readonly #dir: string;
  readonly #path: string;
  /** The store's checks (no symlink inside it is followed), opened on first use. */
  #root?: Promise<StoreRoot>;
  #data: CacheFile | undefined;
  #pendingLayers = new Map<string, CachedLayer>();
  #pendingFacts = new Map<string, boolean>();
  #used = new Set<string>();

  /** The cache of the store at `root`. */
  constructor(root: string) {
    this.#storeDir = root;
    this.#dir = `${root}/.ferry`;
    this.#path = `${this.#dir}/layer-cache.json`;
  }

  async #read(): Promise<CacheFile> {
    try {
      const bytes = await (await this.#storeRoot()).readFileIfExists(this.#path);
      if (bytes === undefined) return emptyFile();
      const doc = JSON.parse(new TextDecoder().decode(bytes));
      if (doc?.version === 1 && typeof doc.layers === "object" && typeof doc.facts === "object") {
        return doc as CacheFile;
      }
    } catch {
      // missing, damaged or a symlink (not followed): start empty
    }
    return emptyFile();
  }

  #storeRoot(): Promise<StoreRoot> {
    this.#root ??= StoreRoot.open(this.#storeDir);
    return this.#root;
  }

  async #load(): Promise<CacheFile> {
    this.#data ??= await this.#read();
    return this.#data;
  }

  /** The layer cached under `key`, if any (the caller checks that its blob still exists). */
  async get(key: string): Promise<CachedLayer | undefined> {
    const pending = this.#pendingLayers.get(key);
    if (pending) return pending;
    const hit = (await this.#load()).layers[key];
    if (!hit) return undefined;
    this.#used.add(key);
    return { mediaType: hit.mediaType, digest: hit.digest, size: hit.size, diffId: hit.diffId };
  }

  /** Records the layer a key produced. */
  put(key: string, layer: CachedLayer): void {
    this.#pendingLayers.set(key, layer);
  }

  /** Whether the layer holds whiteouts, when known. */
  async whiteouts(digest: Digest): Promise<boolean | undefined> {
    const pending = this.#pendingFacts.get(digest);
    if (pending !== undefined) return pending;
    return (await this.#load()).facts[digest]?.whiteouts;
  }

  /** Records whether a layer holds whiteouts. */
  setWhiteouts(digest: Digest, whiteouts: boolean): void {
    this.#pendingFacts.set(digest, whiteouts);
  }

  /**
   * Writes buffered changes: under the lock, re-reads the file (another process may have added
   * entries), applies them, trims the oldest, and replaces the file atomically.
   */
  async flush(): Promise<void> {
    if (this.#pendingLayers.size === 0 && this.#pendingFacts.size === 0 && this.#used.size === 0) {
      return;
    }
    const root = await this.#storeRoot();
    await root.ensureDir(`${this.#dir}/tmp`);
    const lock = await root.openOrCreate(`${this.#dir}/layer-cache.lock`);
    try {
      await lock.lock(true);
      const data = await this.#read();
      const now = Math.floor(Date.now() / 1000);
      for (const key of this.#used) if (data.layers[key]) data.layers[key].used = now;
      for (const [key, layer] of this.#pendingLayers) data.layers[key] = { ...layer, used: now };
      for (const [digest, whiteouts] of this.#pendingFacts) data.facts[digest] = { whiteouts };
      trim(data);
      await writeFileAtomic(
        this.#path,
        new TextEncoder().encode(JSON.stringify(data)),
        { tmpDir: `${this.#dir}/tmp` },
      );
      this.#data = data;
      this.#pendingLayers.clear();
      this.#pendingFacts.clear();
      this.#used.clear();
    } finally {
      lock.close();
    }
  }
}

function trim(data: CacheFile): void {
  const keys = Object.keys(data.layers);
  if (keys.length > MAX_LAYERS) {
    keys.sort((a, b) => data.layers[a].used - data.layers[b].used);
    for (const key of keys.slice(0, keys.length - MAX_LAYERS)) delete data.layers[key];
  }
  const facts = Object.keys(data.facts);
  if (facts.length > MAX_FACTS) {
    for (const key of facts.slice(0, facts.length - MAX_FACTS)) delete data.facts[key];
  }
}
