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
 * Compresses one block to raw deflate ending at a byte boundary (not final). Self-contained (it
 * only uses its parameters and globals) because its source text also runs in worker threads.
 */
export function deflateBlock(
  z: Zlib,
  data: Uint8Array,
  dict: Uint8Array | undefined,
  level: number,
): Uint8Array {
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
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (part: Uint8Array) => {
    parts.push(part);
    total += part.byteLength;
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
    push(z.deflateRawSync(data.subarray(from, to), options));
  };
  const storeRun = (from: number, to: number) => {
    for (let at = from; at < to; at += 0xffff) {
      const len = Math.min(0xffff, to - at);
      const header = new Uint8Array(5);
      header[0] = 0; // BFINAL=0, BTYPE=00 (stored); we are at a byte boundary
      header[1] = len & 0xff;
      header[2] = len >>> 8;
      header[3] = ~len & 0xff;
      header[4] = (~len >>> 8) & 0xff;
      push(header);
      push(data.subarray(at, at + len));
    }
  };
  let runStart = 0;
  let runStored: boolean | undefined;
  for (let at = 0; at < data.byteLength; at += SEGMENT) {
    const end = Math.min(data.byteLength, at + SEGMENT);
    const stored = entropy(at, end) > STORE_ENTROPY;
    if (runStored !== undefined && stored !== runStored) {
      if (runStored) storeRun(runStart, at);
      else deflateRun(runStart, at);
      runStart = at;
    }
    runStored = stored;
  }
  if (runStored === true) storeRun(runStart, data.byteLength);
  else if (runStored === false) deflateRun(runStart, data.byteLength);
  // A fresh buffer: zlib may return views of a shared pool, which must not be transferred.
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

const WORKER_SOURCE = `import zlib from "node:zlib";
const deflateBlock = ${deflateBlock.toString()};
self.onmessage = (event) => {
  const { id, data, dict, level } = event.data;
  try {
    const out = deflateBlock(zlib, data, dict, level);
    self.postMessage({ id, out }, [out.buffer]);
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  }
};
`;

interface Pending {
  resolve: (out: Uint8Array) => void;
  reject: (err: Error) => void;
}

/** A few worker threads running {@link deflateBlock}. */
class DeflatePool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #turn = 0;
  #url: string;
  #failed: Error | undefined;

  constructor(size: number) {
    this.#url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    for (let i = 0; i < size; i++) {
      const worker = new Worker(this.#url, { type: "module" });
      worker.onmessage = (event: MessageEvent) => {
        const { id, out, error } = event.data as { id: number; out?: Uint8Array; error?: string };
        const p = this.#pending.get(id);
        if (!p) return;
        this.#pending.delete(id);
        if (error !== undefined) p.reject(new Error(`gzip worker: ${error}`));
        else p.resolve(out!);
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

  run(data: Uint8Array, dict: Uint8Array | undefined, level: number): Promise<Uint8Array> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    const worker = this.#workers[this.#turn++ % this.#workers.length];
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const transfer = [data.buffer as ArrayBuffer];
      if (dict) transfer.push(dict.buffer as ArrayBuffer);
      worker.postMessage({ id, data, dict, level }, transfer);
    });
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
    URL.revokeObjectURL(this.#url);
    this.#fail(new Error("gzip pool closed"));
  }
}

/** Options of {@link GzipEncoder}. */
export interface GzipEncoderOptions {
  /** zlib level 1–9 (default 6). Part of what makes output reproducible: keep it fixed. */
  level?: number;
  /**
   * Worker threads for compression; 0 or 1 compresses on the calling thread. Output does not
   * depend on it. Default: the number of CPUs, at most 8.
   */
  threads?: number;
}

/**
 * Incremental deterministic gzip. Feed it with {@link write}, collect output with
 * {@link takeReady} (in order, as blocks finish), end with {@link finish}; call {@link close} when
 * abandoning it to stop the workers.
 */
export class GzipEncoder {
  readonly #level: number;
  readonly #threads: number;
  #pool: DeflatePool | undefined;
  #block = new Uint8Array(GZIP_BLOCK_SIZE);
  #fill = 0;
  #dict: Uint8Array | undefined;
  #crc = 0;
  #size = 0;
  #queue: { promise: Promise<Uint8Array>; value?: Uint8Array; error?: unknown }[] = [];
  #headerSent = false;
  #closed = false;

  constructor(options: GzipEncoderOptions = {}) {
    const level = options.level ?? DEFAULT_GZIP_LEVEL;
    if (!Number.isInteger(level) || level < 1 || level > 9) {
      throw new RangeError(`gzip level ${level} is not 1..9`);
    }
    this.#level = level;
    const cpus = typeof navigator !== "undefined" ? navigator.hardwareConcurrency ?? 1 : 1;
    this.#threads = Math.max(0, Math.min(options.threads ?? Math.min(cpus, 8), 64));
  }

  /** Blocks submitted but not yet taken: callers wait for the oldest when this gets large. */
  get backlog(): number {
    return this.#queue.length;
  }

  /** A limit for {@link backlog} that keeps every worker busy with bounded memory. */
  get maxBacklog(): number {
    return Math.max(2, this.#threads * 2);
  }

  /** Adds uncompressed bytes. */
  write(chunk: Uint8Array): void {
    this.#crc = zlib.crc32(chunk, this.#crc);
    this.#size += chunk.byteLength;
    let offset = 0;
    while (offset < chunk.byteLength) {
      const n = Math.min(chunk.byteLength - offset, GZIP_BLOCK_SIZE - this.#fill);
      this.#block.set(chunk.subarray(offset, offset + n), this.#fill);
      this.#fill += n;
      offset += n;
      if (this.#fill === GZIP_BLOCK_SIZE) this.#submit();
    }
  }

  #submit(): void {
    const data = this.#fill === GZIP_BLOCK_SIZE ? this.#block : this.#block.slice(0, this.#fill);
    const nextDict = data.slice(data.byteLength - Math.min(DICT_SIZE, data.byteLength));
    const dict = this.#dict;
    this.#dict = nextDict;
    this.#block = new Uint8Array(GZIP_BLOCK_SIZE);
    this.#fill = 0;
    let promise: Promise<Uint8Array>;
    if (this.#threads > 1 && dict !== undefined) {
      // Workers pay off from the second block on; small layers never start them.
      this.#pool ??= new DeflatePool(this.#threads);
      promise = this.#pool.run(data, dict, this.#level);
    } else {
      promise = Promise.resolve(deflateBlock(zlib, data, dict, this.#level));
    }
    const item: { promise: Promise<Uint8Array>; value?: Uint8Array; error?: unknown } = {
      promise,
    };
    promise.then((v) => item.value = v, (e) => item.error = e);
    this.#queue.push(item);
  }

  /** Waits until the oldest submitted block is compressed. */
  async waitOldest(): Promise<void> {
    const head = this.#queue[0];
    if (head) await head.promise;
  }

  /** Compressed bytes ready to be written, in order (starts with the gzip header). */
  takeReady(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!this.#headerSent) {
      out.push(GZIP_HEADER.slice());
      this.#headerSent = true;
    }
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      if (head.error !== undefined) throw head.error;
      if (head.value === undefined) break;
      out.push(head.value);
      this.#queue.shift();
    }
    return out;
  }

  /** Compresses what is left and returns the remaining output, trailer included. */
  async finish(): Promise<Uint8Array[]> {
    if (this.#fill > 0) this.#submit();
    const out = this.takeReady();
    for (const item of this.#queue) out.push(await item.promise);
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
    this.#pool?.close();
    for (const item of this.#queue) item.promise.catch(() => {});
    this.#queue = [];
  }
}
