/**
 * What one COPY or ADD puts into its layer, as the Dockerfile frontends define it:
 *
 * - sources are relative to the build context (a leading `/` too) and may not leave it, through
 *   `..` or through a symlink; paths the `.dockerignore` excludes do not exist for them;
 * - wildcards (`*`, `?`, `[...]`) match within one path element each;
 * - a directory source copies its contents (not the directory itself) into the destination;
 * - a file source goes to `dest` itself, or into it when `dest` ends in `/` (required with
 *   several sources);
 * - the destination is relative to WORKDIR; it and its missing parents are created with mode
 *   0755 (owned by `--chown` when given);
 * - ADD extracts local tar archives (plain, gzip, zstd) into the destination.
 *
 * Context inputs are listed (metadata only) before anything is written, so the layer cache can
 * recognise unchanged inputs without reading a byte of them.
 *
 * @module
 */
import { basename, join } from "../path.ts";
import type { Sha256 } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { cleanPath, type IgnoreMatcher } from "../kubefile/mod.ts";
import { type LayerEntry, readLayer, tarSeconds, walkTree } from "../layer/mod.ts";
import { resolveWithin } from "../fs_util.ts";
import { compileSourcePattern, hasWildcard } from "./glob.ts";

/** `--chown` resolved to numbers. */
export interface Owner {
  uid: number;
  gid: number;
}

/**
 * Parses `--chown=user[:group]`. Only numeric ids (and `root`) are understood: names would need the
 * image's `/etc/passwd`, and cluster images rarely have one.
 *
 * @throws {FerryError} `unsupported` for user or group names.
 */
export function parseChown(text: string, where: string): Owner {
  const [user, group] = text.split(":", 2);
  const id = (part: string, what: string): number => {
    if (part === "root") return 0;
    if (/^\d+$/.test(part) && Number(part) <= 0xffffffff) return Number(part);
    throw new FerryError(
      "unsupported",
      `${where}: --chown=${text}: ${what} ${
        JSON.stringify(part)
      } is not a number (names need the image's /etc/passwd; use numeric ids)`,
    );
  };
  const uid = id(user, "user");
  return { uid, gid: group === undefined || group === "" ? uid : id(group, "group") };
}

/** A destination resolved against WORKDIR. */
export interface Destination {
  /** Normalised path inside the image, `""` for the root. */
  path: string;
  /** Whether it names a directory (`/` at the end, `.`, or the root). */
  isDir: boolean;
}

/** Resolves a COPY destination against the working directory. */
export function resolveDestination(dest: string, workdir: string): Destination {
  const isDir = dest.endsWith("/") || dest === "." || dest.endsWith("/.") || dest === "..";
  const abs = dest.startsWith("/") ? dest : `${workdir.replace(/\/*$/, "")}/${dest}`;
  const cleaned = cleanPath(abs);
  const path = cleaned === "/" ? "" : cleaned.replace(/^\/+/, "");
  return { path, isDir: isDir || path === "" };
}

/** The directory entries for `path` and each missing parent, outermost first. */
export function directoryChain(
  path: string,
  owner: Owner | undefined,
  mtime: number,
): LayerEntry[] {
  if (path === "") return [];
  const parts = path.split("/");
  return parts.map((_, i) => ({
    kind: "dir" as const,
    path: parts.slice(0, i + 1).join("/"),
    mode: 0o755,
    uid: owner?.uid ?? 0,
    gid: owner?.gid ?? 0,
    mtime,
  }));
}

/** One source found in the context. */
export interface ContextSource {
  /** Path relative to the context (`""` for the context itself). */
  rel: string;
  /** Absolute path. */
  abs: string;
  isDir: boolean;
}

/** The build context as COPY sees it. */
export interface BuildContext {
  /** Absolute path of the context directory. */
  dir: string;
  /** The real path of `dir` (symlinks resolved), to keep sources inside. */
  realDir: string;
  /** Compiled `.dockerignore`/`.containerignore`, if any. */
  ignore?: IgnoreMatcher;
  /** More exclusions (the registry content of other platforms in a multi-platform build). */
  exclude?: (relPath: string) => boolean;
}

function excluded(ctx: BuildContext, rel: string, isDir: boolean): boolean {
  if (rel === "") return false;
  return (ctx.ignore?.(rel, isDir) ?? false) || (ctx.exclude?.(rel) ?? false);
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw new FerryError("io", `${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Finds the context paths a source pattern names.
 *
 * @param fail reports a problem with this source (prefixes file, line and instruction).
 */
export async function findContextSources(
  ctx: BuildContext,
  pattern: string,
  fail: (message: string, code?: "not_found" | "invalid_input") => never,
): Promise<ContextSource[]> {
  const cleaned = cleanPath(pattern.replace(/^\/+/, ""));
  if (cleaned === ".." || cleaned.startsWith("../")) {
    fail(`source ${JSON.stringify(pattern)} is outside the build context`, "invalid_input");
  }
  const rel = cleaned === "." ? "" : cleaned;
  let rels: string[];
  if (hasWildcard(rel)) {
    const matcher = compileSourcePattern(rel, fail);
    rels = await expandPattern(ctx, matcher.segments);
    if (rels.length === 0) fail(`no source files match ${JSON.stringify(pattern)}`);
  } else {
    rels = [rel];
  }
  const out: ContextSource[] = [];
  for (const r of rels) {
    const abs = r === "" ? ctx.dir : join(ctx.dir, r);
    const info = await lstatOrUndefined(abs);
    let isDir = info?.isDirectory ?? false;
    if (info) {
      // The source, or a parent that is a symlink, could lead out of the context.
      const resolved = await resolveWithin(ctx.realDir, abs);
      if (!resolved) fail(`source ${JSON.stringify(r)} is a dangling symlink`);
      if (!resolved.inside) {
        fail(
          info.isSymlink
            ? `source ${
              JSON.stringify(r)
            } is a symlink to ${resolved.real}, outside the build context`
            : `source ${JSON.stringify(r)} resolves to ${resolved.real}, outside the build context`,
          "invalid_input",
        );
      }
      if (info.isSymlink) isDir = (await Deno.stat(abs)).isDirectory;
    }
    const hidden = info !== undefined && excluded(ctx, r, isDir) &&
      !(isDir && ctx.ignore?.hasExceptions);
    if (!info || hidden) {
      fail(
        `source ${JSON.stringify(pattern)} not found in the build context` +
          (hidden ? " (excluded by the ignore file)" : ""),
      );
    }
    out.push({ rel: r, abs, isDir });
  }
  return out;
}

/** Expands a wildcard pattern element by element; excluded paths never match. */
async function expandPattern(ctx: BuildContext, segments: readonly RegExp[]): Promise<string[]> {
  let current = [""];
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const dir of current) {
      const abs = dir === "" ? ctx.dir : join(ctx.dir, dir);
      let names: string[];
      try {
        names = [];
        for await (const e of Deno.readDir(abs)) names.push(e.name);
      } catch {
        continue;
      }
      names.sort();
      for (const name of names) {
        if (!segment.test(name)) continue;
        const rel = dir === "" ? name : `${dir}/${name}`;
        const info = await Deno.stat(join(ctx.dir, rel)).catch(() => undefined);
        if (!info) continue;
        if (
          excluded(ctx, rel, info.isDirectory) && !(info.isDirectory && ctx.ignore?.hasExceptions)
        ) {
          continue;
        }
        if (!last && !info.isDirectory) continue;
        next.push(rel);
      }
    }
    current = next;
  }
  return current;
}

/** Archive formats ADD recognises by their first bytes. */
type ArchiveKind = "tar" | "gzip" | "zstd" | "bzip2" | "xz";

/** Sniffs whether a file is an archive ADD extracts. */
export async function archiveKind(path: string): Promise<ArchiveKind | undefined> {
  const file = await Deno.open(path, { read: true });
  try {
    const head = new Uint8Array(512);
    let got = 0;
    while (got < head.length) {
      const n = await file.read(head.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (got >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
    if (got >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
      return "zstd";
    }
    if (got >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return "bzip2";
    if (got >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58) {
      return "xz";
    }
    if (got === 512 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar") return "tar";
    return undefined;
  } finally {
    file.close();
  }
}

/** Whether a gzip or zstd file holds a tar (its first entry reads). */
async function holdsTar(path: string): Promise<boolean> {
  const file = await Deno.open(path, { read: true });
  const entries = readLayer(file.readable, { where: path });
  try {
    await entries.next();
    return true;
  } catch {
    return false;
  } finally {
    await entries.return(undefined).catch(() => {});
  }
}

/**
 * Streams an archive's entries under `destDir` (ADD). Whiteout files are kept as the files they
 * are in the archive; devices and FIFOs are refused.
 */
export async function* archiveEntries(
  path: string,
  destDir: string,
  options: { owner?: Owner; mode?: number; where: string },
): AsyncGenerator<LayerEntry> {
  const file = await Deno.open(path, { read: true });
  const under = (p: string) => destDir === "" ? p : `${destDir}/${p}`;
  for await (const e of readLayer(file.readable, { where: options.where })) {
    const base = {
      mode: options.mode ?? e.mode,
      uid: options.owner?.uid ?? e.uid,
      gid: options.owner?.gid ?? e.gid,
      mtime: e.mtime,
    };
    switch (e.kind) {
      case "dir":
        yield { kind: "dir", path: under(e.path), ...base };
        break;
      case "file": {
        const body = e.body;
        yield { kind: "file", path: under(e.path), ...base, size: e.size, open: () => body };
        break;
      }
      case "symlink":
        yield { kind: "symlink", path: under(e.path), ...base, mode: e.mode, target: e.target };
        break;
      case "hardlink":
        yield { kind: "hardlink", path: under(e.path), ...base, target: under(e.target) };
        break;
      case "whiteout":
      case "opaque": {
        const slash = e.path.lastIndexOf("/");
        const name = e.kind === "opaque"
          ? `${e.path}/.wh..wh..opq`
          : `${e.path.slice(0, slash + 1)}.wh.${e.path.slice(slash + 1)}`;
        yield { kind: "file", path: under(name), ...base, size: 0 };
        break;
      }
      default:
        throw new FerryError(
          "unsupported",
          `${options.where}: ${e.path}: device files and FIFOs cannot be added`,
        );
    }
  }
}

/** A planned COPY/ADD from the context. */
export interface ContextCopy {
  /** Entries listed up front (context files; not archive contents). */
  listed: LayerEntry[];
  /**
   * Per listed entry, the precise modification and change times of its source (empty for
   * directories ferry creates): what tells the layer cache that a file changed, even when its
   * size did not and `--timestamp` clamps its time in the layer.
   */
  stamps: string[];
  /** Per listed entry, its path relative to the build context (`""` for directories ferry creates). */
  contextPaths: string[];
  /** Archives to extract after the listed entries (ADD), with their stat for the cache key. */
  archives: { path: string; destDir: string; size: number; mtime: number; stamp: string }[];
  /** Newest modification time among the inputs. */
  newest: number;
  /** The sources found. */
  sources: ContextSource[];
}

/** Options of {@link planContextCopy}. */
export interface PlanOptions {
  /** Source patterns as written (after substitution). */
  sources: string[];
  /** Resolved destination. */
  dest: Destination;
  /** Extract local archives (ADD). */
  extract: boolean;
  owner?: Owner;
  chmod?: number;
  /** `--exclude` patterns, compiled. */
  excludes?: IgnoreMatcher;
  /** Reports a problem (prefixes file, line and instruction). */
  fail: (message: string, code?: "not_found" | "invalid_input" | "unsupported") => never;
}

/** Precise times of a path, for the layer cache (not the inode: copies of a tree still match). */
function stampOf(info: Deno.FileInfo | undefined): string {
  return info ? `${info.mtime?.getTime() ?? ""}/${info.ctime?.getTime() ?? ""}` : "";
}

async function lstamp(path: string): Promise<string> {
  return stampOf(await Deno.lstat(path).catch(() => undefined));
}

/** Lists what a COPY/ADD from the context writes. */
export async function planContextCopy(
  ctx: BuildContext,
  options: PlanOptions,
): Promise<ContextCopy> {
  const found: ContextSource[] = [];
  for (const pattern of options.sources) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pattern) || pattern.startsWith("git@")) {
      options.fail(
        `remote source ${
          JSON.stringify(pattern)
        } is not supported: download it into the build context and COPY it`,
        "unsupported",
      );
    }
    found.push(...await findContextSources(ctx, pattern, options.fail));
  }
  const { dest } = options;
  if (found.length > 1 && !dest.isDir) {
    options.fail(
      `with several sources the destination must be a directory ending in "/" (got ${
        JSON.stringify(dest.path === "" ? "/" : dest.path)
      })`,
      "invalid_input",
    );
  }
  const listed: LayerEntry[] = [];
  const stamps: string[] = [];
  const contextPaths: string[] = [];
  const archives: ContextCopy["archives"] = [];
  let newest = 0;
  for (const source of found) {
    if (source.isDir) {
      const ignore = Object.assign(
        (rel: string, isDir: boolean) =>
          excluded(ctx, rel, isDir) ||
          (options.excludes?.(relativeTo(rel, source.rel), isDir) ?? false),
        { hasExceptions: ctx.ignore?.hasExceptions ?? false },
      );
      for await (
        const entry of walkTree(source.abs, dest.path, {
          ignore,
          contextPath: source.rel,
          includeRoot: false,
          uid: options.owner?.uid,
          gid: options.owner?.gid,
          mode: options.chmod,
        })
      ) {
        listed.push(entry);
        const rel = dest.path === "" ? entry.path : entry.path.slice(dest.path.length + 1);
        stamps.push(await lstamp(join(source.abs, rel)));
        contextPaths.push(
          source.rel === "" ? rel : rel === "" ? source.rel : `${source.rel}/${rel}`,
        );
        newest = Math.max(newest, entry.mtime ?? 0);
      }
      continue;
    }
    const info = await Deno.stat(source.abs);
    newest = Math.max(newest, tarSeconds(info.mtime));
    if (options.extract) {
      const kind = await archiveKind(source.abs);
      if (kind === "bzip2" || kind === "xz") {
        options.fail(
          `${source.rel}: ${kind} archives are not supported (use gzip, zstd or plain tar)`,
          "unsupported",
        );
      }
      if (kind === "tar" || ((kind === "gzip" || kind === "zstd") && await holdsTar(source.abs))) {
        archives.push({
          path: source.abs,
          destDir: dest.path,
          size: info.size,
          mtime: tarSeconds(info.mtime),
          stamp: stampOf(info),
        });
        continue;
      }
    }
    const path = dest.isDir
      ? (dest.path === "" ? "" : `${dest.path}/`) + basename(source.rel)
      : dest.path;
    if (path === "") {
      options.fail(`cannot copy the file ${source.rel} onto the root directory`, "invalid_input");
    }
    for await (
      const entry of walkTree(source.abs, path, {
        uid: options.owner?.uid,
        gid: options.owner?.gid,
        mode: options.chmod,
      })
    ) {
      listed.push(entry);
      stamps.push(stampOf(info));
      contextPaths.push(source.rel);
    }
  }
  // The destination directory (and its parents) when something goes into it.
  const destDir = found.some((s) => s.isDir) || dest.isDir || archives.length > 0
    ? dest.path
    : dest.path.split("/").slice(0, -1).join("/");
  const chain = directoryChain(destDir, options.owner, newest);
  return {
    listed: [...chain, ...listed],
    stamps: [...chain.map(() => ""), ...stamps],
    contextPaths: [...chain.map(() => ""), ...contextPaths],
    archives,
    newest,
    sources: found,
  };
}

function relativeTo(rel: string, base: string): string {
  return base === "" ? rel : rel === base ? "" : rel.slice(base.length + 1);
}

/** All entries of a planned copy, listed ones first, then the archives' contents. */
export async function* contextCopyEntries(
  plan: ContextCopy,
  options: { owner?: Owner; chmod?: number; where: string },
): AsyncGenerator<LayerEntry> {
  yield* plan.listed;
  for (const a of plan.archives) {
    yield* archiveEntries(a.path, a.destDir, {
      owner: options.owner,
      mode: options.chmod,
      where: `${options.where}: ${a.path}`,
    });
  }
}

/**
 * Adds the metadata of entries (and their sources' precise times, when given) to a cache-key
 * hash; never their contents. Times go in unclamped: `--timestamp` must not hide a change.
 */
export function hashEntries(
  hasher: Sha256,
  entries: readonly LayerEntry[],
  stamps: readonly string[] = [],
): void {
  const enc = new TextEncoder();
  for (const [i, e] of entries.entries()) {
    const mtime = Math.floor(e.mtime ?? 0);
    const extra = e.kind === "file"
      ? String(e.size)
      : e.kind === "symlink" || e.kind === "hardlink"
      ? e.target
      : "";
    hasher.update(
      enc.encode(
        `${e.kind}\0${e.path}\0${e.mode}\0${e.uid ?? 0}\0${e.gid ?? 0}\0${mtime}\0${extra}\0${
          stamps[i] ?? ""
        }\n`,
      ),
    );
  }
}
