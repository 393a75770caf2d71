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
import {
  classSource,
  isReversed,
  parseClass,
  type PatternClass,
  regexpLiteral,
} from "../glob_syntax.ts";

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

/** Compiles a cleaned, syntax-checked pattern the way Docker's pattern matcher does. */
function compile(cleaned: string): { type: MatchType; regexp?: RegExp } {
  const p = Array.from(cleaned);
  let re = "^";
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
    } else if (ch === "\\") {
      if (i + 1 < p.length) {
        i++;
        re += regexpLiteral(p[i]);
        type = "regexp";
      } else {
        re += regexpLiteral(ch);
      }
    } else if (ch === "[") {
      const cls = parseClass(p, i) as PatternClass; // checked by syntaxError
      re += classSource(cls);
      i = cls.end - 1;
      type = "regexp";
    } else if (ch === "]") {
      re += regexpLiteral(ch);
      type = "regexp";
    } else {
      re += regexpLiteral(ch);
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
