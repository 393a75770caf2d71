/**
 * Writing one content-addressed blob file safely: staged under a per-digest name, verified while
 * written, fsynced, then renamed into place.
 *
 * The staging file is named after the digest and locked while written, so two processes pushing
 * the same blob do the work once (the second finds the blob in place when it gets the lock), and a
 * push cut short by a crash resumes from the bytes already staged.
 *
 * @module
 */
import { type Expected, Sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { readFull, syncDir, writeAll } from "../fs_util.ts";
import type { ContentSource } from "../store.ts";
import type { StoreRoot } from "../store_root.ts";
import { copyVerified } from "./verified_copy.ts";

/** Where {@link writeBlobFile} stages and publishes. */
export interface BlobFilePaths {
  /** The store the paths are in (none of them is followed through a symlink). */
  root: StoreRoot;
  /** Final path of the blob. */
  path: string;
  /** Directory of `path` (synced after the rename). */
  dir: string;
  /** Staging file, on the same file system as `path`. */
  staging: string;
}

/**
 * Makes `paths.path` hold exactly the bytes of `expected`, fetching them from `content` unless the
 * blob appears meanwhile. Leaves nothing at `paths.path` on failure; the staging file is kept only
 * when its bytes may still be good (the source broke off), so a later push can resume.
 */
export async function writeBlobFile(
  paths: BlobFilePaths,
  expected: Expected,
  content: ContentSource,
  where: string,
): Promise<void> {
  const fileSize = (path: string) => paths.root.fileSize(path);
  for (;;) {
    // Created exclusively, or an earlier attempt's regular file: never a planted symlink's target.
    const file = await paths.root.openOrCreate(paths.staging);
    try {
      await file.lock(true);
      // Another process may have published or deleted the file we opened while we waited for the
      // lock; then our handle is stale and the name must be opened again. While we hold the lock
      // on the file the name points to, nobody else renames, removes or replaces it.
      const current = await Deno.lstat(paths.staging).catch(() => undefined);
      if (current?.ino !== (await file.stat()).ino) {
        if (await fileSize(paths.path) === expected.size) return;
        continue;
      }
      if (await fileSize(paths.path) === expected.size) {
        await Deno.remove(paths.staging);
        return;
      }
      await fill(file, expected, content, where);
      await file.sync();
      await Deno.rename(paths.staging, paths.path);
      await syncDir(paths.dir);
      return;
    } catch (err) {
      if (isFerryError(err, "digest_mismatch") || isFerryError(err, "size_mismatch")) {
        await Deno.remove(paths.staging).catch(() => {});
      }
      throw err;
    } finally {
      file.close();
    }
  }
}

/** Completes the staged file from `content`, re-hashing what a previous attempt left. */
async function fill(
  file: Deno.FsFile,
  expected: Expected,
  content: ContentSource,
  where: string,
): Promise<void> {
  let have = (await file.stat()).size;
  if (have > expected.size) {
    await file.truncate(0);
    have = 0;
  }
  const hasher = have > 0 ? await hashPrefix(file, have) : await Sha256.create();
  await file.seek(have, Deno.SeekMode.Start);
  const write = (chunk: Uint8Array) => writeAll(file, chunk);
  try {
    await copyVerified(content, expected, where, write, { hasher });
  } catch (err) {
    // Bytes staged by an earlier attempt may be what is wrong: start over once from zero.
    if (have === 0 || !isFerryError(err, "digest_mismatch")) throw err;
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
    await copyVerified(content, expected, where, write);
  }
}

/** Hashes the first `length` bytes of `file`. */
async function hashPrefix(file: Deno.FsFile, length: number): Promise<Sha256> {
  const hasher = await Sha256.create();
  await file.seek(0, Deno.SeekMode.Start);
  const buf = new Uint8Array(256 * 1024);
  while (hasher.size < length) {
    const n = await readFull(file, buf.subarray(0, Math.min(buf.byteLength, length - hasher.size)));
    if (n === 0) throw new FerryError("io", "staged blob shrank while being resumed");
    hasher.update(buf.slice(0, n));
  }
  return hasher;
}
