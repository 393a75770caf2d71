/**
 * Making a gzip-compressed archive seekable: one pass decompresses it into a temporary file while
 * every tar header is checked on its way past, with the decompressed size bounded.
 *
 * Why a temporary copy and not a single streaming pass: the copy engine asks for blobs in manifest
 * order (config, then layers, several at once), while archives hold them in whatever order they
 * were written (skopeo writes `index.json` after the blobs; `docker save` puts `manifest.json`
 * last). Serving those requests from a gzip stream would mean decompressing it again for every
 * blob. So the archive is decompressed once, into a file whose members are then read in any order.
 *
 * The archive is hostile until checked, so the pass:
 * - refuses a stream that is not a tar at its first header (512 bytes in), and stops at the
 *   end-of-archive marker, whatever follows;
 * - bounds the decompressed size ({@link inflateLimit}: 32 times the compressed size, at least
 *   256 MiB, or `$FERRY_MAX_INFLATED_SIZE`), and the headers, names and metadata (see tar_index.ts);
 * - writes to a file in the system temp directory (`$TMPDIR`) that is unlinked as soon as it is
 *   created: only the open descriptor keeps it, so it vanishes when ferry closes the archive or
 *   exits in any way (an error, SIGINT, SIGTERM, even SIGKILL), and nothing is left for a rerun to
 *   trip over.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { formatSize, parseByteSize } from "../byte_size.ts";
import { readFull, writeAll } from "../fs_util.ts";
import { type TarLimits, type TarMember, TarStreamScanner } from "./tar_index.ts";

/** Environment variable that sets the most bytes a compressed archive may decompress to. */
export const MAX_INFLATED_ENV = "FERRY_MAX_INFLATED_SIZE";

/** Least default decompression limit, whatever the compressed size. */
export const MIN_INFLATED_LIMIT = 256 * 1024 ** 2;

/** Default decompression limit as a multiple of the compressed size. */
export const INFLATED_RATIO = 32;

const CHUNK = 1024 * 1024;

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // not permitted: as if unset
  }
}

/** The decompression limit and how to explain it. */
export interface InflateLimit {
  bytes: number;
  /** Why it is what it is, for the error message. */
  reason: string;
}

/**
 * The most bytes a compressed archive of `compressedSize` bytes may decompress to:
 * `$FERRY_MAX_INFLATED_SIZE` when set, else {@link INFLATED_RATIO} times the compressed size but at
 * least {@link MIN_INFLATED_LIMIT}. Image layers inside an archive are usually compressed already,
 * and uncompressed ones shrink 2 to 10 times; a gzip bomb shrinks a thousand times.
 *
 * @throws {FerryError} `usage` when the variable is not a size.
 */
export function inflateLimit(
  compressedSize: number,
  env: (name: string) => string | undefined = readEnv,
): InflateLimit {
  const set = env(MAX_INFLATED_ENV);
  if (set !== undefined && set !== "") {
    return { bytes: parseByteSize(set, MAX_INFLATED_ENV), reason: `${MAX_INFLATED_ENV}=${set}` };
  }
  const bytes = Math.max(MIN_INFLATED_LIMIT, INFLATED_RATIO * compressedSize);
  return {
    bytes,
    reason: `the default for a ${
      formatSize(compressedSize)
    } archive: ${INFLATED_RATIO} times its size, at least ${formatSize(MIN_INFLATED_LIMIT)}`,
  };
}

/** Options for {@link inflateTar}. */
export interface InflateOptions {
  /** Most bytes to decompress; default {@link inflateLimit} of the compressed size. */
  maxInflatedSize?: number;
  /** Directory of the temporary file; default the system temp directory (`$TMPDIR`). */
  tempDir?: string;
  /** Bounds on headers, names and metadata. */
  limits?: TarLimits;
}

/** A decompressed tar: its members and the file holding its bytes. */
export interface InflatedTar {
  members: Map<string, TarMember>;
  data: SharedFile;
}

/**
 * Decompresses the gzip stream `head` + the rest of `input` into an unlinked temporary file,
 * indexing the tar as it goes.
 *
 * @param input the archive, positioned just after `head`; not closed here.
 * @param where the archive's name for messages.
 * @throws {FerryError} `invalid_input` for corrupt gzip data or a stream that is not a tar;
 * `too_large` past a limit; `io` when the temporary file cannot be written.
 */
export async function inflateTar(
  input: Deno.FsFile,
  head: Uint8Array,
  where: string,
  options: InflateOptions = {},
): Promise<InflatedTar> {
  const compressedSize = (await input.stat()).size;
  const limit = options.maxInflatedSize !== undefined
    ? { bytes: options.maxInflatedSize, reason: "the limit asked for" }
    : inflateLimit(compressedSize);
  const data = await SharedFile.createTemp(options.tempDir, where);
  try {
    const scanner = new TarStreamScanner(where, options.limits);
    const compressed = new ReadableStream<Uint8Array>({
      start(controller) {
        if (head.byteLength > 0) controller.enqueue(head);
      },
      async pull(controller) {
        // 64 KiB in, as Deno's file streams read: DecompressionStream is several times slower on
        // much larger chunks, and hands out all a chunk inflates to at once (about 64 MiB at
        // most, for a bomb), so smaller ones would bound memory better but cost 30% in speed.
        const buf = new Uint8Array(64 * 1024);
        const n = await input.read(buf);
        if (n === null) controller.close();
        else controller.enqueue(buf.subarray(0, n));
      },
    }, { highWaterMark: 1 }); // read the next compressed chunk while this one decompresses
    // DecompressionStream's writable side is typed as BufferSource, a superset of Uint8Array.
    const gunzip = new DecompressionStream("gzip") as unknown as TransformStream<
      Uint8Array,
      Uint8Array
    >;
    const reader = compressed.pipeThrough(gunzip).getReader();
    // Two batches: one being written while the other fills, one write per MiB.
    let batch = new Uint8Array(CHUNK);
    let spare = new Uint8Array(CHUNK);
    let batched = 0;
    let writing: Promise<void> = Promise.resolve();
    const flush = async () => {
      await writing;
      writing = data.append(batch.subarray(0, batched));
      writing.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
      [batch, spare] = [spare, batch];
      batched = 0;
    };
    let total = 0;
    try {
      while (!scanner.done) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (err) {
          throw new FerryError("invalid_input", `${where}: corrupt gzip data (${errorText(err)})`, {
            cause: err,
          });
        }
        if (next.done) {
          scanner.end();
          break;
        }
        // Only the archive counts and is kept: what follows its end-of-archive marker is not.
        const chunk = next.value.subarray(0, scanner.push(next.value));
        total += chunk.byteLength;
        if (total > limit.bytes) {
          throw new FerryError(
            "too_large",
            `${where}: decompresses to more than ${
              formatSize(limit.bytes)
            } (${limit.reason}); if the archive is trusted, allow more with ${MAX_INFLATED_ENV}=<size, e.g. 64GiB>`,
          );
        }
        for (let i = 0; i < chunk.byteLength;) {
          const n = Math.min(CHUNK - batched, chunk.byteLength - i);
          batch.set(chunk.subarray(i, i + n), batched);
          batched += n;
          i += n;
          if (batched === CHUNK) await flush();
        }
      }
      if (batched > 0) await flush();
      await writing;
    } finally {
      await writing.catch(() => {});
      await reader.cancel().catch(() => {});
    }
    return { members: scanner.members, data };
  } catch (err) {
    await data.close();
    throw err;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A file read at any offset by several streams at once through one descriptor (each read seeks
 * first, one at a time). It lets a temporary file be unlinked while still in use.
 */
export class SharedFile {
  #file: Deno.FsFile;
  #where: string;
  #dir: string;
  /** The path, while the file still has one (when unlinking it failed). */
  #path?: string;
  #size = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(file: Deno.FsFile, where: string, dir: string, path?: string) {
    this.#file = file;
    this.#where = where;
    this.#dir = dir;
    this.#path = path;
  }

  /** Creates an empty temporary file in `dir` (default `$TMPDIR`) and unlinks it at once. */
  static async createTemp(dir: string | undefined, where: string): Promise<SharedFile> {
    let path: string;
    try {
      path = await Deno.makeTempFile({ dir, prefix: "ferry-archive-", suffix: ".tar" });
    } catch (err) {
      throw new FerryError(
        "io",
        `${where}: cannot create a temporary file to decompress into (${errorText(err)})`,
        { cause: err },
      );
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch (err) {
      await Deno.remove(path).catch(() => {});
      throw err;
    }
    const slash = path.lastIndexOf("/");
    const tmpDir = slash > 0 ? path.slice(0, slash) : ".";
    try {
      await Deno.remove(path);
      return new SharedFile(file, where, tmpDir);
    } catch {
      // A system that cannot unlink an open file: remove it on close instead.
      return new SharedFile(file, where, tmpDir, path);
    }
  }

  /** Bytes written. */
  get size(): number {
    return this.#size;
  }

  /** Appends bytes (before any read). */
  async append(bytes: Uint8Array): Promise<void> {
    try {
      await writeAll(this.#file, bytes);
    } catch (err) {
      throw new FerryError(
        "io",
        `${this.#where}: cannot write the decompressed copy in ${this.#dir} (${
          errorText(err)
        }); point TMPDIR at a directory with more room`,
        { cause: err },
      );
    }
    this.#size += bytes.byteLength;
  }

  /** Reads up to `buf.byteLength` bytes at `position`; fewer only at the end of the file. */
  readAt(position: number, buf: Uint8Array): Promise<number> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new FerryError("io", `${this.#where}: the archive is closed`);
      await this.#file.seek(position, Deno.SeekMode.Start);
      return await readFull(this.#file, buf);
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Streams `length` bytes from `offset`; a shorter file makes the stream error. */
  stream(offset: number, length: number, signal?: AbortSignal): ReadableStream<Uint8Array> {
    signal?.throwIfAborted();
    let at = offset;
    let left = length;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        signal?.throwIfAborted();
        if (left === 0) {
          controller.close();
          return;
        }
        const buf = new Uint8Array(Math.min(left, 256 * 1024));
        const n = await this.readAt(at, buf);
        if (n === 0) {
          throw new FerryError(
            "io",
            `${this.#where}: decompressed copy ended ${left} bytes early`,
          );
        }
        at += n;
        left -= n;
        controller.enqueue(n === buf.byteLength ? buf : buf.subarray(0, n));
        if (left === 0) controller.close();
      },
    }, { highWaterMark: 0 });
  }

  /** Closes the descriptor, which frees the file (and removes it if it still has a path). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    try {
      this.#file.close();
    } catch {
      // already closed
    }
    if (this.#path) await Deno.remove(this.#path).catch(() => {});
    this.#path = undefined;
  }
}
