/**
 * Deterministic, parallel gzip.
 *
 * The output must be the same bytes for the same input on every machine and at every degree of
 * parallelism, because the digest of a layer blob names it. So:
 *
 * - the gzip header is fixed (no name, mtime 0, XFL 0, OS 255 "unknown": the bytes Go's
 *   compress/gzip writes), never the host-dependent one of the zlib build;
 * - the input is cut into fixed 1 MiB blocks, each compressed on its own with the previous 32 KiB
 *   of input as dictionary and ended with a sync flush (as pigz does), so blocks can go to worker
 *   threads and be joined in order; the block size, zlib level, window and strategy are fixed;
 * - inside a block, 32 KiB segments whose byte entropy shows they cannot shrink (registry blobs are
 *   gzip already) are written as stored deflate blocks without running the compressor: much
 *   faster, and the output depends only on the input bytes.
 *
 * Deflate output still depends on the zlib implementation that ships with the runtime, so the
 * compressed digest is reproducible with the same ferry build; the diffID (digest of the tar) never
 * depends on it.
 *
 * @module
 */
import zlib from "node:zlib";
import { BufferPool } from "../buffer_pool.ts";

/** Uncompressed bytes per independently compressed block. */
export const GZIP_BLOCK_SIZE = 1 << 20;
/** Default zlib level. */
export const DEFAULT_GZIP_LEVEL = 6;

const DICT_SIZE = 32 * 1024;
const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);
/** A final, empty fixed-Huffman block: ends the deflate stream after sync-flushed blocks. */
const FINAL_BLOCK = new Uint8Array([0x03, 0x00]);

type Zlib = typeof zlib;

/**
 * Room for a block's output. Deflate grows 1 MiB by a few hundred bytes at most (zlib's
 * deflateBound), stored blocks add 5 bytes per 64 KiB and each run's sync flush 5.
 */
const OUT_SIZE = GZIP_BLOCK_SIZE + 64 * 1024;
/**
 * A slot holds one block's journey: the dictionary (the previous block's last 32 KiB, ending where
 * the block starts), the block, and room for its output. A slot goes to a worker and comes back
 * with the output in it, so the encoder reuses a few slots instead of leaving freed megabytes for
 * each thread's garbage collector.
 */
const DATA_AT = DICT_SIZE;
const OUT_AT = DATA_AT + GZIP_BLOCK_SIZE;
const SLOT_SIZE = OUT_AT + OUT_SIZE;

/**
 * Compresses one block to raw deflate ending at a byte boundary (not final) into `out`; returns
 * the length written. Self-contained (it only uses its parameters and globals) because its source
 * text also runs in worker threads.
 *
 * @throws {RangeError} when `out` is too small (it never is at {@link OUT_SIZE} for a block).
 */
export function deflateBlock(
  z: Zlib,
  data: Uint8Array,
  dict: Uint8Array | undefined,
  level: number,
  out: Uint8Array,
): number {
  const SEGMENT = 32 * 1024;
  const DICT = 32 * 1024;
  // Above this many bits per byte, Huffman coding saves under 0.4% and LZ77 matches are
  // improbable: store the segment instead of spending the compressor's time on it.
  const STORE_ENTROPY = 7.97;
  // Four interleaved histograms over 32-bit words: about twice as fast as one byte at a time.
  const counts = new Uint32Array(1024);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const entropy = (from: number, to: number): number => {
    counts.fill(0);
    const words = from + ((to - from) & ~3);
    for (let i = from; i < words; i += 4) {
      const w = view.getUint32(i, true);
      counts[w & 255]++;
      counts[256 + ((w >>> 8) & 255)]++;
      counts[512 + ((w >>> 16) & 255)]++;
      counts[768 + (w >>> 24)]++;
    }
    for (let i = words; i < to; i++) counts[data[i]]++;
    const n = to - from;
    let h = 0;
    for (let b = 0; b < 256; b++) {
      const c = counts[b] + counts[256 + b] + counts[512 + b] + counts[768 + b];
      if (c > 0) {
        const p = c / n;
        h -= p * Math.log2(p);
      }
    }
    return h;
  };
  let at = 0;
  const room = (n: number) => {
    if (at + n > out.byteLength) {
      throw new RangeError(`deflate output exceeds its ${out.byteLength} bytes`);
    }
  };
  const deflateRun = (from: number, to: number) => {
    const start = Math.max(0, from - DICT);
    let dictionary: Uint8Array | undefined;
    if (from > 0) dictionary = data.subarray(start, from);
    else if (dict && dict.byteLength > 0) dictionary = dict;
    const options: zlib.ZlibOptions = {
      level,
      windowBits: 15,
      memLevel: 8,
      strategy: z.constants.Z_DEFAULT_STRATEGY,
      finishFlush: z.constants.Z_SYNC_FLUSH,
    };
    if (dictionary) options.dictionary = dictionary;
    // Straight into `out` through the engine's handle (what deflateRawSync does, minus its
    // output buffers); the public call where the runtime's zlib has no such handle.
    const engine = z.createDeflateRaw({ ...options, chunkSize: 64 }) as unknown as {
      _handle?: {
        writeSync?: (
          flush: number,
          input: Uint8Array,
          inOff: number,
          inLen: number,
          output: Uint8Array,
          outOff: number,
          outLen: number,
        ) => void;
      };
      _writeState?: Uint32Array;
      on(event: "error", fn: (err: Error) => void): void;
      close(): void;
    };
    const handle = engine._handle;
    const state = engine._writeState;
    if (handle && typeof handle.writeSync === "function" && state instanceof Uint32Array) {
      let failed: Error | undefined;
      engine.on("error", (err) => failed = err);
      try {
        let inOff = from;
        let inLen = to - from;
        for (;;) {
          // zlib's output depends on the room it gets per call: offer what deflateRawSync
          // offers (16 KiB windows, Node's default chunk), so the bytes stay the same.
          room(1);
          const avail = Math.min(16 * 1024, out.byteLength - at);
          handle.writeSync(z.constants.Z_SYNC_FLUSH, data, inOff, inLen, out, at, avail);
          if (failed) throw failed;
          const outLeft = state[0];
          const inLeft = state[1];
          at += avail - outLeft;
          inOff += inLen - inLeft;
          inLen = inLeft;
          // Output room left over: the input is consumed and flushed.
          if (outLeft !== 0) break;
        }
      } finally {
        engine.close();
      }
      return;
    }
    engine.close();
    const part = z.deflateRawSync(data.subarray(from, to), options);
    room(part.byteLength);
    out.set(part, at);
    at += part.byteLength;
  };
  const storeRun = (from: number, to: number) => {
    for (let i = from; i < to; i += 0xffff) {
      const len = Math.min(0xffff, to - i);
      room(5 + len);
      out[at] = 0; // BFINAL=0, BTYPE=00 (stored); we are at a byte boundary
      out[at + 1] = len & 0xff;
      out[at + 2] = len >>> 8;
      out[at + 3] = ~len & 0xff;
      out[at + 4] = (~len >>> 8) & 0xff;
      out.set(data.subarray(i, i + len), at + 5);
      at += 5 + len;
    }
  };
  let runStart = 0;
  let runStored: boolean | undefined;
  for (let i = 0; i < data.byteLength; i += SEGMENT) {
    const end = Math.min(data.byteLength, i + SEGMENT);
    const stored = entropy(i, end) > STORE_ENTROPY;
    if (runStored !== undefined && stored !== runStored) {
      if (runStored) storeRun(runStart, i);
      else deflateRun(runStart, i);
      runStart = i;
    }
    runStored = stored;
  }
  if (runStored === true) storeRun(runStart, data.byteLength);
  else if (runStored === false) deflateRun(runStart, data.byteLength);
  return at;
}

const WORKER_SOURCE = `import zlib from "node:zlib";
const deflateBlock = ${deflateBlock.toString()};
self.onmessage = (event) => {
  const { id, slot, dictLength, length, level } = event.data;
  try {
    const all = new Uint8Array(slot);
    const data = all.subarray(${DATA_AT}, ${DATA_AT} + length);
    const dict = dictLength > 0 ? all.subarray(${DATA_AT} - dictLength, ${DATA_AT}) : undefined;
    const n = deflateBlock(zlib, data, dict, level, all.subarray(${OUT_AT}));
    self.postMessage({ id, slot, length: n }, [slot]);
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  }
};
`;

/** A compressed block: its slot, with the output at {@link OUT_AT}. */
interface Done {
  slot: Uint8Array;
  length: number;
}

interface Pending {
  resolve: (done: Done) => void;
  reject: (err: Error) => void;
}

/**
 * A few worker threads running {@link deflateBlock}, started on the first block. An encoder makes
 * its own; a caller writing many layers one after another (a build) shares one across them with
 * {@link GzipEncoderOptions.workers}, since starting a worker costs more CPU than compressing a
 * small layer.
 */
export class GzipWorkerPool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #turn = 0;
  #url: string | undefined;
  #failed: Error | undefined;
  /**
   * Slots the encoders sharing this pool gave back: a build writes many layers in a row, and
   * slots left to the collector at each layer's end piled up (tens of MiB) before it ran.
   */
  readonly #slots: BufferPool;
  /** How many threads. */
  readonly size: number;

  /** A pool of `size` threads (at most 64), none started yet. */
  constructor(size: number) {
    this.size = Math.max(1, Math.min(size, 64));
    // What a full backlog of every thread needs.
    this.#slots = new BufferPool(SLOT_SIZE, 2 * this.size + 2);
  }

  #start(): void {
    if (this.#url !== undefined) return;
    this.#url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(this.#url, { type: "module" });
      worker.onmessage = (event: MessageEvent) => {
        const { id, slot, length, error } = event.data as {
          id: number;
          slot?: ArrayBuffer;
          length?: number;
          error?: string;
        };
        const p = this.#pending.get(id);
        if (!p) return;
        this.#pending.delete(id);
        if (error !== undefined) p.reject(new Error(`gzip worker: ${error}`));
        else p.resolve({ slot: new Uint8Array(slot!), length: length! });
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#fail(new Error(`gzip worker: ${event.message}`));
      };
      this.#workers.push(worker);
    }
  }

  #fail(err: Error): void {
    this.#failed = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** Compresses the block of a slot (its buffer moves to a worker and comes back). */
  run(slot: Uint8Array, dictLength: number, length: number, level: number): Promise<Done> {
    if (this.#failed) return Promise.reject(this.#failed);
    this.#start();
    const id = this.#next++;
    const worker = this.#workers[this.#turn++ % this.#workers.length];
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const buffer = slot.buffer as ArrayBuffer;
      worker.postMessage({ id, slot: buffer, dictLength, length, level }, [buffer]);
    });
  }

  /** A slot for an encoder: one an earlier encoder gave back, else a new one. */
  takeSlot(): Uint8Array {
    return new Uint8Array(this.#slots.take());
  }

  /** Keeps an encoder's idle slot for the next encoder (a slot whose buffer moved away is not). */
  giveSlot(slot: Uint8Array): void {
    this.#slots.give(slot.buffer as ArrayBuffer);
  }

  /** Stops the threads; later blocks are refused (idempotent). */
  close(): void {
    this.#slots.clear();
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
    if (this.#url !== undefined) URL.revokeObjectURL(this.#url);
    this.#fail(new Error("gzip pool closed"));
  }
}

/** Options of {@link GzipEncoder}. */
export interface GzipEncoderOptions {
  /** zlib level 1–9 (default 6). Part of what makes output reproducible: keep it fixed. */
  level?: number;
  /**
   * Worker threads for compression; 0 or 1 compresses on the calling thread. Output does not
   * depend on it. Default: {@link defaultGzipThreads}.
   */
  threads?: number;
  /**
   * Compress on these threads (shared with other encoders, not closed by this one) instead of
   * starting its own; `threads` is then the pool's size.
   */
  workers?: GzipWorkerPool;
  /**
   * Lend the output instead of giving it: {@link GzipEncoder.takeReady} and
   * {@link GzipEncoder.finish} return views into the encoder's own buffers, valid until the next
   * call of one of its methods. Saves a copy and a freed buffer per block. Default false: the
   * returned arrays belong to the caller.
   */
  lend?: boolean;
}

/**
 * Compression threads by default: one per CPU, at most 4. Each worker costs about 15 MiB of
 * memory (its own runtime), and beyond four the calling thread, which reads, hashes and writes
 * everything, is the limit.
 */
export function defaultGzipThreads(): number {
  const cpus = typeof navigator !== "undefined" ? navigator.hardwareConcurrency ?? 1 : 1;
  return Math.min(cpus, 4);
}

/** A submitted block, in output order. */
interface QueueItem {
  promise: Promise<void>;
  done?: Done;
  error?: unknown;
}

/**
 * Incremental deterministic gzip. Feed it with {@link write} (or fill {@link room} and
 * {@link commit}), collect output with {@link takeReady} (in order, as blocks finish), end with
 * {@link finish}; call {@link close} when abandoning it to stop the workers.
 *
 * Memory stays at a few slots of about 2 MiB when callers keep {@link backlog} under
 * {@link maxBacklog}: slots travel to the workers and back and are reused.
 */
export class GzipEncoder {
  readonly #level: number;
  readonly #threads: number;
  readonly #lend: boolean;
  #pool: GzipWorkerPool | undefined;
  /** Whether {@link #pool} is this encoder's own (closed with it). */
  #ownPool = true;
  /** Slots ready for the next blocks. */
  #free: Uint8Array[] = [];
  /** Slots whose output is lent out until the next call. */
  #lent: Uint8Array[] = [];
  /** The slot being filled: its block holds {@link #fill} bytes. */
  #slot: Uint8Array;
  #fill = 0;
  /** Dictionary bytes in {@link #slot}; undefined for the first block, which has none. */
  #dictLength: number | undefined;
  #crc = 0;
  #size = 0;
  #queue: QueueItem[] = [];
  #headerSent = false;
  #closed = false;

  constructor(options: GzipEncoderOptions = {}) {
    const level = options.level ?? DEFAULT_GZIP_LEVEL;
    if (!Number.isInteger(level) || level < 1 || level > 9) {
      throw new RangeError(`gzip level ${level} is not 1..9`);
    }
    this.#level = level;
    this.#threads = Math.max(0, Math.min(options.threads ?? defaultGzipThreads(), 64));
    if (options.workers && options.workers.size > 1) {
      this.#pool = options.workers;
      this.#ownPool = false;
      this.#threads = options.workers.size;
    }
    this.#lend = options.lend ?? false;
    this.#slot = this.#newSlot();
  }

  /** A slot: from the shared pool's spares when there is one. */
  #newSlot(): Uint8Array {
    return this.#ownPool ? new Uint8Array(SLOT_SIZE) : this.#pool!.takeSlot();
  }

  /** Blocks submitted but not yet taken: callers wait for the oldest when this gets large. */
  get backlog(): number {
    return this.#queue.length;
  }

  /** A limit for {@link backlog} that keeps every worker busy with bounded memory. */
  get maxBacklog(): number {
    return Math.max(2, this.#threads * 2);
  }

  /** Gives lent slots back: the caller is done with what the last call returned. */
  #reclaim(): void {
    for (const slot of this.#lent) this.#release(slot);
    this.#lent.length = 0;
  }

  #release(slot: Uint8Array): void {
    // Keep what a full backlog needs; a caller that outran it leaves the rest to the collector.
    if (!this.#closed && this.#free.length <= this.maxBacklog) this.#free.push(slot);
  }

  /** Adds uncompressed bytes (copied). */
  write(chunk: Uint8Array): void {
    this.#reclaim();
    let offset = 0;
    while (offset < chunk.byteLength) {
      const n = Math.min(chunk.byteLength - offset, GZIP_BLOCK_SIZE - this.#fill);
      this.#slot.set(chunk.subarray(offset, offset + n), DATA_AT + this.#fill);
      this.#add(n);
      offset += n;
    }
  }

  /**
   * Free room in the current block, at most `max` bytes (at least 1 when `max` is): fill a prefix
   * of it, say how much with {@link commit}, before any other call. The view is not to be used
   * after that (a full block moves to a worker thread).
   */
  room(max: number): Uint8Array {
    this.#reclaim();
    const n = Math.min(max, GZIP_BLOCK_SIZE - this.#fill);
    return this.#slot.subarray(DATA_AT + this.#fill, DATA_AT + this.#fill + n);
  }

  /** Adds the first `n` bytes written into the last {@link room}. */
  commit(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > GZIP_BLOCK_SIZE - this.#fill) {
      throw new RangeError(`cannot commit ${n} bytes`);
    }
    this.#add(n);
  }

  #add(n: number): void {
    if (n === 0) return;
    this.#crc = zlib.crc32(
      this.#slot.subarray(DATA_AT + this.#fill, DATA_AT + this.#fill + n),
      this.#crc,
    );
    this.#size += n;
    this.#fill += n;
    if (this.#fill === GZIP_BLOCK_SIZE) this.#submit();
  }

  #submit(): void {
    const slot = this.#slot;
    const length = this.#fill;
    const dictLength = this.#dictLength;
    // The next block's dictionary: the end of this one, copied before the slot moves.
    const next = this.#free.pop() ?? this.#newSlot();
    const carry = Math.min(DICT_SIZE, length);
    next.set(slot.subarray(DATA_AT + length - carry, DATA_AT + length), DATA_AT - carry);
    this.#slot = next;
    this.#dictLength = carry;
    this.#fill = 0;
    const item: QueueItem = { promise: Promise.resolve() };
    if (this.#threads > 1 && dictLength !== undefined) {
      // Workers pay off from the second block on; small layers never start them.
      this.#pool ??= new GzipWorkerPool(this.#threads);
      item.promise = this.#pool.run(slot, dictLength, length, this.#level).then(
        (done) => void (item.done = done),
        (err) => void (item.error = err),
      );
    } else {
      try {
        const data = slot.subarray(DATA_AT, DATA_AT + length);
        const dict = dictLength ? slot.subarray(DATA_AT - dictLength, DATA_AT) : undefined;
        item.done = {
          slot,
          length: deflateBlock(zlib, data, dict, this.#level, slot.subarray(OUT_AT)),
        };
      } catch (err) {
        item.error = err;
      }
    }
    this.#queue.push(item);
  }

  /** Waits until the oldest submitted block is compressed. */
  async waitOldest(): Promise<void> {
    this.#reclaim();
    const head = this.#queue[0];
    if (head) await head.promise;
  }

  /** The output of a finished block: lent, or a copy when the caller keeps it. */
  #output(done: Done): Uint8Array {
    const view = done.slot.subarray(OUT_AT, OUT_AT + done.length);
    if (this.#lend) {
      this.#lent.push(done.slot);
      return view;
    }
    const copy = view.slice();
    this.#release(done.slot);
    return copy;
  }

  /** Compressed bytes ready to be written, in order (starts with the gzip header). */
  takeReady(): Uint8Array[] {
    this.#reclaim();
    const out: Uint8Array[] = [];
    if (!this.#headerSent) {
      out.push(GZIP_HEADER.slice());
      this.#headerSent = true;
    }
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      if (head.error !== undefined) throw head.error;
      if (head.done === undefined) break;
      out.push(this.#output(head.done));
      this.#queue.shift();
    }
    return out;
  }

  /** Compresses what is left and returns the remaining output, trailer included. */
  async finish(): Promise<Uint8Array[]> {
    this.#reclaim();
    if (this.#fill > 0) this.#submit();
    const out = this.takeReady();
    for (const item of this.#queue) {
      await item.promise;
      if (item.error !== undefined) throw item.error;
      out.push(this.#output(item.done!));
    }
    this.#queue = [];
    const trailer = new Uint8Array(8);
    const view = new DataView(trailer.buffer);
    view.setUint32(0, this.#crc >>> 0, true);
    view.setUint32(4, this.#size % 2 ** 32, true);
    out.push(FINAL_BLOCK.slice(), trailer);
    this.close();
    return out;
  }

  /** Stops the worker threads (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownPool) this.#pool?.close();
    for (const item of this.#queue) item.promise.catch(() => {});
    this.#queue = [];
    if (!this.#ownPool) {
      // Lent slots stay with the caller's views; in-flight ones are the workers'.
      for (const slot of [this.#slot, ...this.#free]) this.#pool!.giveSlot(slot);
    }
    this.#free = [];
  }
}
