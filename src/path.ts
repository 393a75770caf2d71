/**
 * POSIX path arithmetic: the part of `node:path` ferry uses, with the same results as its posix
 * flavour (path_test.ts compares them). Importing `node:path` costs ferry's start-up about 10 ms
 * (it initialises part of Deno's Node compatibility layer); this module costs nothing.
 *
 * POSIX only, on purpose: ferry targets Linux (it relies on `flock`, on fsync of directories and on
 * POSIX modes), so `/` is the only separator and there are no drive letters. Paths are strings;
 * nothing here touches the file system except `resolve`, which reads the working directory when
 * no argument is absolute.
 *
 * @module
 */

/** The path separator. */
export const sep = "/";

/** The separator of entries in a list of paths, as in `PATH`. */
export const delimiter = ":";

/**
 * The segments of `path` with `.` and empty ones dropped and `..` applied. Above the root `..` is
 * dropped for an absolute path and kept for a relative one.
 */
function normalizeSegments(path: string, absolute: boolean): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(part);
  }
  return out.join("/");
}

/** True when `path` starts at the root. */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/**
 * `path` with `.`, `..` and repeated separators resolved lexically (symlinks are not followed);
 * a trailing separator is kept, and an empty result is `.`.
 */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = isAbsolute(path);
  let body = normalizeSegments(path, absolute);
  if (body === "" && !absolute) body = ".";
  if (body !== "" && path.endsWith("/")) body += "/";
  return absolute ? `/${body}` : body;
}

/** The non-empty `parts` joined by `/`, normalized; `.` when there are none. */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/**
 * The absolute, normalized path that `parts` name when applied from right to left until one is
 * absolute (the working directory when none is), without a trailing separator.
 */
export function resolve(...parts: string[]): string {
  let path = "";
  for (let i = parts.length - 1; i >= 0 && !isAbsolute(path); i--) {
    if (parts[i] !== "") path = path === "" ? parts[i] : `${parts[i]}/${path}`;
  }
  if (!isAbsolute(path)) path = path === "" ? Deno.cwd() : `${Deno.cwd()}/${path}`;
  return `/${normalizeSegments(path, true)}`;
}

/** The path from `from` to `to` (both resolved first); empty when they are the same. */
export function relative(from: string, to: string): string {
  const a = resolve(from);
  const b = resolve(to);
  if (a === b) return "";
  const aParts = a === "/" ? [] : a.slice(1).split("/");
  const bParts = b === "/" ? [] : b.slice(1).split("/");
  let same = 0;
  while (same < aParts.length && same < bParts.length && aParts[same] === bParts[same]) same++;
  return [...aParts.slice(same).map(() => ".."), ...bParts.slice(same)].join("/");
}

/** The end of `path` without its trailing separators (`/` stays `/`). */
function trimmedEnd(path: string): number {
  let end = path.length;
  while (end > 1 && path[end - 1] === "/") end--;
  return end;
}

/**
 * All of `path` but its last segment (trailing separators ignored): `.` when it has no directory
 * part, `/` for the root.
 */
export function dirname(path: string): string {
  if (path === "") return ".";
  const end = trimmedEnd(path);
  const slash = path.lastIndexOf("/", end - 1);
  if (slash === -1) return ".";
  if (slash === 0) return "/";
  // As node:path: only the separator before the last segment goes ("a//b" → "a/", "//a" → "//").
  return slash === 1 && path[0] === "/" ? "//" : path.slice(0, slash);
}

/** The last segment of `path` (trailing separators ignored); empty for the root. */
export function basename(path: string): string {
  const end = trimmedEnd(path);
  if (end === 1 && path[0] === "/") return "";
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}

/**
 * The extension of `path`'s last segment from its last `.` (`.` alone when it ends in one); empty
 * when it has none, for a leading one only (`.profile`) and for `..`.
 */
export function extname(path: string): string {
  const base = basename(path);
  const dot = base.lastIndexOf(".");
  return dot <= 0 || base === ".." ? "" : base.slice(dot);
}
