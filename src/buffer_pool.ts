/**
 * A bounded free list of equal-sized `ArrayBuffer`s, for hot paths that would otherwise leave a
 * large buffer to the garbage collector at every blob's or layer's end (which runs late on a busy
 * machine, so freed megabytes pile up in the peak RSS).
 *
 * @module
 */

/** Buffers of {@link size} bytes, at most {@link max} kept while unused. */
export class BufferPool {
  readonly #free: ArrayBuffer[] = [];

  /** Buffers of `size` bytes; at most `max` are kept for reuse. */
  constructor(readonly size: number, readonly max: number) {}

  /** A buffer given back earlier, else a new one. */
  take(): ArrayBuffer {
    return this.#free.pop() ?? new ArrayBuffer(this.size);
  }

  /**
   * Keeps `buffer` for the next {@link take}, unless it moved away (detached), is of another size,
   * is kept already, or the pool is full.
   */
  give(buffer: ArrayBuffer): void {
    if (
      buffer.detached || buffer.byteLength !== this.size || this.#free.length >= this.max ||
      this.#free.includes(buffer)
    ) return;
    this.#free.push(buffer);
  }

  /** Drops every kept buffer. */
  clear(): void {
    this.#free.length = 0;
  }
}
