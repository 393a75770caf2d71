/**
 * Concurrency helpers: a counting semaphore, single-flight de-duplication, and a bounded worker
 * pool over a batch of items.
 *
 * @module
 */
import { FerryError } from "./errors.ts";

/** A counting semaphore: at most `max` holders at once, waiters served first come, first served. */
export class Semaphore {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError(`semaphore size must be >= 1, got ${max}`);
    this.#free = max;
  }
  /** Waits for a slot. Pair every acquire with exactly one release. */
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
  /** Frees a slot (handing it straight to the oldest waiter). */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
  /** Runs `fn` holding a slot; the slot is freed however `fn` ends. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

/**
 * Single flight: concurrent calls with the same key share one execution; once it settles the key
 * is free again.
 */
export class SingleFlight<T> {
  #inflight = new Map<string, Promise<T>>();
  /** Runs `fn` unless a call with `key` is already running, in which case its result is shared. */
  do(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#inflight.get(key);
    if (running) return running;
    const p = fn().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }
}

/** An item of {@link runBounded} that threw, and what it threw. */
export interface BoundedFailure<T> {
  item: T;
  error: unknown;
}

/** Options of {@link runBounded}. */
export interface RunBoundedOptions<T> {
  /** Items run at once (at least one; never more workers than items). */
  width: number;
  /** The work for one item. */
  run: (item: T) => Promise<void>;
  /** Told of each failure as it happens (progress, warnings). */
  onFailure?: (item: T, error: unknown) => void;
}

/**
 * Runs `options.run` over `items` in order, at most `options.width` at once. An item that throws
 * does not stop the others: every item runs, and the failures are returned in the order they
 * happened. The one worker pool of ferry's batches of images (`registry save`, `registry sync`).
 */
export async function runBounded<T>(
  items: readonly T[],
  options: RunBoundedOptions<T>,
): Promise<BoundedFailure<T>[]> {
  const failures: BoundedFailure<T>[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await options.run(item);
      } catch (error) {
        failures.push({ item, error });
        options.onFailure?.(item, error);
      }
    }
  };
  const width = Math.max(1, Math.min(options.width, items.length));
  await Promise.all(Array.from({ length: width }, worker));
  return failures;
}

/**
 * The one error of a batch of `total` images some of which failed: `N of M images failed:
 * IMAGE: WHY; …`, each failure given as `IMAGE: WHY`.
 */
export function failedImagesError(failures: readonly string[], total: number): FerryError {
  return new FerryError(
    "registry",
    `${failures.length} of ${total} images failed: ${failures.join("; ")}`,
  );
}
