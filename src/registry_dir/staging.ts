/**
 * Writing one blob into the registry directory: staged in `.ferry-tmp/<hex>.partial`, hashed while
 * written, verified, fsynced, then renamed into `blobs/` so that no reader ever sees a partial blob.
 *
 * A partial left by an interrupted run is resumed: its bytes are re-hashed and the source is asked
 * for the rest only. An exclusive `flock` on the partial keeps two processes from writing it at once.
 *
 * A small blob (at most {@link SMALL_BLOB_BYTES}: manifests, configs, signatures) is read whole
 * into memory instead, verified there, and written to a temp file of its own, fsynced and renamed
 * into `blobs/`: no partial, lock or resume, which for a few hundred bytes cost more than the
 * bytes (a signed image brings five such blobs).
 *
 * @module
 */
import { checkDigest, type Expected, Sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { writeAll, writeTempFile } from "../fs_util.ts";
import type { ContentSource } from "../store.ts";
import { viewReader } from "../streams.ts";
import { BufferPool } from "../buffer_pool.ts";
import type { StoreRoot } from "../store_root.ts";
import { FILE_MODE, stagingFileOptions } from "./fs.ts";
import type { Layout } from "./layout.ts";

/**
 * Largest read, hash update and `write` of a blob's bytes. A BYOB read of a `fetch` body takes
 * what has arrived (about 0.1–1 MiB on loopback), far more than its 16–64 KiB chunks.
 */
export const WRITE_BATCH_SIZE = 1024 * 1024;

/**
 * Buffers of {@link WRITE_BATCH_SIZE} kept for the next download: two per transfer slot of a
 * registry (six) and a few more. A buffer left to the garbage collector at every blob's end stays
 * in memory until a collection runs, which on a busy machine is late: the large save's peak RSS
 * grew by up to 15 MiB of such buffers.
 */
export const POOLED_BUFFERS = 16;

/**
 * Largest blob read whole into memory and written in one go, without a resumable partial
 * (`stageSmallBlob`). What a signed image brings besides its layers is far below it: manifests and
 * indexes (0.3–10 KiB), image configs (1–20 KiB), cosign signature payloads and configs (a few
 * hundred bytes), small SBOM and attestation documents. A download this short is done in one or
 * two reads of a `fetch` body (16–64 KiB chunks), so a cut one costs little to repeat whole, and
 * the memory it holds (one buffer of its size) is a small fraction of one pooled staging buffer.
 */
export const SMALL_BLOB_BYTES = 64 * 1024;

/** Staging buffers shared by every download of the process. */
const pool = new BufferPool(WRITE_BATCH_SIZE, POOLED_BUFFERS);

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
  /** Bytes per write. */
  batchSize?: number;
}

/**
 * Stores a blob under `blobs/` unless it is already there. On a digest or size mismatch the
 * staging file is removed and nothing becomes visible; on any other failure (a cut connection) the
 * partial stays so that the next attempt resumes it.
 */
export async function stageBlob(options: StageBlobOptions): Promise<void> {
  if (options.expected.size <= SMALL_BLOB_BYTES) return await stageSmallBlob(options);
  const { layout, root, expected, source, where } = options;
  const batchSize = options.batchSize ?? WRITE_BATCH_SIZE;
  const partialPath = layout.partial(expected.digest);
  const dataPath = layout.blobData(expected.digest);
  const { file, mode, size } = await openLocked(root, partialPath, layout.staging);
  try {
    // Another process may have finished this blob while we waited for the lock.
    if (await root.fileSize(dataPath) !== undefined) {
      await Deno.remove(partialPath);
      return;
    }
    // A new partial's bytes are asked for before its hasher is made: the first blob of a process
    // waits for the hashing engine to load (node:crypto, 15–90 ms), and the request travels
    // meanwhile instead of after it.
    let early = size === 0 && expected.size > 0 ? source(0) : undefined;
    // Its failure is the download's, reported when the download awaits it.
    early?.catch(() => {});
    const fetchFrom: ContentSource = (offset) => {
      const opened = offset === 0 && early ? early : source(offset);
      early = undefined;
      return opened;
    };
    let hasher: Sha256;
    try {
      hasher = await rehash(file, size, batchSize);
    } catch (err) {
      early?.then((stream) => stream.cancel(err)).catch(() => {});
      throw err;
    }
    if (hasher.size > expected.size) {
      await file.truncate(0);
      hasher = await Sha256.create();
    }
    let resumed = hasher.size > 0;
    for (;;) {
      try {
        if (hasher.size < expected.size) {
          await download(file, hasher, expected, fetchFrom, where, batchSize);
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
        hasher = await Sha256.create();
      }
    }
    await file.sync();
    // docker-registry's mode, unless the umask already gave it (the usual 022 does).
    if ((mode & 0o777) !== FILE_MODE) await Deno.chmod(partialPath, FILE_MODE);
    await root.ensureDir(layout.blobDir(expected.digest));
    await Deno.rename(partialPath, dataPath);
  } finally {
    file.close();
  }
}

/**
 * Stores a blob of at most {@link SMALL_BLOB_BYTES}: the source's bytes read whole (from the first,
 * at most one byte past the expected size), verified in memory, written to a new temp file of the
 * staging directory (created exclusively: no symlink is followed), fsynced and renamed into
 * `blobs/`, whose directory is made meanwhile. Nothing is visible unless it is whole and verified;
 * a crash leaves at most the temp file, which a later close sweeps. Two processes storing the same
 * blob each rename their own file over the other's identical bytes.
 */
async function stageSmallBlob(options: StageBlobOptions): Promise<void> {
  const { layout, root, expected, where } = options;
  const bytes = await readSmall(await options.source(0), expected, where);
  const hasher = await Sha256.create();
  hasher.update(bytes);
  checkDigest(hasher, expected, where);
  const made = writeTempFile(bytes, stagingFileOptions(root, layout.staging));
  const dir = root.ensureDir(layout.blobDir(expected.digest));
  const [file, folder] = await Promise.allSettled([made, dir]);
  try {
    if (folder.status === "rejected") throw folder.reason;
    if (file.status === "rejected") throw file.reason;
    await Deno.rename(file.value, layout.blobData(expected.digest));
  } catch (err) {
    if (file.status === "fulfilled") await Deno.remove(file.value).catch(() => {});
    throw err;
  }
}

/**
 * The bytes of `stream`, read into one buffer of the expected size and one byte more: a source
 * sending more fails at the first byte past it, and nothing past it is read.
 */
async function readSmall(
  stream: ReadableStream<Uint8Array>,
  expected: Expected,
  where: string,
): Promise<Uint8Array> {
  const reader = viewReader(stream);
  let buffer = new ArrayBuffer(expected.size + 1);
  let length = 0;
  try {
    for (;;) {
      const got = await reader.read(new Uint8Array(buffer, length));
      buffer = got.buffer;
      if (got.byteLength === 0) break;
      length += got.byteLength;
      if (length > expected.size) {
        throw new FerryError(
          "size_mismatch",
          `${where}: more than the expected ${expected.size} bytes`,
        );
      }
    }
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    throw err;
  }
  return new Uint8Array(buffer, 0, length);
}

/**
 * Opens (creating) the partial and takes an exclusive lock on it. The lock is on the open file, so
 * after waiting for it the path is checked to still name the same file: the previous holder may
 * have renamed it into `blobs/` or deleted it, in which case a fresh partial is opened.
 *
 * Resolves to the file, its mode and its size when locked. A new partial is created exclusively (which never follows a symlink); an existing one is opened
 * only when it is a regular file of the staging directory, so a planted
 * `<hex>.partial -> /elsewhere` is refused, never written through.
 */
async function openLocked(
  root: StoreRoot,
  path: string,
  stagingDir: string,
): Promise<{ file: Deno.FsFile; mode: number; size: number }> {
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
      if (onDisk && onDisk.ino === mine.ino && onDisk.dev === mine.dev) {
        return { file, mode: mine.mode ?? 0, size: mine.size };
      }
    } catch (err) {
      file.close();
      throw err;
    }
    file.close();
  }
  throw new FerryError("io", `${path}: staging file keeps being replaced by another process`);
}

/**
 * Hashes the bytes already in the partial (`size` of them when it was locked), leaving the
 * position at its end. A new partial, as nearly every one is, costs nothing: no read, and no
 * buffer (a signed image's small blobs each allocated a whole batch buffer here).
 */
async function rehash(file: Deno.FsFile, size: number, bufferSize: number): Promise<Sha256> {
  const hasher = await Sha256.create();
  // Just opened: an empty partial is at its end already.
  if (size === 0) return hasher;
  await file.seek(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(Math.min(bufferSize, size));
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
 *
 * Each read fills a buffer of up to `batchSize` from its start (BYOB from a byte stream, so a
 * remote blob goes from the socket into it with one copy and no chunk is allocated), and what it
 * got is written and hashed at once: a read never lands after unwritten bytes, so a read that
 * fails and takes its buffer with it loses nothing, and the partial holds every byte received.
 * Two buffers take turns, so that one is written while the next read fills the other; buffers
 * of the default size come from a pool shared by downloads and go back to it at the end.
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
  const reader = viewReader(await source(offset));
  // One byte more than is left, so that a source sending too much is caught by the first read.
  const size = Math.min(batchSize, expected.size - offset + 1);
  const pooled = batchSize === WRITE_BATCH_SIZE;
  const buffers = pooled
    ? [pool.take(), pool.take()]
    : [new ArrayBuffer(size), new ArrayBuffer(size)];
  let turn = 0;
  // The write in flight, of the buffer not being read into. Marked handled at once: it fails
  // the download when awaited, not as an unhandled rejection while a read is pending.
  let writing: Promise<void> = Promise.resolve();
  try {
    for (;;) {
      const got = await reader.read(new Uint8Array(buffers[turn], 0, size));
      buffers[turn] = got.buffer;
      if (got.byteLength === 0) break;
      if (hasher.size + got.byteLength > expected.size) {
        throw new FerryError(
          "size_mismatch",
          `${where}: more than the expected ${expected.size} bytes`,
        );
      }
      await writing;
      writing = writeAll(file, got);
      writing.catch(() => {});
      hasher.update(got);
      turn ^= 1;
    }
    await writing;
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    // Every byte received is in the partial (or its write failed): a retry resumes after them.
    await writing.catch(() => {});
    throw err;
  } finally {
    // No read or write holds them any more (a read that failed took its buffer with it).
    if (pooled) buffers.forEach((b) => pool.give(b));
  }
  checkDigest(hasher, expected, where);
}
