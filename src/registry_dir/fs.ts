/**
 * Filesystem helpers particular to the registry directory: directories and link files with
 * docker-registry's exact modes, link files written atomically, and filesystem errors as
 * FerryErrors. The general helpers are in `../fs_util.ts`.
 *
 * @module
 */
import { dirname } from "../path.ts";
import { type Digest, parseDigest } from "../digest.ts";
import { errorMessage, FerryError, isFerryError } from "../errors.ts";
import { isMissing, stripBom, type WriteFileAtomicOptions, writeTempFile } from "../fs_util.ts";
import type { StoreRoot } from "../store_root.ts";

/** Mode of every directory docker-registry creates (0777 under the usual 022 umask). */
export const DIR_MODE = 0o755;
/** Mode of every file docker-registry creates (0666 under the usual 022 umask). */
export const FILE_MODE = 0o644;
/** Largest link file read: a link holds `sha256:<hex>` (71 bytes) and maybe whitespace. */
export const MAX_LINK_SIZE = 1024;

const FS_ERRORS: readonly unknown[] = Object.values(Deno.errors);

/**
 * Watches link batches, for tests (internal: not re-exported by `mod.ts`): `staged` is told a
 * batch's paths once their bytes are on disk (one wait for the disk per call), `renaming` each
 * path before its rename; a throw from `renaming` stops the batch there, as a crash would.
 */
export const linkBatchProbe: {
  staged?: (paths: string[]) => void;
  renaming?: (path: string) => void;
} = {};

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

/**
 * Names of the subdirectories of `path` (empty when it does not exist). Symlinks are skipped, or
 * with `strict` an error (`invalid_input`): where marks are read, what hides behind one would be
 * swept.
 */
export async function listDirs(
  root: StoreRoot,
  path: string,
  options: { strict?: boolean } = {},
): Promise<string[]> {
  const out: string[] = [];
  try {
    if (!await root.checkDir(path)) return [];
    for await (const entry of Deno.readDir(path)) {
      if (entry.isSymlink && options.strict) throw root.foreign(`${path}/${entry.name}`);
      // A symlinked entry is neither: ferry lists no directory it would have to follow a link to.
      if (entry.isDirectory) out.push(entry.name);
    }
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  return out;
}

/**
 * The digest held by a link file, or undefined when the link does not exist (nor any regular file
 * in its place).
 *
 * @throws {FerryError} `invalid_input` when it is larger than {@link MAX_LINK_SIZE} or holds no
 * digest, or when a symlink is on its way.
 */
export async function readLink(root: StoreRoot, path: string): Promise<Digest | undefined> {
  // Only a regular file is read (a FIFO planted in its place would block the open), into one
  // buffer of its size: a rerun reads every link of every image, so no stream and no buffer
  // larger than a link may be (a 1 MiB read buffer per link cost 40 MiB of RSS).
  let bytes: Uint8Array | undefined;
  try {
    // Synchronous: a link is a few bytes of metadata, read faster than a hand-off to the pool.
    bytes = await root.readSmallFile(path, MAX_LINK_SIZE, { sync: true });
  } catch (err) {
    if (!isFerryError(err, "too_large")) throw err;
    const size = await root.fileSize(path).catch(() => undefined);
    throw new FerryError(
      "invalid_input",
      `${path}: link of ${size ?? "more than " + MAX_LINK_SIZE} bytes (at most ${MAX_LINK_SIZE})`,
    );
  }
  if (bytes === undefined) return undefined;
  // docker-registry writes no newline, but tolerates surrounding whitespace on read.
  return parseDigest(stripBom(new TextDecoder().decode(bytes)).trim(), path);
}

/**
 * How a file of the registry directory is staged with `writeTempFile`: a temp file of
 * `stagingDir` with docker-registry's file mode, the staging directory made (and checked) inside
 * the store first. It may be removed under us (another run's close): then it is made again, past
 * the cache that still knows it.
 */
export function stagingFileOptions(root: StoreRoot, stagingDir: string): WriteFileAtomicOptions {
  return {
    tmpDir: stagingDir,
    mode: FILE_MODE,
    ensureTmpDir: (dir: string, again: boolean) => {
      if (again) root.forget(dir);
      return root.ensureDir(dir);
    },
  };
}

/** Links whose bytes are on disk in temp files, waiting to be renamed into place. */
export interface StagedLinks {
  /**
   * Renames the links into place, in order (creating their directories). Once this resolves they
   * are visible; when it fails, those not renamed are not. With `after`, the directories are
   * made at once and the renames wait for it (none is done when it rejects): commits chained so
   * rename in order without waiting for each other's directories.
   */
  commit(after?: Promise<void>): Promise<void>;
  /** Removes the temp files: none of the links is written. */
  discard(): Promise<void>;
}

/** Options of {@link stageLinks}. */
export interface StageLinksOptions {
  /**
   * Write every link without reading it first: the caller knows none holds its digest yet (what
   * it names is not stored), and a lookup of a new link only fails. A link that did hold it is
   * replaced by the same bytes.
   */
  unread?: boolean;
  /** Write afresh, once, links whose temp files were swept before their rename (default true). */
  retry?: boolean;
}

/**
 * Writes link files (`sha256:<hex>`: 71 bytes, no newline, mode 0644) as one batch, in two halves.
 * First each link's bytes (unless the link already holds its digest, so re-saving an image
 * touches nothing) are written and fsynced in temp files of `stagingDir` (same filesystem), all at
 * once: one wait for the disk, not one per link. The caller makes them durable so while it stores
 * what they name, and {@link StagedLinks.commit}s them only once that is stored: a link never
 * names content that is not there, and storing it is not followed by another wait for the disk.
 * The commit renames them into place in the order given, so a reader (or a power cut) sees a link
 * only once those before it are there (a tag's index entry before its `current` link). A damaged
 * link, or a symlink in its place, is replaced (the rename replaces the entry, never what a
 * symlink points to); its directory and the staging directory must resolve inside the store.
 * Nothing is left behind when it fails.
 */
export async function stageLinks(
  root: StoreRoot,
  links: readonly { path: string; digest: Digest }[],
  stagingDir: string,
  stageOptions: StageLinksOptions = {},
): Promise<StagedLinks> {
  const retry = stageOptions.retry ?? true;
  const held = stageOptions.unread
    ? []
    : await Promise.all(links.map((l) => readLink(root, l.path).catch(() => undefined)));
  const wanted = links.filter((l, i) => held[i] !== l.digest);
  const options = stagingFileOptions(root, stagingDir);
  const temps = await Promise.allSettled(
    wanted.map((l) => writeTempFile(new TextEncoder().encode(l.digest), options)),
  );
  const made = temps.flatMap((t) => t.status === "fulfilled" ? [t.value] : []);
  const discard = async (from = 0) => {
    for (const tmp of made.slice(from)) await Deno.remove(tmp).catch(() => {});
  };
  const failed = temps.find((t): t is PromiseRejectedResult => t.status === "rejected");
  if (failed) {
    await discard();
    throw failed.reason;
  }
  if (wanted.length > 0) linkBatchProbe.staged?.(wanted.map((l) => l.path));
  return {
    async commit(after?: Promise<void>) {
      // Awaited below, once the directories are made: never an unhandled rejection meanwhile.
      after?.catch(() => {});
      let next = 0;
      let waiting = false;
      try {
        // Their directories only now: a link's directory does not appear before its content.
        await Promise.all(wanted.map((l) => root.ensureDir(dirname(l.path))));
        waiting = true;
        await after;
        waiting = false;
        // The links' bytes are fsynced, their directories are not: a link lost to a power cut
        // is written again by the next save.
        for (; next < wanted.length; next++) {
          linkBatchProbe.renaming?.(wanted[next].path);
          await Deno.rename(made[next], wanted[next].path);
        }
      } catch (err) {
        // A temp file swept meanwhile (another run's close removes those older than ten
        // minutes, a long download's among them): write the rest afresh.
        if (waiting || !retry || !(err instanceof Deno.errors.NotFound)) throw err;
        await discard(next);
        // Once more, without a further retry.
        await (await stageLinks(root, wanted.slice(next), stagingDir, { retry: false })).commit();
      } finally {
        await discard(next);
      }
    },
    discard: () => discard(),
  };
}
