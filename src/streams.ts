/**
 * Small stream utilities shared by stores and the copy engine.
 *
 * @module
 */
import { FerryError } from "./errors.ts";

/**
 * Reads a whole stream into memory, failing once it grows past `limit` bytes (manifests, configs,
 * token responses: never blobs).
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  where: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.byteLength;
    if (total > limit) {
      await stream.cancel().catch(() => {});
      throw new FerryError("too_large", `${where}: larger than the ${limit}-byte limit`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
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
