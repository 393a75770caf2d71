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
import { isMissing, readTextIfExists, writeFileAtomic } from "../fs_util.ts";

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

/** Directories this process created or found, so hot paths do not ask the kernel again. */
const knownDirs = new Set<string>();
/** Whether `mkdir` alone gives 0755 (umask 022); learned from the first directory created. */
let umaskGivesDirMode: boolean | undefined;

/**
 * Creates `path` and its missing parents with mode 0755. Modes are set explicitly when the umask
 * would give another mode, so the tree matches docker-registry's whatever the process umask.
 */
export async function ensureDir(path: string): Promise<void> {
  if (knownDirs.has(path)) return;
  try {
    await Deno.mkdir(path, { mode: DIR_MODE });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      knownDirs.add(path);
      return;
    }
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    const parent = dirname(path);
    if (parent === path) throw err;
    await ensureDir(parent);
    try {
      await Deno.mkdir(path, { mode: DIR_MODE });
    } catch (again) {
      if (!(again instanceof Deno.errors.AlreadyExists)) throw again;
      knownDirs.add(path);
      return;
    }
  }
  umaskGivesDirMode ??= ((await Deno.stat(path)).mode! & 0o777) === DIR_MODE;
  if (!umaskGivesDirMode) await Deno.chmod(path, DIR_MODE);
  knownDirs.add(path);
}

/** Forgets known directories at or under `path` (call after removing it). */
export function forgetDirs(path: string): void {
  for (const dir of knownDirs) {
    if (dir === path || dir.startsWith(path + "/")) knownDirs.delete(dir);
  }
}

/** Names of the subdirectories of `path` (empty when it does not exist). */
export async function listDirs(path: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      if (entry.isDirectory) out.push(entry.name);
    }
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  return out;
}

/** The digest held by a link file, or undefined when the link does not exist. */
export async function readLink(path: string): Promise<Digest | undefined> {
  const text = await readTextIfExists(path);
  // docker-registry writes no newline, but tolerates surrounding whitespace on read.
  return text === undefined ? undefined : parseDigest(text.trim(), path);
}

/**
 * Writes `sha256:<hex>` (71 bytes, no newline, mode 0644) to `path` atomically: a temp file in
 * `stagingDir` (same filesystem), fsynced, then renamed over `path`. Skips the write when the link
 * already holds `digest`, so re-saving an image touches nothing.
 */
export async function writeLink(path: string, digest: Digest, stagingDir: string): Promise<void> {
  if (await readLink(path).catch(() => undefined) === digest) return;
  await ensureDir(dirname(path));
  await writeFileAtomic(path, new TextEncoder().encode(digest), {
    tmpDir: stagingDir,
    mode: FILE_MODE,
    // The staging directory may be removed under us (another run's close): create it again,
    // past the cache that still knows it.
    ensureTmpDir: (dir, again) => {
      if (again) forgetDirs(dir);
      return ensureDir(dir);
    },
    // The link's bytes are fsynced, its directory is not: a link lost to a power cut is written
    // again by the next save.
    durable: false,
  });
}
