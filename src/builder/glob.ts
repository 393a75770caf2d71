/**
 * Wildcards in COPY and ADD sources, with the semantics of Go's `filepath.Match` that the
 * Dockerfile frontends use: `*` is any run of characters within one path element, `?` one
 * character, `[...]` a class (`[^...]` negated, `a-z` ranges; a backwards range such as `z-a`
 * matches nothing), `\` escapes the next character. There is no `**`: each element of the pattern
 * matches exactly one element of the path.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { classSource, parseClass, regexpLiteral } from "../glob_syntax.ts";

/** Whether `pattern` holds a wildcard (otherwise it names one path). */
export function hasWildcard(pattern: string): boolean {
  return /[*?[]/.test(pattern.replace(/\\./g, ""));
}

/** Removes the escapes of a pattern without wildcards (`a\ b` → `a b`). */
export function unescapePattern(pattern: string): string {
  return pattern.replace(/\\(.)/g, "$1");
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
  let re = "^";
  let i = 0;
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
      re += regexpLiteral(chars[i + 1]);
      i += 2;
    } else if (ch === "[") {
      const cls = parseClass(chars, i);
      if (typeof cls === "string") return bad(cls);
      re += classSource(cls);
      i = cls.end;
    } else {
      re += regexpLiteral(ch);
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

/**
 * {@link compilePattern} for a COPY/ADD source: a bad pattern is reported through `fail` (which
 * names the instruction) as `invalid_input`, with the compiler's message.
 */
export function compileSourcePattern(
  pattern: string,
  fail: (message: string, code: "invalid_input") => never,
): PathPattern {
  try {
    return compilePattern(pattern);
  } catch (err) {
    return fail((err as Error).message, "invalid_input");
  }
}
