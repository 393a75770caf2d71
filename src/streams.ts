/**
 * Small stream utilities shared by stores and the copy engine.
 *
 * @module
 */
import { FerryError, printable } from "./errors.ts";

/**
 * Reads a whole stream into memory, failing once it grows past `limit` bytes (manifests, configs,
 * token responses: never blobs). A stream of one chunk that fills its own buffer (a small body) is
 * returned as that chunk, without a copy.
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  where: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  // A reader, not `for await`: the async iterator adds a promise and a result object per chunk.
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge(where, limit);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  // A lone chunk that is its whole buffer is the result; a view into a larger one (a reader's
  // 1 MiB read buffer) is copied out, so that keeping the result does not keep the buffer.
  const only = chunks.length === 1 ? chunks[0] : undefined;
  if (only && only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) return only;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The `Content-Length` of `headers` when it is a plain count (digits only: `Number` would take
 * "-5", "1e3" or "0x10"), else undefined.
 */
export function contentLength(headers: Headers): number | undefined {
  const header = headers.get("content-length")?.trim();
  return header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
}

/**
 * Reads a whole response body, failing past `limit` bytes like {@link readAll}, and as a
 * retryable `network` {@link FerryError} when the body breaks off (a server that stops sending
 * until the request's time bound aborts it, or drops the connection): not as the runtime's
 * `TimeoutError` or `TypeError`. A body whose
 * `Content-Length` announces more is refused unread (and cancelled); one that announces at most
 * `limit` is read by the runtime in one call, without a stream layer per chunk (the runtime stops
 * at the announced length, and the result is checked again). A body without a length, or with a
 * `Content-Encoding` (`fetch` decompresses it, so the length says nothing of what it becomes: a
 * few KiB of gzip can inflate to gigabytes), is read as a stream, bounded as it comes.
 */
export async function readBody(res: Response, limit: number, where: string): Promise<Uint8Array> {
  try {
    return await readWholeBody(res, limit, where);
  } catch (err) {
    // The request's deadline passed while the body trickled in (see HttpRequest.deadline).
    if (err instanceof DOMException && err.name === "TimeoutError") {
      throw new FerryError("network", `${where}: the answer did not arrive in time`, {
        cause: err,
        retryable: true,
      });
    }
    // The connection dropped mid-body, or the like: the runtime's error is not the message.
    if (err instanceof FerryError) throw err;
    const why = err instanceof Error ? err.message.split("\n", 1)[0] : String(err);
    throw new FerryError("network", `${where}: the answer broke off: ${printable(why)}`, {
      cause: err,
      retryable: true,
    });
  }
}

async function readWholeBody(res: Response, limit: number, where: string): Promise<Uint8Array> {
  if (res.body === null) return new Uint8Array(0);
  const length = contentLength(res.headers);
  const encoding = res.headers.get("content-encoding")?.trim().toLowerCase();
  const whole = length !== undefined && (!encoding || encoding === "identity");
  if (!whole || res.bodyUsed) return await readAll(res.body, limit, where);
  if (length > limit) {
    await res.body.cancel().catch(() => {});
    throw tooLarge(where, limit);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.byteLength > limit) throw tooLarge(where, limit);
  return bytes;
}

function tooLarge(where: string, limit: number): FerryError {
  return new FerryError("too_large", `${where}: larger than the ${limit}-byte limit`);
}

/** Read size of {@link fileReadable}. */
export const FILE_READ_CHUNK = 1 << 20;

/** Options of {@link fileReadable}. */
export interface FileReadableOptions {
  /** Bytes expected from the current position: sizes the buffers so small files cost small ones. */
  size?: number;
  /** Maps a read error (say, to one naming the file). */
  mapError?: (err: unknown) => unknown;
}

/**
 * A file as a stream read in chunks of up to {@link FILE_READ_CHUNK}, closing the file at the end,
 * on error and on cancel. For bytes that JS consumes (tarring, hashing): large reads take several
 * times fewer round trips than `file.readable`'s 64 KiB ones. Bytes bound for a socket are better
 * left to `file.readable`, which the runtime moves without JS at half the peak memory. Reading goes
 * on to the real end, so a file that grew is noticed.
 */
export function fileReadable(
  file: Deno.FsFile,
  options: FileReadableOptions = {},
): ReadableStream<Uint8Array> {
  const { size, mapError = (err: unknown) => err } = options;
  let read = 0;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      file.close();
    } catch {
      // Already closed under us: the read error being reported says more.
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const want = size === undefined
        ? FILE_READ_CHUNK
        : size > read
        ? Math.min(FILE_READ_CHUNK, size - read)
        : 64;
      const buffer = new Uint8Array(want);
      let n: number | null;
      try {
        n = await file.read(buffer);
      } catch (err) {
        close();
        controller.error(mapError(err));
        return;
      }
      if (n === null) {
        close();
        controller.close();
        return;
      }
      read += n;
      controller.enqueue(n === want ? buffer : buffer.subarray(0, n));
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}

/**
 * Reads a stream into buffers the caller provides. A byte stream (a `fetch` body, a `Blob`, the
 * streams of {@link fillingStream}) is read BYOB, so the runtime copies straight into the buffer
 * and no chunk is allocated per read; any other stream's chunks are copied in, a chunk larger
 * than the buffer over several reads.
 */
export interface ViewReader {
  /**
   * Reads at least one byte into `view` and returns the bytes read as a view of the same region
   * (`byteOffset` as `view`'s). The buffer may be moved (a BYOB read transfers it): the returned
   * view's `buffer` is the one to keep using; `view` itself may be detached. An empty view means
   * the stream ended.
   */
  read(view: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>>;
  /** Cancels the stream. */
  cancel(reason?: unknown): Promise<void>;
}

/**
 * A {@link ViewReader} over `stream` (which it locks). A stream of {@link fillingStream} is read by
 * calling its source directly (see {@link directReader}).
 */
export function viewReader(stream: ReadableStream<Uint8Array>): ViewReader {
  const source = fillingSources.get(stream);
  if (source) return directReader(stream, source);
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: read its chunks below.
  }
  if (byob) {
    const reader = byob;
    return {
      async read(view) {
        const { value } = await reader.read(view);
        // A stream cancelled under the read keeps the buffer: nothing more can be read or kept.
        if (value === undefined) throw new Error("stream cancelled during a read");
        return value as Uint8Array<ArrayBuffer>;
      },
      cancel: (reason) => reader.cancel(reason),
    };
  }
  const reader = stream.getReader();
  let rest: Uint8Array | undefined;
  return {
    async read(view) {
      while (!rest?.byteLength) {
        const { value, done } = await reader.read();
        if (done) return view.subarray(0, 0);
        rest = value;
      }
      const n = Math.min(rest.byteLength, view.byteLength);
      view.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return view.subarray(0, n);
    },
    cancel: (reason) => reader.cancel(reason),
  };
}

/** Size of the buffers a {@link fillingStream} allocates for readers that bring none. */
export const FILLING_CHUNK = 64 * 1024;

/** Options of {@link fillingStream}. */
export interface FillingSource {
  /**
   * Fills `view` with the next bytes, with the contract of {@link ViewReader.read} (an empty
   * result ends the stream). A throw errors the stream.
   */
  fill(view: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>>;
  /** Called when the consumer cancels. */
  cancel?(reason: unknown): void | Promise<void>;
}

/**
 * A byte stream whose bytes are written into the reader's buffer by `source.fill`: a BYOB reader
 * (a {@link viewReader}) has its own buffer filled, so a chain of such streams over a `fetch` body
 * moves the bytes from the socket into the consumer's buffer with one copy and no chunk allocated
 * on the way; a default reader gets chunks of up to {@link FILLING_CHUNK} bytes.
 */
export function fillingStream(source: FillingSource): ReadableStream<Uint8Array> {
  const stream = new ReadableStream({
    type: "bytes",
    autoAllocateChunkSize: FILLING_CHUNK,
    async pull(controller) {
      const request = controller.byobRequest!;
      const filled = await source.fill(request.view as Uint8Array<ArrayBuffer>);
      if (filled.byteLength === 0) controller.close();
      request.respondWithNewView(filled);
    },
    cancel: (reason) => source.cancel?.(reason),
  });
  fillingSources.set(stream, source);
  return stream;
}

/** The source of each stream {@link fillingStream} made, for {@link viewReader}. */
const fillingSources = new WeakMap<ReadableStream<Uint8Array>, FillingSource>();

/**
 * A {@link ViewReader} of a {@link fillingStream} that calls its source's `fill` itself, with the
 * results a BYOB reader of the stream would give (the same bytes, end and errors). The stream
 * machinery a read otherwise goes through (a pull-into request, a promise, a buffer transfer and
 * a new view, per read and per layer) cost about as much as the rest of the byte path's
 * JavaScript: a blob's bytes pass two such streams (the engine's size bound over the resumable
 * body) between the `fetch` body and the staging buffer. The stream is locked all the same, and
 * cancelling reaches the source through it. Reads are sequential, as a BYOB reader's are for its
 * one caller here; a cancel while a read is pending leaves that read to its source.
 */
function directReader(stream: ReadableStream<Uint8Array>, source: FillingSource): ViewReader {
  const lock = stream.getReader({ mode: "byob" });
  let ended = false;
  let failure: { error: unknown } | undefined;
  let reading = false;
  return {
    async read(view) {
      if (failure) throw failure.error;
      if (reading) throw new TypeError("a read of this stream is already pending");
      if (view.byteLength === 0) throw new TypeError("cannot read into an empty view");
      if (ended) return view.subarray(0, 0);
      reading = true;
      try {
        const filled = await source.fill(view);
        if (filled.byteLength === 0) ended = true;
        return filled;
      } catch (err) {
        failure = { error: err };
        throw err;
      } finally {
        reading = false;
      }
    },
    cancel(reason) {
      ended = true;
      return lock.cancel(reason);
    },
  };
}
