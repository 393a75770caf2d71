/**
 * Small filesystem helpers for the registry directory: directories and link files with exact
 * modes, written atomically.
 *
 * @module
 */
import { dirname } from "node:path";
import { type Digest, parseDigest } from "../digest.ts";
import { errorMessage, FerryError } from "../errors.ts";

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

/** Size of a regular file, or undefined when there is none. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? info.size : undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw err;
  }
}

/** Whether `path` is a directory. */
export async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw err;
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
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return [];
    }
    throw err;
  }
  return out;
}

/** The digest held by a link file, or undefined when the link does not exist. */
export async function readLink(path: string): Promise<Digest | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw err;
  }
  // docker-registry writes no newline, but tolerates surrounding whitespace on read.
  return parseDigest(text.trim(), path);
}

/**
 * Writes `sha256:<hex>` (71 bytes, no newline, mode 0644) to `path` atomically: a temp file in
 * `stagingDir` (same filesystem), fsynced, then renamed over `path`. Skips the write when the link
 * already holds `digest`, so re-saving an image touches nothing.
 */
export async function writeLink(path: string, digest: Digest, stagingDir: string): Promise<void> {
  if (await readLink(path).catch(() => undefined) === digest) return;
  await ensureDir(dirname(path));
  const tmp = `${stagingDir}/${crypto.randomUUID()}.link`;
  let file: Deno.FsFile | undefined;
  for (let attempt = 0; file === undefined; attempt++) {
    await ensureDir(stagingDir);
    try {
      file = await Deno.open(tmp, { write: true, createNew: true, mode: FILE_MODE });
    } catch (err) {
      // The staging directory was removed under us (another run's close): create it again.
      if (!(err instanceof Deno.errors.NotFound) || attempt >= 3) throw err;
    }
  }
  try {
    try {
      await writeAll(file, new TextEncoder().encode(digest));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.chmod(tmp, FILE_MODE);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Writes all of `bytes` (a single `write` may write fewer). */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.byteLength) at += await file.write(bytes.subarray(at));
}
