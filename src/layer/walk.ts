/**
 * Turning a directory into layer entries in a canonical order.
 *
 * @module
 */
import { join } from "../path.ts";
import { FerryError } from "../errors.ts";
import { fileReadable } from "../streams.ts";
import { normalizeLayerPath } from "./path.ts";
import type { ContentReader, DirEntry, LayerEntry } from "./types.ts";

/**
 * Decides whether a context-relative path is excluded (a compiled `.dockerignore`). When
 * `hasExceptions` is true the walker looks inside excluded directories for re-included paths.
 */
export type WalkIgnore = ((relPath: string, isDir: boolean) => boolean) & {
  readonly hasExceptions?: boolean;
};

/** Options of {@link walkTree}. */
export interface WalkOptions {
  /** Exclusion test, given paths relative to the build context. */
  ignore?: WalkIgnore;
  /**
   * Path of `src` relative to the build context (`""` when `src` is the context), prefixed to
   * the paths passed to `ignore`.
   */
  contextPath?: string;
  /** Emit an entry for the destination directory itself (default true). */
  includeRoot?: boolean;
  /** Owner of every entry (`--chown`); default 0. */
  uid?: number;
  /** Group of every entry; default 0. */
  gid?: number;
  /** Permission bits for files and directories (`--chmod`); default: those on disk. */
  mode?: number;
}

const encoder = new TextEncoder();

/** Orders names by their UTF-8 bytes (= code point order), as Go's sort of strings does. */
function compareNames(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function ioError(path: string, err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  if (err instanceof Deno.errors.NotFound) {
    return new FerryError("not_found", `${path}: no such file or directory`, { cause: err });
  }
  return new FerryError("io", `${path}: ${(err as Error).message}`, { cause: err });
}

/**
 * A file time in whole seconds, rounded to the nearest (halves up), as Go's archive/tar does when
 * no header format is forced (buildah, umoci), so that both give the same headers for the same
 * files. Exact from the millisecond `Date`: a truncated fraction is under .5 s exactly when the
 * nanosecond one is.
 */
export function tarSeconds(date: Date | null): number {
  return date ? Math.round(date.getTime() / 1000) : 0;
}

function joinDest(prefix: string, rel: string): string {
  return prefix === "" ? rel : rel === "" ? prefix : `${prefix}/${rel}`;
}

/**
 * Walks `src` and yields its entries under `destPrefix`, in a canonical order: depth first,
 * directory before its contents, siblings sorted by name bytes (GNU `tar --sort=name` order).
 *
 * - `src` itself is followed if it is a symlink; inside it, symlinks are kept as symlinks with
 *   their target unchanged.
 * - Files sharing an inode become hard links to the first one met.
 * - Sockets are skipped; devices and FIFOs are refused.
 * - A regular file as `src` yields one entry named `destPrefix`.
 * - Excluded paths are left out; an excluded directory is entered only when the ignore rules
 *   have exceptions, and is written (with its own metadata) only if something inside is kept.
 *
 * Paths are normalised (`/opt/app` → `opt/app`); `..` in `destPrefix` is refused.
 *
 * @throws {FerryError} `not_found` when `src` does not exist, `io` on read errors,
 *   `unsupported` for devices and FIFOs.
 */
export async function* walkTree(
  src: string,
  destPrefix: string,
  options: WalkOptions = {},
): AsyncGenerator<LayerEntry> {
  const prefix = destPrefix.replace(/^[/.]+$/, "") === ""
    ? ""
    : normalizeLayerPath(destPrefix, "destination");
  const uid = options.uid ?? 0;
  const gid = options.gid ?? 0;
  const ignore = options.ignore;
  const contextPath = (options.contextPath ?? "").replace(/^\/+|\/+$/g, "");
  const links = new Map<string, string>();

  let root: Deno.FileInfo;
  try {
    root = await Deno.stat(src);
  } catch (err) {
    throw ioError(src, err);
  }
  const modeOf = (info: Deno.FileInfo) => options.mode ?? ((info.mode ?? 0o644) & 0o7777);

  if (!root.isDirectory) {
    if (!root.isFile) {
      throw new FerryError(
        "unsupported",
        `${src}: only regular files and directories can be copied`,
      );
    }
    if (prefix === "") {
      throw new FerryError("invalid_input", `${src}: a file needs a destination path`);
    }
    yield {
      kind: "file",
      path: prefix,
      mode: modeOf(root),
      uid,
      gid,
      mtime: tarSeconds(root.mtime),
      size: root.size,
      open: () => openFile(src, root.size),
      reader: () => openReader(src),
    };
    return;
  }

  const pending: DirEntry[] = [];
  if (prefix !== "" && options.includeRoot !== false) {
    yield {
      kind: "dir",
      path: prefix,
      mode: modeOf(root),
      uid,
      gid,
      mtime: tarSeconds(root.mtime),
    };
  }

  async function* visit(dir: string, rel: string): AsyncGenerator<LayerEntry> {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) names.push(e.name);
    } catch (err) {
      throw ioError(dir, err);
    }
    names.sort(compareNames);
    for (const name of names) {
      const abs = join(dir, name);
      const childRel = rel === "" ? name : `${rel}/${name}`;
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(abs);
      } catch (err) {
        throw ioError(abs, err);
      }
      const path = joinDest(prefix, childRel);
      const base = { path, uid, gid, mtime: tarSeconds(info.mtime) };
      const ignored =
        ignore?.(contextPath === "" ? childRel : `${contextPath}/${childRel}`, info.isDirectory) ??
          false;
      if (info.isDirectory) {
        const entry: DirEntry = { kind: "dir", ...base, mode: modeOf(info) };
        if (ignored) {
          if (!ignore?.hasExceptions) continue;
          pending.push(entry);
          yield* visit(abs, childRel);
          if (pending[pending.length - 1] === entry) pending.pop();
          continue;
        }
        yield* flush();
        yield entry;
        yield* visit(abs, childRel);
        continue;
      }
      if (ignored) continue;
      if (info.isSymlink) {
        let target: string;
        try {
          target = await Deno.readLink(abs);
        } catch (err) {
          throw ioError(abs, err);
        }
        yield* flush();
        yield { kind: "symlink", ...base, mode: (info.mode ?? 0o777) & 0o7777, target };
        continue;
      }
      if (info.isFile) {
        yield* flush();
        const key = info.nlink !== null && info.nlink > 1 && info.ino !== null
          ? `${info.dev}:${info.ino}`
          : undefined;
        const first = key === undefined ? undefined : links.get(key);
        if (first !== undefined) {
          yield { kind: "hardlink", ...base, mode: modeOf(info), target: first };
          continue;
        }
        if (key !== undefined) links.set(key, path);
        yield {
          kind: "file",
          ...base,
          mode: modeOf(info),
          size: info.size,
          open: () => openFile(abs, info.size),
          reader: () => openReader(abs),
        };
        continue;
      }
      if (info.isSocket) continue;
      throw new FerryError(
        "unsupported",
        `${abs}: devices and FIFOs cannot be copied into a layer`,
      );
    }
  }

  /** Writes the excluded ancestors of an entry that is kept. */
  function* flush(): Generator<LayerEntry> {
    if (pending.length === 0) return;
    yield* pending;
    pending.length = 0;
  }

  yield* visit(src, "");
}

/** Opens a file for reads into the caller's buffers, errors naming the file. */
async function openReader(path: string): Promise<ContentReader> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    throw ioError(path, err);
  }
  return {
    read: async (into) => {
      try {
        return await file.read(into);
      } catch (err) {
        throw ioError(path, err);
      }
    },
    close: () => file.close(),
  };
}

/** Opens a file as a stream of large reads, sized by the expected length. */
async function openFile(path: string, size: number): Promise<ReadableStream<Uint8Array>> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    throw ioError(path, err);
  }
  return fileReadable(file, { size, mapError: (err) => ioError(path, err) });
}
