/**
 * Concurrency helpers: a counting semaphore and single-flight de-duplication.
 *
 * @module
 */

/** A counting semaphore: at most `max` holders at once, FIFO. */
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
