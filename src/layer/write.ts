/**
 * Writing layer tarballs: deterministic bytes, streamed, hashed on the way.
 *
 * The caller pipes `stream` into its store (a temp file, an upload), or hands `writeTo` a write
 * function, while the writer computes, in the same pass, the diffID (SHA-256 of the tar) and the
 * digest and size of the bytes it emits. Nothing is read twice and memory stays bounded whatever
 * the layer size: file contents are read straight into the compressor's blocks when the entry
 * offers a reader, and with `writeTo` the output blocks are reused too.
 *
 * Every header field comes from the entry alone: ustar format, uname/gname empty, no atime or
 * ctime, device numbers 0, PAX records only when a value does not fit. Entries are written in the
 * order given ({@link walkTree} gives a canonical one); with the same entries and options the output
 * is the same on any machine.
 *
 * @module
 */
import { Sha256 } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { GzipEncoder, type GzipWorkerPool } from "./gzip.ts";
import { normalizeLayerPath } from "./path.ts";
import { BLOCK, encodeHeader, type HeaderFields, padding, TYPE } from "../tar/mod.ts";
import type { FileEntry, LayerEntry, LayerResult } from "./types.ts";

/** Options of {@link writeLayer}. */
export interface WriteLayerOptions {
  /** `gzip` (deterministic, parallel) or `none` (plain tar; digest equals diffID). */
  compression: "gzip" | "none";
  /**
   * Clamp for modification times (SOURCE_DATE_EPOCH): entries newer than this get this mtime.
   */
  mtime?: number;
  /** zlib level for gzip (default 6); keep it fixed for reproducible digests. */
  level?: number;
  /** Compression threads (default: CPUs, at most 4); output does not depend on it. */
  threads?: number;
  /** Shared compression threads (see {@link GzipWorkerPool}); `threads` is then ignored. */
  workers?: GzipWorkerPool;
}

/** A layer being written. Consume it once: through `stream` or through `writeTo`. */
export interface LayerWriter {
  /** The blob bytes; read it to the end (cancelling it aborts the writer). */
  stream: ReadableStream<Uint8Array>;
  /**
   * Writes the blob through `write`: each chunk is lent until the promise `write` returns
   * settles, then its memory is reused (no buffer per chunk is left behind, unlike `stream`).
   * Resolves with what `done` resolves with.
   */
  writeTo(write: (chunk: Uint8Array) => Promise<void>): Promise<LayerResult>;
  /** Settles when the blob is written: digests and sizes, or the error that broke it. */
  done: Promise<LayerResult>;
}

const END_OF_ARCHIVE = 2 * BLOCK;
/** Output block of a plain tar. */
const PLAIN_BLOCK = 1 << 20;
/** Padding after file contents (copied into the sink, never written to). */
const ZEROS = new Uint8Array(BLOCK);
/** Reads one byte past a file's announced end, to notice a file that grew. */
const PROBE = new Uint8Array(1);

/**
 * Where tar bytes go: the gzip encoder, or {@link PlainBlocks}. Bytes are copied in (`write`) or
 * read straight into the sink's buffer (`room`, then `commit`); output comes out in order.
 */
interface TarSink {
  write(bytes: Uint8Array): void;
  room(max: number): Uint8Array;
  commit(n: number): void;
  takeReady(): Uint8Array[];
  readonly backlog: number;
  readonly maxBacklog: number;
  waitOldest(): Promise<void>;
  finish(): Promise<Uint8Array[]>;
  close(): void;
}

/**
 * Plain tar output in blocks of {@link PLAIN_BLOCK}. When lending, a block comes back for reuse
 * at the next call; otherwise each block given out is the caller's.
 */
class PlainBlocks implements TarSink {
  readonly #lend: boolean;
  #block: Uint8Array = new Uint8Array(PLAIN_BLOCK);
  #fill = 0;
  #ready: Uint8Array[] = [];
  #lent: Uint8Array[] = [];
  #free: Uint8Array[] = [];

  constructor(lend: boolean) {
    this.#lend = lend;
  }

  get backlog(): number {
    return 0;
  }

  get maxBacklog(): number {
    return 1;
  }

  #reclaim(): void {
    for (const view of this.#lent) {
      if (view.byteLength === PLAIN_BLOCK && this.#free.length < 2) this.#free.push(view);
    }
    this.#lent.length = 0;
  }

  #advance(n: number): void {
    this.#fill += n;
    if (this.#fill < PLAIN_BLOCK) return;
    this.#ready.push(this.#block);
    this.#block = this.#free.pop() ?? new Uint8Array(PLAIN_BLOCK);
    this.#fill = 0;
  }

  write(bytes: Uint8Array): void {
    this.#reclaim();
    for (let at = 0; at < bytes.byteLength;) {
      const n = Math.min(bytes.byteLength - at, PLAIN_BLOCK - this.#fill);
      this.#block.set(bytes.subarray(at, at + n), this.#fill);
      at += n;
      this.#advance(n);
    }
  }

  room(max: number): Uint8Array {
    this.#reclaim();
    return this.#block.subarray(this.#fill, this.#fill + Math.min(max, PLAIN_BLOCK - this.#fill));
  }

  commit(n: number): void {
    this.#advance(n);
  }

  takeReady(): Uint8Array[] {
    this.#reclaim();
    const out = this.#ready;
    this.#ready = [];
    if (this.#lend) this.#lent.push(...out);
    return out;
  }

  waitOldest(): Promise<void> {
    return Promise.resolve();
  }

  finish(): Promise<Uint8Array[]> {
    this.#reclaim();
    if (this.#fill > 0) this.#ready.push(this.#block.subarray(0, this.#fill));
    this.#fill = 0;
    return Promise.resolve(this.takeReady());
  }

  close(): void {
    this.#free = [];
  }
}

function checkNumber(value: number, what: string, path: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new FerryError("invalid_input", `layer entry ${path}: invalid ${what} ${value}`);
  }
  return value;
}

/** The header of an entry (PAX records included when needed). */
function entryHeader(entry: LayerEntry, path: string, clamp: number | undefined): Uint8Array {
  let mtime = Math.floor(entry.mtime ?? 0);
  if (clamp !== undefined && mtime > clamp) mtime = clamp;
  const fields: HeaderFields = {
    name: path,
    mode: entry.mode & 0o7777,
    uid: checkNumber(entry.uid ?? 0, "uid", path),
    gid: checkNumber(entry.gid ?? 0, "gid", path),
    size: 0,
    mtime,
    typeflag: TYPE.file,
    linkname: "",
  };
  switch (entry.kind) {
    case "dir":
      fields.name = path + "/";
      fields.typeflag = TYPE.dir;
      break;
    case "symlink":
      if (entry.target === "" || entry.target.includes("\0")) {
        throw new FerryError("invalid_input", `layer entry ${path}: invalid symlink target`);
      }
      fields.typeflag = TYPE.symlink;
      fields.linkname = entry.target;
      break;
    case "hardlink":
      fields.typeflag = TYPE.hardlink;
      fields.linkname = normalizeLayerPath(entry.target, `hard link target of ${path}`);
      break;
    case "file":
      fields.size = checkNumber(entry.size, "size", path);
      break;
    default:
      throw new FerryError(
        "invalid_input",
        `layer entry ${path}: unknown kind ${(entry as { kind: string }).kind}`,
      );
  }
  return encodeHeader(fields);
}

function tooLarge(path: string, size: number): FerryError {
  return new FerryError(
    "conflict",
    `${path}: content is larger than the ${size} bytes announced (file changed while building?)`,
  );
}

function sizeMismatch(path: string, written: number, size: number): FerryError {
  return new FerryError(
    "conflict",
    `${path}: content is ${written} bytes, ${size} announced (file changed while building?)`,
  );
}

/** The hashes of a layer being written: the tar's (diff) and, for gzip, the blob's. */
interface LayerHashers {
  gzip: boolean;
  diff?: Sha256;
  blob?: Sha256;
}

/**
 * Streams the tar of `entries` through `sink` and yields its output in order. With a lending
 * sink, each yielded chunk is valid until the generator is resumed.
 */
async function* produce(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  sink: TarSink,
  clamp: number | undefined,
  hashers: LayerHashers,
): AsyncGenerator<Uint8Array> {
  // Made here, not by writeLayer: making the first hasher may have to wait for its engine.
  const diff = hashers.diff = await Sha256.create();
  const blob = hashers.blob = hashers.gzip ? await Sha256.create() : undefined;
  const put = (bytes: Uint8Array) => {
    diff.update(bytes);
    sink.write(bytes);
  };
  // Output ready so far, then waits while too many blocks are in flight (bounded memory).
  async function* drain(): AsyncGenerator<Uint8Array> {
    for (;;) {
      for (const out of sink.takeReady()) {
        blob?.update(out);
        yield out;
      }
      if (sink.backlog < sink.maxBacklog) return;
      await sink.waitOldest();
    }
  }
  async function* content(entry: FileEntry, path: string): AsyncGenerator<Uint8Array> {
    if (entry.reader) {
      // Read straight into the sink's buffer: no buffer per read.
      const reader = await entry.reader();
      try {
        let written = 0;
        while (written < entry.size) {
          const room = sink.room(entry.size - written);
          const n = await reader.read(room);
          if (n === null) throw sizeMismatch(path, written, entry.size);
          diff.update(room.subarray(0, n));
          sink.commit(n);
          written += n;
          yield* drain();
        }
        if (await reader.read(PROBE) !== null) throw tooLarge(path, entry.size);
      } finally {
        reader.close();
      }
      return;
    }
    if (!entry.open) {
      throw new FerryError(
        "invalid_input",
        `layer entry ${path}: no content for ${entry.size} bytes`,
      );
    }
    let written = 0;
    const stream = await entry.open();
    try {
      for await (const chunk of stream) {
        written += chunk.byteLength;
        if (written > entry.size) throw tooLarge(path, entry.size);
        put(chunk);
        yield* drain();
      }
    } finally {
      // Releases the source when the consumer stopped early or the size check failed.
      await stream.cancel().catch(() => {});
    }
    if (written !== entry.size) throw sizeMismatch(path, written, entry.size);
  }

  try {
    for await (const entry of entries) {
      const path = normalizeLayerPath(entry.path);
      put(entryHeader(entry, path, clamp));
      if (entry.kind === "file" && entry.size > 0) {
        yield* content(entry, path);
        const pad = padding(entry.size);
        if (pad > 0) put(ZEROS.subarray(0, pad));
      }
      yield* drain();
    }
    put(new Uint8Array(END_OF_ARCHIVE));
    for (const out of await sink.finish()) {
      blob?.update(out);
      yield out;
    }
  } finally {
    sink.close();
  }
}

/**
 * Writes a layer tarball.
 *
 * ```ts
 * const layer = writeLayer(walkTree(dir, "opt/app"), { compression: "gzip", mtime: epoch });
 * await layer.stream.pipeTo(file.writable);
 * const { digest, size, diffId } = await layer.done;
 * ```
 *
 * @throws {FerryError} through the stream and `done`: `invalid_input` for bad paths, `conflict`
 *   when a file's content does not match its announced size.
 */
export function writeLayer(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  options: WriteLayerOptions,
): LayerWriter {
  const { compression } = options;
  if (compression !== "gzip" && compression !== "none") {
    throw new FerryError("invalid_input", `unknown layer compression ${compression}`);
  }
  const clamp = options.mtime === undefined ? undefined : Math.floor(options.mtime);
  const hashers: LayerHashers = { gzip: compression === "gzip" };
  let output: AsyncGenerator<Uint8Array> | undefined;
  const begin = (lend: boolean) => {
    if (output) throw new Error("a layer writer is consumed once: through stream or writeTo");
    const sink = compression === "gzip"
      ? new GzipEncoder({
        level: options.level,
        threads: options.threads,
        ...(options.workers ? { workers: options.workers } : {}),
        lend,
      })
      : new PlainBlocks(lend);
    output = produce(entries, sink, clamp, hashers);
    return output;
  };
  const result = (): LayerResult => {
    // The output ended, so produce made the hashers.
    const diff = hashers.diff!;
    const blob = hashers.blob;
    const diffId = diff.digest();
    return {
      diffId,
      uncompressedSize: diff.size,
      digest: blob ? blob.digest() : diffId,
      size: blob ? blob.size : diff.size,
    };
  };

  let resolveDone!: (r: LayerResult) => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<LayerResult>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // Callers that only watch the stream must not get an unhandled rejection from `done`.
  done.catch(() => {});

  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: finished } = await (output ?? begin(false)).next();
        if (finished) {
          controller.close();
          resolveDone(result());
          return;
        }
        controller.enqueue(value);
      } catch (err) {
        controller.error(err);
        rejectDone(err);
      }
    },
    async cancel(reason) {
      rejectDone(new FerryError("io", `layer writing cancelled: ${reason ?? "no reason"}`));
      await output?.return(undefined);
    },
  }, { highWaterMark: 0 });

  async function writeTo(write: (chunk: Uint8Array) => Promise<void>): Promise<LayerResult> {
    try {
      for await (const chunk of begin(true)) await write(chunk);
      const r = result();
      resolveDone(r);
      return r;
    } catch (err) {
      rejectDone(err);
      throw err;
    }
  }
  return { stream, writeTo, done };
}
