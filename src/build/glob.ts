/**
 * Wildcards in COPY and ADD sources, with the semantics of Go's `filepath.Match` that the
 * Dockerfile frontends use: `*` is any run of characters within one path element, `?` one
 * character, `[...]` a class (`[^...]` negated, `a-z` ranges), `\` escapes the next character.
 * There is no `**`: each element of the pattern matches exactly one element of the path.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/** Whether `pattern` holds a wildcard (otherwise it names one path). */
export function hasWildcard(pattern: string): boolean {
  return /[*?[]/.test(pattern.replace(/\\./g, ""));
}

/** Removes the escapes of a pattern without wildcards (`a\ b` → `a b`). */
export function unescapePattern(pattern: string): string {
  return pattern.replace(/\\(.)/g, "$1");
}

const REGEXP_SPECIAL = /[\\^$.*+?()[\]{}|/-]/;

function literal(ch: string): string {
  return REGEXP_SPECIAL.test(ch) ? `\\${ch}` : ch;
}

/**
 * Compiles one path element of a pattern into a regular expression matching one path element.
 *
 * @throws {FerryError} `invalid_input` for a malformed class or a trailing escape.
 */
export function compileSegment(segment: string): RegExp {
  const chars = Array.from(segment);
  const bad = (why: string): never => {
    throw new FerryError("invalid_input", `bad pattern ${JSON.stringify(segment)}: ${why}`);
  };
  let i = 0;
  /** One character of a class, `\x` escapes included; `-` and `]` must be escaped. */
  const classChar = (): string => {
    if (i >= chars.length) bad("unterminated character class");
    let ch = chars[i];
    if (ch === "-" || ch === "]") bad("bad character class");
    if (ch === "\\") {
      i++;
      if (i >= chars.length) bad("trailing escape in character class");
      ch = chars[i];
    }
    i++;
    return ch;
  };
  let re = "^";
  while (i < chars.length) {
    const ch = chars[i];
    if (ch === "*") {
      re += "[^/]*";
      i++;
    } else if (ch === "?") {
      re += "[^/]";
      i++;
    } else if (ch === "\\") {
      if (i + 1 >= chars.length) bad("trailing escape");
      re += literal(chars[i + 1]);
      i += 2;
    } else if (ch === "[") {
      i++;
      let cls = "[";
      if (chars[i] === "^") {
        cls += "^";
        i++;
      }
      let ranges = 0;
      for (;;) {
        if (i >= chars.length) bad("unterminated character class");
        if (chars[i] === "]" && ranges > 0) {
          i++;
          break;
        }
        const lo = classChar();
        if (chars[i] === "-") {
          i++;
          const hi = classChar();
          cls += `${literal(lo)}-${literal(hi)}`;
        } else {
          cls += literal(lo);
        }
        ranges++;
      }
      re += cls + "]";
    } else {
      re += literal(ch);
      i++;
    }
  }
  return new RegExp(re + "$", "u");
}

/** A compiled multi-element pattern. */
export interface PathPattern {
  /** One expression per path element. */
  readonly segments: readonly RegExp[];
  /** Whether a path (`/`-separated, relative) matches element for element. */
  matches(path: string): boolean;
}

/**
 * Compiles a relative, cleaned, `/`-separated pattern.
 *
 * @throws {FerryError} `invalid_input` for malformed classes or escapes.
 */
export function compilePattern(pattern: string): PathPattern {
  const segments = pattern.split("/").map(compileSegment);
  return {
    segments,
    matches(path: string): boolean {
      const parts = path.split("/");
      return parts.length === segments.length && parts.every((p, i) => segments[i].test(p));
    },
  };
}
