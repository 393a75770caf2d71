/**
 * Recently served manifests, by digest. Content-addressed bytes never change, so a hit needs no
 * check beyond "does the repository still link it"; the cache is bounded by total bytes.
 *
 * @module
 */
import type { Digest } from "../digest.ts";

/** A cached manifest. */
export interface CachedManifest {
  mediaType: string;
  bytes: Uint8Array;
}

/** A least-recently-used cache of manifests, bounded by their total size. */
export class ManifestCache {
  #entries = new Map<Digest, CachedManifest>();
  #bytes = 0;
  #limit: number;

  /** Holds at most `limitBytes` of manifests. */
  constructor(limitBytes: number) {
    this.#limit = limitBytes;
  }

  /** The manifest, marking it as recently used. */
  get(digest: Digest): CachedManifest | undefined {
    const entry = this.#entries.get(digest);
    if (entry) {
      this.#entries.delete(digest);
      this.#entries.set(digest, entry);
    }
    return entry;
  }

  /** Adds a manifest, evicting the least recently used ones beyond the limit. */
  set(digest: Digest, entry: CachedManifest): void {
    if (entry.bytes.byteLength > this.#limit) return;
    this.delete(digest);
    this.#entries.set(digest, entry);
    this.#bytes += entry.bytes.byteLength;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.#limit) break;
      this.#entries.delete(oldest);
      this.#bytes -= old.bytes.byteLength;
    }
  }

  /** Drops a manifest. */
  delete(digest: Digest): void {
    const entry = this.#entries.get(digest);
    if (!entry) return;
    this.#entries.delete(digest);
    this.#bytes -= entry.bytes.byteLength;
  }

  /** Bytes held. */
  get byteSize(): number {
    return this.#bytes;
  }
}
