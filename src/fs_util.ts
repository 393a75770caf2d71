/**
 * File-system helpers shared by ferry's stores and readers: questions about a path that treat a
 * missing path as an answer rather than an error, whole reads and writes on open files, atomic
 * file replacement, and streaming a byte range of a file.
 *
 * @module
 */
import { dirname } from "./path.ts";
import { FerryError } from "./errors.ts";

/**
 * Whether `err` says there is nothing at the path: `NotFound`, or `NotADirectory` when a parent
 * component is a file (so nothing can exist below it).
 */
export function isMissing(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory;
}

/**
 * Whether anything exists at `path`: a file, a directory or a symlink (even a dangling one; the
 * last component is not followed).
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** Whether `path` is a directory (following symlinks); false when it does not exist. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** Whether `path` is a regular file (following symlinks); false when it does not exist. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** Size of the regular file at `path` (following symlinks), or undefined when there is none. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? info.size : undefined;
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/**
 * The file's text, or undefined when it does not exist. A leading UTF-8 byte-order mark is dropped,
 * as `TextDecoder` does: files written by Windows editors start with one.
 */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return stripBom(await Deno.readTextFile(path));
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** Drops a leading UTF-8 byte-order mark (`Deno.readTextFile` keeps it). */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
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

/** Writes all of `bytes` at the file's current position (a single `write` may write fewer). */
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

/** Whether the absolute, normalised `path` is `root` itself or lies below it. */
export function isWithin(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

/** Where a path leads once every symlink on its way is resolved. */
export interface ResolvedPath {
  /** The real path. */
  real: string;
  /** Whether it is inside the root asked about. */
  inside: boolean;
}

/**
 * Resolves `path` through every symlink (of its parents too) and tells whether it stays inside
 * `realRoot`, itself a real path: the check that keeps a build context's symlinks from reaching
 * files outside it. `undefined` when the path leads nowhere (missing, or a dangling symlink).
 */
export async function resolveWithin(
  realRoot: string,
  path: string,
): Promise<ResolvedPath | undefined> {
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (err) {
    if (isMissing(err) || err instanceof Deno.errors.FilesystemLoop) return undefined;
    throw err;
  }
  return { real, inside: isWithin(realRoot, real) };
}

/** A unique file name with a readable prefix. */
export function randomName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** Where {@link createFileOnce} and {@link writeFileAtomic} stage their temp file. */
export interface TempFileOptions {
  /** Directory of the temp file: on the file system of the target, which a rename cannot leave. */
  tmpDir: string;
}

let umask: number | null | undefined;

/**
 * The process's umask as Linux reports it (`Umask:` of /proc/self/status), read once; null where
 * that is not available. Read, not set and restored with `Deno.umask()`, which would leave files
 * that other threads create meanwhile without it.
 */
export function processUmask(): number | null {
  if (umask === undefined) {
    try {
      const status = Deno.readTextFileSync("/proc/self/status");
      const m = /^Umask:\s*([0-7]+)$/m.exec(status);
      umask = m ? parseInt(m[1], 8) : null;
    } catch {
      umask = null;
    }
  }
  return umask;
}

/** Whether a file created with `mode` gets exactly `mode` (the umask clears none of its bits). */
export function umaskKeeps(mode: number): boolean {
  const mask = processUmask();
  return mask !== null && (mode & mask) === 0;
}

/** Options for {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions extends TempFileOptions {
  /**
   * Exact mode of the file, set with chmod after creation so the umask cannot narrow it. Without
   * it the file is created 0644 less the umask.
   */
  mode?: number;
  /**
   * Whether to fsync the directory holding the file after the rename, so the new name survives a
   * power cut (default true). The file's bytes are fsynced either way.
   */
  durable?: boolean;
  /**
   * Creates `tmpDir`. Called before the temp file is created, and again (up to three times) when
   * the directory vanished in between, as when another process removes its staging area. Without
   * it `tmpDir` must exist. `again` is true on those retries: a cache of known directories must
   * not be trusted then.
   */
  ensureTmpDir?: (dir: string, again: boolean) => Promise<void>;
}

/**
 * Writes `bytes` to `path` atomically: a temp file in `tmpDir`, fsync, rename over `path`, then
 * (unless `durable` is false) fsync of the directory. Readers see the old content or the new,
 * never a mix.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  options: WriteFileAtomicOptions,
): Promise<void> {
  const tmp = await writeTempFile(bytes, options);
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  if (options.durable ?? true) await syncDir(dirname(path));
}

/**
 * The first half of {@link writeFileAtomic}: `bytes` in a new temp file of `tmpDir`, fsynced, with
 * `mode`. Resolves to the temp file's path, for the caller to rename into place or remove: several
 * files can so be made durable at once (one wait for the disk), then renamed in a chosen order.
 * `durable` is not used here. Nothing is left behind when it fails.
 */
export async function writeTempFile(
  bytes: Uint8Array,
  options: WriteFileAtomicOptions,
): Promise<string> {
  const { tmpDir, mode, ensureTmpDir } = options;
  const tmp = `${tmpDir}/${randomName("write")}`;
  try {
    let file: Deno.FsFile | undefined;
    for (let attempt = 0; file === undefined; attempt++) {
      await ensureTmpDir?.(tmpDir, attempt > 0);
      try {
        file = await Deno.open(tmp, { write: true, createNew: true, mode: mode ?? 0o644 });
      } catch (err) {
        if (!ensureTmpDir || !(err instanceof Deno.errors.NotFound) || attempt >= 3) throw err;
      }
    }
    try {
      await writeAll(file, bytes);
      await file.sync();
    } finally {
      file.close();
    }
    if (mode !== undefined && !umaskKeeps(mode)) await Deno.chmod(tmp, mode);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  return tmp;
}

/**
 * Creates `path` holding `bytes` unless it already exists (then the existing file wins and the
 * result is false). Uses a hard link from a finished temp file, so a concurrent creator never
 * sees a half-written file.
 */
export async function createFileOnce(
  path: string,
  bytes: Uint8Array,
  options: TempFileOptions,
): Promise<boolean> {
  const tmp = `${options.tmpDir}/${randomName("create")}`;
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

/** Read size for {@link openFileRange}: large enough for throughput, small enough for constant memory. */
const RANGE_CHUNK = 256 * 1024;

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
      const buf = new Uint8Array(Math.min(left, RANGE_CHUNK));
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
