/**
 * Filesystem helpers particular to the registry directory: directories and link files with
 * docker-registry's exact modes, link files written atomically, and filesystem errors as
 * FerryErrors. The general helpers are in `../fs_util.ts`.
 *
 * @module
 */
import { dirname } from "node:path";
import { type Digest, parseDigest } from "../digest.ts";
import { errorMessage, FerryError } from "../errors.ts";
import { isMissing, stripBom, writeFileAtomic } from "../fs_util.ts";
import type { StoreRoot } from "../store_root.ts";

/** Mode of every directory docker-registry creates (0777 under the usual 022 umask). */
export const DIR_MODE = 0o755;
/** Mode of every file docker-registry creates (0666 under the usual 022 umask). */
export const FILE_MODE = 0o644;

const FS_ERRORS: readonly unknown[] = Object.values(Deno.errors);

/** True for the errors Deno's filesystem calls throw. */
export function isFsError(err: unknown): err is Error {
  return err instanceof Error && FS_ERRORS.includes(err.constructor);
}

/** Turns a filesystem error into a FerryError naming `where`; anything else passes unchanged. */
export function asFerryError(err: unknown, where: string): unknown {
  if (!isFsError(err)) return err;
  if (err instanceof Deno.errors.NotFound) {
    return new FerryError("not_found", `${where}: ${errorMessage(err)}`, { cause: err });
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return new FerryError("denied", `${where}: ${errorMessage(err)}`, { cause: err });
  }
  return new FerryError("io", `${where}: ${errorMessage(err)}`, { cause: err });
}

/** Names of the subdirectories of `path` (empty when it does not exist); symlinks are skipped. */
export async function listDirs(root: StoreRoot, path: string): Promise<string[]> {
  const out: string[] = [];
  try {
    if (!await root.checkDir(path)) return [];
    for await (const entry of Deno.readDir(path)) {
      // A symlinked entry is neither: ferry lists no directory it would have to follow a link to.
      if (entry.isDirectory) out.push(entry.name);
    }
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  return out;
}

/** The digest held by a link file, or undefined when the link does not exist. */
export async function readLink(root: StoreRoot, path: string): Promise<Digest | undefined> {
  const bytes = await root.readFileIfExists(path);
  if (bytes === undefined) return undefined;
  // docker-registry writes no newline, but tolerates surrounding whitespace on read.
  return parseDigest(stripBom(new TextDecoder().decode(bytes)).trim(), path);
}

/**
 * Writes `sha256:<hex>` (71 bytes, no newline, mode 0644) to `path` atomically: a temp file in
 * `stagingDir` (same filesystem), fsynced, then renamed over `path`. Skips the write when the link
 * already holds `digest`, so re-saving an image touches nothing. A damaged link, or a symlink in
 * its place, is replaced (the rename replaces the entry, never what a symlink points to); its
 * directory and the staging directory must resolve inside the store.
 */
export async function writeLink(
  root: StoreRoot,
  path: string,
  digest: Digest,
  stagingDir: string,
): Promise<void> {
  if (await readLink(root, path).catch(() => undefined) === digest) return;
  await root.ensureDir(dirname(path));
  await writeFileAtomic(path, new TextEncoder().encode(digest), {
    tmpDir: stagingDir,
    mode: FILE_MODE,
    // The staging directory may be removed under us (another run's close): create it again,
    // past the cache that still knows it.
    ensureTmpDir: (dir, again) => {
      if (again) root.forget(dir);
      return root.ensureDir(dir);
    },
    // The link's bytes are fsynced, its directory is not: a link lost to a power cut is written
    // again by the next save.
    durable: false,
  });
}
