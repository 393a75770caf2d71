/**
 * `.dockerignore` / `.containerignore` files, with Docker's rules:
 *
 * - one pattern per line; lines starting with `#` are comments, blank lines are skipped, patterns
 *   are trimmed and cleaned like Go's `filepath.Clean`, and a leading `/` is dropped (paths are
 *   relative to the context);
 * - `*` matches within one path element, `?` one character, `[...]` a class, `\` escapes, and `**`
 *   any number of elements (`**` at the start also matches at the root);
 * - a leading `!` makes an exception; the last matching pattern wins;
 * - a path is ignored when it or one of its parent directories matches.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/** Decides whether a context-relative, `/`-separated path is excluded. */
export type IgnoreFn = (relPath: string, isDir?: boolean) => boolean;

/** An {@link IgnoreFn} compiled from patterns. */
export interface IgnoreMatcher extends IgnoreFn {
  /**
   * Whether some pattern is an exception (`!…`). Only then can a path below an ignored directory
   * be included again, so walkers must look inside ignored directories.
   */
  readonly hasExceptions: boolean;
  /** The cleaned patterns, `!` kept, in order. */
  readonly patterns: readonly string[];
}

type MatchType = "exact" | "prefix" | "suffix" | "regexp";

interface Pattern {
  cleaned: string;
  exclusion: boolean;
  type: MatchType;
  regexp?: RegExp;
}

/** Go's `path.Clean` for `/`-separated paths. */
export function cleanPath(path: string): string {
  if (path === "") return ".";
  const rooted = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const joined = (rooted ? "/" : "") + out.join("/");
  return joined === "" ? "." : joined;
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  if (i < 0) return ".";
  return cleanPath(path.slice(0, i) || "/");
}

/** Checks a pattern against Go's `filepath.Match` syntax; returns an error text or undefined. */
function syntaxError(pattern: string): string | undefined {
  const p = Array.from(pattern);
  const n = p.length;
  let i = 0;
  // One character of a class (`c` or `\c`); `-` and `]` must be escaped, and the class must go on.
  const classChar = (): string | undefined => {
    if (i >= n || p[i] === "-" || p[i] === "]") return "bad character class";
    if (p[i] === "\\") {
      i++;
      if (i >= n) return "trailing escape in character class";
    }
    i++;
    if (i >= n) return "unterminated character class";
    return undefined;
  };
  while (i < n) {
    const c = p[i];
    if (c === "\\") {
      if (i + 1 >= n) return "trailing escape";
      i += 2;
      continue;
    }
    if (c !== "[") {
      i++;
      continue;
    }
    i++;
    if (i < n && p[i] === "^") i++;
    let ranges = 0;
    for (;;) {
      if (i < n && p[i] === "]" && ranges > 0) {
        i++;
        break;
      }
      const lo = classChar();
      if (lo) return lo;
      if (p[i] === "-") {
        i++;
        const hi = classChar();
        if (hi) return hi;
      }
      ranges++;
    }
  }
  return undefined;
}

const REGEXP_SYNTAX = new Set(Array.from("^$\\.*+?()[]{}|/"));
const GO_ESCAPED = new Set(Array.from(".+()|{}$"));

function literal(ch: string): string {
  return REGEXP_SYNTAX.has(ch) ? "\\" + ch : ch;
}

/** Compiles a cleaned pattern the way Docker's pattern matcher does. */
function compile(cleaned: string): { type: MatchType; regexp?: RegExp } {
  const p = Array.from(cleaned);
  let re = "^";
  let type: MatchType = "exact";
  let inClass = false;
  let classStart = -1;
  for (let i = 0, token = 0; i < p.length; i++, token++) {
    const ch = p[i];
    if (inClass) {
      // Class contents go to the regexp as written, escapes kept; wildcards are plain here.
      if (ch === "]" && i > classStart) {
        inClass = false;
        re += "]";
      } else if (ch === "\\" && i + 1 < p.length) {
        i++;
        re += "\\]-^[".includes(p[i]) || REGEXP_SYNTAX.has(p[i]) ? "\\" + p[i] : p[i];
      } else if (ch === "[" || ch === "*" || ch === "?" || GO_ESCAPED.has(ch)) {
        re += "\\" + ch;
      } else {
        re += ch;
      }
      continue;
    }
    if (ch === "*") {
      if (p[i + 1] === "*") {
        i++;
        if (p[i + 1] === "/") i++;
        if (i + 1 >= p.length) {
          if (type === "exact") type = "prefix";
          else {
            re += "[\\s\\S]*";
            type = "regexp";
          }
        } else {
          re += "(?:[\\s\\S]*/)?";
          type = "regexp";
        }
        if (token === 0) type = "suffix";
      } else {
        re += "[^/]*";
        type = "regexp";
      }
    } else if (ch === "?") {
      re += "[^/]";
      type = "regexp";
    } else if (GO_ESCAPED.has(ch)) {
      re += "\\" + ch;
    } else if (ch === "\\") {
      if (i + 1 < p.length) {
        i++;
        re += literal(p[i]);
        type = "regexp";
      } else {
        re += "\\\\";
      }
    } else if (ch === "[") {
      inClass = true;
      classStart = p[i + 1] === "^" ? i + 2 : i + 1;
      re += "[";
      if (p[i + 1] === "^") {
        re += "^";
        i++;
      }
      type = "regexp";
    } else if (ch === "]") {
      re += "\\]";
      type = "regexp";
    } else {
      re += literal(ch);
    }
  }
  if (type !== "regexp") return { type };
  return { type, regexp: new RegExp(re + "$", "u") };
}

function matchOne(pattern: Pattern, path: string): boolean {
  switch (pattern.type) {
    case "exact":
      return path === pattern.cleaned;
    case "prefix":
      return path.startsWith(pattern.cleaned.slice(0, -2));
    case "suffix": {
      const suffix = pattern.cleaned.slice(2);
      if (path.endsWith(suffix)) return true;
      // `**/foo` also matches `foo` at the root.
      return suffix.startsWith("/") && path === suffix.slice(1);
    }
    case "regexp":
      return pattern.regexp!.test(path);
  }
}

/**
 * Compiles ignore-file lines into a matcher.
 *
 * @param lines the file's lines (comments and blanks allowed)
 * @param source file name for messages (`.dockerignore`)
 * @throws {FerryError} `invalid_input` naming `source:line` for a malformed pattern.
 */
export function compileIgnore(lines: readonly string[], source = ".dockerignore"): IgnoreMatcher {
  const patterns: Pattern[] = [];
  lines.forEach((rawLine, index) => {
    let line = index === 0 ? rawLine.replace(/^\uFEFF/, "") : rawLine;
    if (line.startsWith("#")) return;
    line = line.trim();
    if (line === "") return;
    const invert = line.startsWith("!");
    if (invert) line = line.slice(1).trim();
    if (line.length > 0) {
      line = cleanPath(line);
      if (line.length > 1 && line.startsWith("/")) line = line.slice(1);
    }
    let p = cleanPath((invert ? "!" : "") + line);
    const where = `${source}:${index + 1}`;
    let exclusion = false;
    if (p.startsWith("!")) {
      if (p.length === 1) {
        throw new FerryError("invalid_input", `${where}: illegal exclusion pattern: "!"`);
      }
      exclusion = true;
      p = p.slice(1);
    }
    const error = syntaxError(p);
    if (error) {
      throw new FerryError("invalid_input", `${where}: bad pattern ${JSON.stringify(p)}: ${error}`);
    }
    patterns.push({ cleaned: p, exclusion, ...compile(p) });
  });

  const matcher = (relPath: string): boolean => {
    const path = cleanPath(relPath.replace(/^\/+/, ""));
    if (path === ".") return false;
    const parent = dirname(path);
    const parentDirs = parent.split("/");
    let matched = false;
    for (const pattern of patterns) {
      // An inclusion cannot change a match, an exception cannot change a non-match.
      if (pattern.exclusion !== matched) continue;
      let match = matchOne(pattern, path);
      if (!match && parent !== ".") {
        for (let i = 1; i <= parentDirs.length && !match; i++) {
          match = matchOne(pattern, parentDirs.slice(0, i).join("/"));
        }
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  };
  return Object.assign(matcher, {
    hasExceptions: patterns.some((p) => p.exclusion),
    patterns: patterns.map((p) => (p.exclusion ? "!" : "") + p.cleaned),
  });
}
