/**
 * Writing one blob into the registry directory: staged in `.ferry-tmp/<hex>.partial`, hashed while
 * written, verified, fsynced, then renamed into `blobs/` so that no reader ever sees a partial blob.
 *
 * A partial left by an interrupted run is resumed: its bytes are re-hashed and the source is asked
 * for the rest only. An exclusive `flock` on the partial keeps two processes from writing it at once.
 *
 * @module
 */
import { checkDigest, type Expected, Sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { writeAll } from "../fs_util.ts";
import type { ContentSource } from "../store.ts";
import type { StoreRoot } from "../store_root.ts";
import { FILE_MODE } from "./fs.ts";
import type { Layout } from "./layout.ts";

/**
 * Bytes gathered before one `write`. fetch hands out 16–64 KiB chunks; batching them into 1 MiB
 * writes cuts the number of async file operations by 16–64×.
 */
export const WRITE_BATCH_SIZE = 1024 * 1024;

/** Options for {@link stageBlob}. */
export interface StageBlobOptions {
  /** Paths of the registry root. */
  layout: Layout;
  /** Confines the paths to the registry root. */
  root: StoreRoot;
  /** Digest and size the bytes must match. */
  expected: Expected;
  /** Where the bytes come from. */
  source: ContentSource;
  /** Names the blob in error messages. */
  where: string;
  /** Bytes per write (0 writes every chunk as it comes). */
  batchSize?: number;
}

/**
 * Stores a blob under `blobs/` unless it is already there. On a digest or size mismatch the
 * staging file is removed and nothing becomes visible; on any other failure (a cut connection) the
 * partial stays so that the next attempt resumes it.
 */
export async function stageBlob(options: StageBlobOptions): Promise<void> {
  const { layout, root, expected, source, where } = options;
  const batchSize = options.batchSize ?? WRITE_BATCH_SIZE;
  const partialPath = layout.partial(expected.digest);
  const dataPath = layout.blobData(expected.digest);
  const file = await openLocked(root, partialPath, layout.staging);
  try {
    // Another process may have finished this blob while we waited for the lock.
    if (await root.fileSize(dataPath) !== undefined) {
      await Deno.remove(partialPath);
      return;
    }
    let hasher = await rehash(file, batchSize || WRITE_BATCH_SIZE);
    if (hasher.size > expected.size) {
      await file.truncate(0);
      hasher = new Sha256();
    }
    let resumed = hasher.size > 0;
    for (;;) {
      try {
        if (hasher.size < expected.size) {
          await download(file, hasher, expected, source, where, batchSize);
        } else {
          checkDigest(hasher, expected, where);
        }
        break;
      } catch (err) {
        if (!isFerryError(err, "digest_mismatch", "size_mismatch")) throw err;
        if (!resumed) {
          await Deno.remove(partialPath).catch(() => {});
          throw err;
        }
        // The kept bytes were not a prefix of the blob (or the source ignored the offset): start
        // over once from the first byte.
        resumed = false;
        await file.truncate(0);
        hasher = new Sha256();
      }
    }
    await file.sync();
    await Deno.chmod(partialPath, FILE_MODE);
    await root.ensureDir(layout.blobDir(expected.digest));
    await Deno.rename(partialPath, dataPath);
  } finally {
    file.close();
  }
}

/**
 * Opens (creating) the partial and takes an exclusive lock on it. The lock is on the open file, so
 * after waiting for it the path is checked to still name the same file: the previous holder may
 * have renamed it into `blobs/` or deleted it, in which case a fresh partial is opened.
 *
 * A new partial is created exclusively (which never follows a symlink); an existing one is opened
 * only when it is a regular file of the staging directory, so a planted
 * `<hex>.partial -> /elsewhere` is refused, never written through.
 */
async function openLocked(root: StoreRoot, path: string, stagingDir: string): Promise<Deno.FsFile> {
  for (let attempt = 0; attempt < 8; attempt++) {
    if (attempt > 0) root.forget(stagingDir);
    await root.ensureDir(stagingDir);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, createNew: true, mode: FILE_MODE });
    } catch (err) {
      // The staging directory was removed under us (another run's close): create it again.
      if (err instanceof Deno.errors.NotFound) continue;
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      // A partial of an earlier run (or of a push of this blob in another process): resume it.
      const info = await Deno.lstat(path).catch(() => undefined);
      if (!info) continue;
      if (!info.isFile) throw root.foreign(path);
      try {
        file = await Deno.open(path, { read: true, write: true });
      } catch (again) {
        if (again instanceof Deno.errors.NotFound) continue;
        throw again;
      }
    }
    try {
      await file.lock(true);
      const mine = await file.stat();
      const onDisk = await Deno.lstat(path).catch(() => undefined);
      if (onDisk && onDisk.ino === mine.ino && onDisk.dev === mine.dev) return file;
    } catch (err) {
      file.close();
      throw err;
    }
    file.close();
  }
  throw new FerryError("io", `${path}: staging file keeps being replaced by another process`);
}

/** Hashes the bytes already in the partial, leaving the position at its end. */
async function rehash(file: Deno.FsFile, bufferSize: number): Promise<Sha256> {
  const hasher = new Sha256();
  await file.seek(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(bufferSize);
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    hasher.update(buffer.subarray(0, n));
  }
  return hasher;
}

/**
 * Appends the source's bytes from `hasher.size` on, hashing them, and checks the result. Fails as
 * soon as more than `expected.size` bytes arrive.
 */
async function download(
  file: Deno.FsFile,
  hasher: Sha256,
  expected: Expected,
  source: ContentSource,
  where: string,
  batchSize: number,
): Promise<void> {
  const offset = hasher.size;
  await file.seek(offset, Deno.SeekMode.Start);
  const reader = (await source(offset)).getReader();
  const batch = new Uint8Array(batchSize);
  let filled = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hasher.update(value);
      if (hasher.size > expected.size) {
        throw new FerryError(
          "size_mismatch",
          `${where}: more than the expected ${expected.size} bytes`,
        );
      }
      if (filled + value.byteLength > batchSize && filled > 0) {
        await writeAll(file, batch.subarray(0, filled));
        filled = 0;
      }
      if (value.byteLength >= batchSize) {
        await writeAll(file, value);
      } else {
        batch.set(value, filled);
        filled += value.byteLength;
      }
    }
    await writeAll(file, batch.subarray(0, filled));
    filled = 0;
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    // Keep what arrived so that a retry resumes after it.
    if (filled > 0 && !isFerryError(err, "size_mismatch")) {
      await writeAll(file, batch.subarray(0, filled)).catch(() => {});
    }
    throw err;
  }
  checkDigest(hasher, expected, where);
}
