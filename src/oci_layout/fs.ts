/**
 * File-system helpers shared by the OCI layout store and the archive stores: streaming a byte range
 * of a file, writing a file atomically, and making renames durable.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/** Read size for file streams: large enough for throughput, small enough for constant memory. */
const CHUNK = 256 * 1024;

/** Options for {@link openFileRange}. */
export interface FileRangeOptions {
  /** Cancels the stream (it then errors with the signal's reason). */
  signal?: AbortSignal;
  /** Name used in error messages (defaults to the path). */
  where?: string;
}

/**
 * Streams `length` bytes of the file at `path` starting at byte `offset`. The file is opened when
 * the stream is created and closed when it ends, errors or is cancelled; a file shorter than the
 * range makes the stream error instead of ending early.
 */
export async function openFileRange(
  path: string,
  offset: number,
  length: number,
  options: FileRangeOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  const where = options.where ?? path;
  const signal = options.signal;
  signal?.throwIfAborted();
  const file = await Deno.open(path, { read: true });
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      file.close();
      signal?.removeEventListener("abort", onAbort);
    }
  };
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;
  function onAbort() {
    close();
    controllerRef?.error(signal!.reason);
  }
  try {
    await file.seek(offset, Deno.SeekMode.Start);
  } catch (err) {
    close();
    throw err;
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  let left = length;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controllerRef = controller;
    },
    async pull(controller) {
      if (left === 0) {
        close();
        controller.close();
        return;
      }
      const buf = new Uint8Array(Math.min(left, CHUNK));
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (err) {
        close();
        throw err;
      }
      if (closed) return; // aborted while reading
      if (n === null) {
        close();
        throw new FerryError(
          "io",
          `${where}: file ended ${left} bytes before the expected end of the content`,
        );
      }
      left -= n;
      controller.enqueue(n === buf.byteLength ? buf : buf.subarray(0, n));
      if (left === 0) {
        close();
        controller.close();
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}

/** Reads exactly `buf.byteLength` bytes (fewer only at end of file); returns the count read. */
export async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let at = 0;
  while (at < buf.byteLength) {
    const n = await file.read(buf.subarray(at));
    if (n === null) break;
    at += n;
  }
  return at;
}

/** Writes all of `bytes` at the file's current position. */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.byteLength) at += await file.write(bytes.subarray(at));
}

/** Flushes a directory's entries to disk so a rename into it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    handle?.close();
  }
}

/**
 * Writes `bytes` to `path` atomically: a temp file in `tmpDir` (same file system), fsync, rename,
 * fsync of the directory. Readers see the old content or the new, never a mix.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  tmpDir: string,
  dir: string,
): Promise<void> {
  const tmp = `${tmpDir}/${randomName("write")}`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    try {
      await writeAll(file, bytes);
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dir);
}

/**
 * Creates `path` holding `bytes` unless it already exists (then the existing file wins). Uses a
 * hard link from a finished temp file, so a concurrent creator never sees a half-written file.
 */
export async function createFileOnce(
  path: string,
  bytes: Uint8Array,
  tmpDir: string,
): Promise<boolean> {
  const tmp = `${tmpDir}/${randomName("create")}`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    try {
      await writeAll(file, bytes);
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.link(tmp, path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** Size of a regular file, or undefined when there is none at `path`. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const st = await Deno.stat(path);
    return st.isFile ? st.size : undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw err;
  }
}

/** A unique file name with a readable prefix. */
export function randomName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
