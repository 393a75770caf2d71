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
import { normalize } from "../path.ts";
import { classSource, isReversed, parseClass, type PatternClass } from "../glob_syntax.ts";

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
  glob?: GlobToken[];
}

/**
 * One element of a compiled pattern: a character, one character passing a test (`?`, a class),
 * a run of characters (`*` without `/`, a trailing `**` with), or `**` followed by more (nothing,
 * or anything ending in `/`).
 */
type GlobToken =
  | { kind: "lit"; ch: string }
  | { kind: "one"; test: (ch: string) => boolean }
  | { kind: "star"; slash: boolean }
  | { kind: "dirs" };

/** Go's `path.Clean` for `/`-separated paths: {@link normalize} without a trailing separator. */
export function cleanPath(path: string): string {
  const cleaned = normalize(path);
  return cleaned.length > 1 && cleaned.endsWith("/") ? cleaned.slice(0, -1) : cleaned;
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  if (i < 0) return ".";
  return cleanPath(path.slice(0, i) || "/");
}

/**
 * Checks a pattern against Go's `filepath.Match` syntax, as Docker does before compiling it;
 * returns an error text or undefined. A backwards class range (`z-a`), which Docker's regular
 * expression refuses, is an error too.
 */
function syntaxError(pattern: string): string | undefined {
  const p = Array.from(pattern);
  let i = 0;
  while (i < p.length) {
    const c = p[i];
    if (c === "\\") {
      if (i + 1 >= p.length) return "trailing escape";
      i += 2;
    } else if (c === "[") {
      const cls = parseClass(p, i);
      if (typeof cls === "string") return cls;
      const backwards = cls.ranges.find(isReversed);
      if (backwards) return `backwards range ${backwards.join("-")} in character class`;
      i = cls.end;
    } else {
      i++;
    }
  }
  return undefined;
}

/**
 * Compiles a cleaned, syntax-checked pattern the way Docker's pattern matcher does. Docker builds
 * a Go regular expression; the same pattern as a backtracking `RegExp` takes exponential time
 * (`*a*a*a*a*a*a*a*a*a*ab` against a long name), so it is matched by {@link matchGlob} instead.
 */
function compile(cleaned: string): { type: MatchType; glob?: GlobToken[] } {
  const p = Array.from(cleaned);
  const glob: GlobToken[] = [];
  let type: MatchType = "exact";
  for (let i = 0, token = 0; i < p.length; i++, token++) {
    const ch = p[i];
    if (ch === "*") {
      if (p[i + 1] === "*") {
        i++;
        if (p[i + 1] === "/") i++;
        if (i + 1 >= p.length) {
          if (type === "exact") type = "prefix";
          else {
            glob.push({ kind: "star", slash: true });
            type = "regexp";
          }
        } else {
          glob.push({ kind: "dirs" });
          type = "regexp";
        }
        if (token === 0) type = "suffix";
      } else {
        glob.push({ kind: "star", slash: false });
        type = "regexp";
      }
    } else if (ch === "?") {
      glob.push({ kind: "one", test: (c) => c !== "/" });
      type = "regexp";
    } else if (ch === "\\") {
      if (i + 1 < p.length) {
        i++;
        glob.push({ kind: "lit", ch: p[i] });
        type = "regexp";
      } else {
        glob.push({ kind: "lit", ch });
      }
    } else if (ch === "[") {
      const cls = parseClass(p, i) as PatternClass; // checked by syntaxError
      const one = new RegExp(`^${classSource(cls)}$`, "u");
      glob.push({ kind: "one", test: (c) => one.test(c) });
      i = cls.end - 1;
      type = "regexp";
    } else if (ch === "]") {
      glob.push({ kind: "lit", ch });
      type = "regexp";
    } else {
      glob.push({ kind: "lit", ch });
    }
  }
  if (type !== "regexp") return { type };
  return { type, glob };
}

/**
 * Whether `glob` matches the whole of `path`, run as an automaton: the set of tokens reachable
 * after each character, so the time is at most the path's length × the pattern's.
 */
function matchGlob(glob: GlobToken[], path: string): boolean {
  // Adds `state` and what follows it without consuming: `*` and `**/` may match nothing.
  const enter = (set: Set<number>, state: number) => {
    for (let s = state;; s++) {
      set.add(s);
      const kind = glob[s]?.kind;
      if (kind !== "star" && kind !== "dirs") return;
    }
  };
  let states = new Set<number>();
  enter(states, 0);
  for (const ch of path) {
    const next = new Set<number>();
    for (const s of states) {
      const token = glob[s];
      if (token === undefined) continue;
      switch (token.kind) {
        case "lit":
          if (ch === token.ch) enter(next, s + 1);
          break;
        case "one":
          if (token.test(ch)) enter(next, s + 1);
          break;
        case "star":
          if (token.slash || ch !== "/") enter(next, s);
          break;
        case "dirs":
          // Inside `**/`: any character stays, and a `/` may end it.
          next.add(s);
          if (ch === "/") enter(next, s + 1);
          break;
      }
    }
    if (next.size === 0) return false;
    states = next;
  }
  return states.has(glob.length);
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
      return matchGlob(pattern.glob!, path);
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
