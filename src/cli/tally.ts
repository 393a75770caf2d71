/**
 * Running totals of a transfer, kept from the copy engine's events: what the overall progress
 * line under the per-blob bars, the closing summary and the `totals` of a `--json` result show.
 *
 * A blob counts once, whatever number of images share it: bytes read from the source are
 * `fetched` (a resumed blob's earlier part is `present`), a blob the destination already held is
 * `present` — unless this run fetched it: a registry directory links a blob into each repository,
 * and a second repository finds the blob the first one's transfer has just stored.
 *
 * @module
 */
import { formatSize } from "../byte_size.ts";
import type { CopyEvent } from "../copy/mod.ts";
import type { SaveEvent } from "../transfer/mod.ts";
import type { TransferTotals } from "./json.ts";

/** Totals kept from transfer events; see the module doc. */
export class TransferTally {
  #start: number;
  #now: () => number;
  /** Size of every distinct blob known to be part of the transfer. */
  #planned = new Map<string, number>();
  /** Blobs finished (either status), counted once. */
  #finished = new Set<string>();
  /** Blobs this run read from the source (blob-start seen). */
  #started = new Set<string>();
  /** Blobs found at the destination, with their sizes. */
  #found = new Map<string, number>();
  #fetched = 0;
  /** Bytes of resumed blobs already stored when their transfer started. */
  #resumed = 0;
  #images = 0;
  #failed = 0;
  /** Images the command will transfer, when it knows. */
  imagesTotal?: number;

  /** `now` is a clock in milliseconds (tests). */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** Counts one event. */
  add(e: CopyEvent | SaveEvent): void {
    switch (e.type) {
      case "blobs-planned":
        for (const b of e.blobs) {
          if (!this.#planned.has(b.digest)) this.#planned.set(b.digest, b.size);
          // Blobs of an image found whole count as present.
          if (e.present) {
            this.#finished.add(b.digest);
            this.#found.set(b.digest, b.size);
          }
        }
        return;
      case "blob-start":
        this.#planned.set(e.digest, e.size);
        this.#started.add(e.digest);
        this.#resumed += e.offset;
        return;
      case "blob-progress":
        this.#fetched += e.bytes;
        return;
      case "blob-done":
        this.#planned.set(e.digest, e.size);
        this.#finished.add(e.digest);
        if (e.status === "exists") this.#found.set(e.digest, e.size);
        return;
      case "image-done":
        this.#images++;
        return;
      case "image-failed":
        this.#failed++;
        return;
    }
  }

  /** Bytes already at the destination: blobs found there that this run did not fetch. */
  get #present(): number {
    let n = this.#resumed;
    for (const [digest, size] of this.#found) if (!this.#started.has(digest)) n += size;
    return n;
  }

  /** Seconds since the tally started. */
  get seconds(): number {
    return (this.#now() - this.#start) / 1000;
  }

  /** The totals so far. */
  totals(): TransferTotals {
    return {
      images: this.#images,
      blobs: this.#finished.size,
      bytesFetched: this.#fetched,
      bytesPresent: this.#present,
      seconds: Math.round(this.seconds * 1000) / 1000,
    };
  }

  /**
   * The overall progress line: `Images 3/12  12.0MiB / 40.0MiB  8.1MiB/s  ETA 3s`. Bytes done
   * count what is fetched and what was present, out of every blob known so far.
   */
  progressLine(): string {
    const images = this.imagesTotal === undefined
      ? `${this.#images + this.#failed}`
      : `${this.#images + this.#failed}/${this.imagesTotal}`;
    let total = 0;
    for (const size of this.#planned.values()) total += size;
    const done = Math.min(total, this.#fetched + this.#present);
    const seconds = this.seconds;
    const rate = seconds > 0 ? this.#fetched / seconds : 0;
    const eta = rate > 0 && total > done ? `ETA ${formatDuration((total - done) / rate)}` : "";
    return [
      `Images ${images}`,
      `${formatSize(done)} / ${formatSize(total)}`,
      `${formatSize(Math.round(rate))}/s`,
      eta,
    ].filter(Boolean).join("  ");
  }

  /** The closing summary: `40.0MiB fetched, 1.5MiB already present, 2.31s, 17.3MiB/s`. */
  summary(): string {
    const seconds = this.seconds;
    const rate = seconds > 0 ? Math.round(this.#fetched / seconds) : 0;
    return `${formatSize(this.#fetched)} fetched, ${formatSize(this.#present)} already present, ` +
      `${seconds.toFixed(2)}s, ${formatSize(rate)}/s`;
  }
}

/** `42s`, `3m05s`, `1h02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
