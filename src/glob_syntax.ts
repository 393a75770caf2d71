/**
 * The parts of Go's `filepath.Match` syntax that COPY sources and `.dockerignore` patterns share,
 * turned into regular-expression source: literal characters and character classes.
 *
 * Everything produced here is valid under the `u` flag wherever it is placed, inside a class or
 * outside one. That flag refuses identity escapes such as `\-` or `\!` outside a class, so
 * punctuation is written as `\xHH`, which every position accepts.
 *
 * @module
 */

/**
 * One character as a regular-expression literal: ASCII punctuation, spaces and controls as
 * `\xHH`, letters, digits and non-ASCII characters as they are.
 */
export function regexpLiteral(ch: string): string {
  const code = ch.codePointAt(0)!;
  if (code >= 0x80 || /^[A-Za-z0-9_]$/.test(ch)) return ch;
  return `\\x${code.toString(16).padStart(2, "0")}`;
}

/** A character class of a pattern, parsed. */
export interface PatternClass {
  /** `[^…]`. */
  negated: boolean;
  /** Inclusive ranges of single characters (code points); `a` alone is `["a", "a"]`. */
  ranges: [string, string][];
  /** Index in the pattern's characters just after the closing `]`. */
  end: number;
}

/**
 * Parses the class whose `[` is at `chars[open]`, as `filepath.Match` reads it: `^` first negates;
 * then one or more items `c` or `lo-hi`, where `\` escapes the next character and an unescaped
 * `-` or `]` is an error, up to the closing `]`.
 *
 * @returns the class, or the reason it is malformed.
 */
export function parseClass(chars: readonly string[], open: number): PatternClass | string {
  let i = open + 1;
  const negated = chars[i] === "^";
  if (negated) i++;
  /** One character of the class, an escape resolved; the class must go on after it. */
  const item = (): string | { error: string } => {
    if (i >= chars.length) return { error: "unterminated character class" };
    let ch = chars[i];
    if (ch === "-" || ch === "]") return { error: "bad character class" };
    if (ch === "\\") {
      i++;
      if (i >= chars.length) return { error: "trailing escape in character class" };
      ch = chars[i];
    }
    i++;
    if (i >= chars.length) return { error: "unterminated character class" };
    return ch;
  };
  const ranges: [string, string][] = [];
  for (;;) {
    if (chars[i] === "]" && ranges.length > 0) return { negated, ranges, end: i + 1 };
    const lo = item();
    if (typeof lo !== "string") return lo.error;
    let hi = lo;
    if (chars[i] === "-") {
      i++;
      const end = item();
      if (typeof end !== "string") return end.error;
      hi = end;
    }
    ranges.push([lo, hi]);
  }
}

/** Whether a range runs backwards (`z-a`), which matches nothing. */
export function isReversed([lo, hi]: [string, string]): boolean {
  return lo.codePointAt(0)! > hi.codePointAt(0)!;
}

/**
 * The regular-expression source of a class. A backwards range matches nothing, as in
 * `filepath.Match` (a regular expression would refuse it), so it is left out; a class of nothing
 * but such ranges becomes `[]` (matches nothing) or `[^]` (matches any character).
 */
export function classSource(cls: PatternClass): string {
  const items = cls.ranges
    .filter((r) => !isReversed(r))
    .map(([lo, hi]) => lo === hi ? regexpLiteral(lo) : `${regexpLiteral(lo)}-${regexpLiteral(hi)}`);
  return `[${cls.negated ? "^" : ""}${items.join("")}]`;
}
