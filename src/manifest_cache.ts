/**
 * Verified manifest bytes kept by digest, so that a manifest read to resolve a tag is not read
 * again to copy it. Bounded in entries and in bytes; the oldest go first.
 *
 * @module
 */
import type { Digest } from "./digest.ts";

/** Manifest bytes by digest, at most `maxEntries` of them and `maxBytes` in all. */
export class ManifestCache {
  #entries = new Map<Digest, Uint8Array>();
  #bytes = 0;
  readonly maxEntries: number;
  readonly maxBytes: number;

  constructor(options: { maxEntries: number; maxBytes?: number }) {
    this.maxEntries = options.maxEntries;
    this.maxBytes = options.maxBytes ?? Infinity;
  }

  /** The bytes kept for `digest`, if any. */
  get(digest: Digest): Uint8Array | undefined {
    return this.#entries.get(digest);
  }

  /** Keeps `bytes` (already verified against `digest`), dropping the oldest to stay in bounds. */
  set(digest: Digest, bytes: Uint8Array): void {
    const old = this.#entries.get(digest);
    if (old) {
      this.#entries.delete(digest);
      this.#bytes -= old.byteLength;
    }
    if (bytes.byteLength > this.maxBytes) return;
    while (
      this.#entries.size >= this.maxEntries || this.#bytes + bytes.byteLength > this.maxBytes
    ) {
      const [oldest, held] = this.#entries.entries().next().value!;
      this.#entries.delete(oldest);
      this.#bytes -= held.byteLength;
    }
    this.#entries.set(digest, bytes);
    this.#bytes += bytes.byteLength;
  }
}
