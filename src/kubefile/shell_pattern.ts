/**
 * The `*`/`?` patterns of `${NAME#…}`, `${NAME%…}` and `${NAME/…/…}`, matched without
 * backtracking.
 *
 * The Dockerfile frontend turns these patterns into Go regular expressions, which run in linear
 * time. A backtracking engine takes exponential time on the same patterns (`${A/*****y/z}` over a
 * value without `y`), and both pattern and value come from the Kubefile. Here a pattern is run as
 * a small automaton, one step per character for every live state, with the priorities of the
 * regular expression it stands for (a greedy `*` prefers to take one more character, a lazy one
 * to stop), so every match is the one the regular expression finds.
 *
 * @module
 */

/** A pattern element: a literal character, `?` (any one character) or `*` (any run). */
type Token = { kind: "lit"; ch: string } | { kind: "any" } | { kind: "star" };

/** Raised for an invalid escape or a match that would take too many steps. */
export class PatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatternError";
  }
}

/**
 * Most automaton steps (live states × characters) the pattern substitutions of one word, or of
 * one instruction file, may take together: a bound on their work (about half a second); real
 * patterns over real values take a few thousand.
 */
export const MAX_PATTERN_STEPS = 4_000_000;

/** Steps that pattern matching may still take; shared by the matches it bounds. */
export interface StepBudget {
  left: number;
}

/** A fresh budget of {@link MAX_PATTERN_STEPS}. */
export function stepBudget(): StepBudget {
  return { left: MAX_PATTERN_STEPS };
}

/** A compiled pattern. */
export class ShellPattern {
  readonly #tokens: Token[];
  readonly #greedy: boolean;
  readonly #budget: StepBudget;

  /**
   * @param pattern the pattern as written; `\*`, `\?` and `\\` are literal, `\}` and `\/` are the
   *   character after the escape (the escape only ended the `${}` syntax).
   * @param greedy whether `*` takes the longest run (`##`, `%%`, `/`) or the shortest (`#`, `%`).
   * @param budget steps this pattern's matches may take (shared with other patterns).
   * @throws {PatternError} for any other escape.
   */
  constructor(pattern: string, greedy: boolean, budget: StepBudget = stepBudget()) {
    this.#greedy = greedy;
    this.#budget = budget;
    const chars = Array.from(pattern);
    const tokens: Token[] = [];
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      if (ch === "*") tokens.push({ kind: "star" });
      else if (ch === "?") tokens.push({ kind: "any" });
      else if (ch === "\\") {
        const nextCh = chars[i + 1];
        if (nextCh === "}" || nextCh === "/") continue;
        i++;
        if (nextCh !== "*" && nextCh !== "?" && nextCh !== "\\") {
          throw new PatternError(
            `invalid pattern (${pattern}) in substitution: invalid escape '\\${nextCh ?? ""}'`,
          );
        }
        tokens.push({ kind: "lit", ch: nextCh });
      } else tokens.push({ kind: "lit", ch });
    }
    this.#tokens = tokens;
  }

  /**
   * The first match in `chars` (code points) starting at or after `from` (only at `from` when
   * `anchored`), as `[start, end)` code point offsets; `undefined` when there is none.
   *
   * @throws {PatternError} when the budget runs out.
   */
  match(chars: readonly string[], from: number, anchored: boolean): [number, number] | undefined {
    const m = this.#tokens.length;
    // Threads in priority order: the state (token index; m = matched) and where it started.
    let current: { state: number; start: number }[] = [];
    let found: [number, number] | undefined;
    for (let pos = from; pos <= chars.length; pos++) {
      if (found === undefined && (!anchored || pos === from)) {
        current = this.#addClosure(current, new Set(current.map((t) => t.state)), 0, pos);
      }
      if (current.length === 0) break;
      this.#budget.left -= current.length;
      if (this.#budget.left < 0) {
        throw new PatternError(
          `pattern substitutions take more than ${MAX_PATTERN_STEPS} steps; use shorter ` +
            "patterns or values",
        );
      }
      const next: { state: number; start: number }[] = [];
      const seen = new Set<number>();
      for (const thread of current) {
        if (thread.state === m) {
          // A match cuts off every thread of lower priority, as in the regular expression.
          found = [thread.start, pos];
          break;
        }
        if (pos === chars.length) continue;
        const token = this.#tokens[thread.state];
        if (token.kind === "lit" && token.ch !== chars[pos]) continue;
        // `?` and a literal move on; `*` consumes the character and may take more.
        const to = token.kind === "star" ? thread.state : thread.state + 1;
        this.#addClosure(next, seen, to, thread.start);
      }
      current = next;
    }
    return found;
  }

  /** Appends the threads reached from `state` without consuming a character. */
  #addClosure(
    list: { state: number; start: number }[],
    seen: Set<number>,
    state: number,
    start: number,
  ): { state: number; start: number }[] {
    // A run of stars, then the first other token (or the end); a state already in the list was
    // reached with a higher priority and ends the walk.
    const stars: number[] = [];
    let s = state;
    for (; !seen.has(s) && this.#tokens[s]?.kind === "star"; s++) {
      seen.add(s);
      stars.push(s);
    }
    const last = seen.has(s) ? undefined : s;
    if (last !== undefined) seen.add(last);
    if (this.#greedy) {
      // Each star prefers taking one more character to stopping.
      for (const star of stars) list.push({ state: star, start });
      if (last !== undefined) list.push({ state: last, start });
    } else {
      // Each star prefers stopping: what follows the run first, then the stars innermost first.
      if (last !== undefined) list.push({ state: last, start });
      for (let i = stars.length - 1; i >= 0; i--) list.push({ state: stars[i], start });
    }
    return list;
  }
}

/** Removes the shortest (or with `greedy` the longest) prefix of `value` matching `pattern`. */
export function trimPrefix(
  pattern: string,
  value: string,
  greedy: boolean,
  budget?: StepBudget,
): string {
  const chars = Array.from(value);
  const m = new ShellPattern(pattern, greedy, budget).match(chars, 0, true);
  return m ? chars.slice(m[1]).join("") : value;
}

/** Removes the shortest (or with `greedy` the longest) suffix of `value` matching `pattern`. */
export function trimSuffix(
  pattern: string,
  value: string,
  greedy: boolean,
  budget?: StepBudget,
): string {
  // Matching runs left to right: reverse both to trim from the right.
  return reverseString(
    trimPrefix(reversePattern(pattern), reverseString(value), greedy, budget),
  );
}

/** Options of {@link replacePattern}. */
export interface ReplaceOptions {
  /** Replace every match, not only the first. */
  all?: boolean;
  /** Longest result (UTF-16 code units); longer throws {@link PatternError}. */
  maxLength?: number;
  /** Steps the matching may take (default: a fresh {@link stepBudget}). */
  budget?: StepBudget;
}

/**
 * Replaces the first (or with `all` every) longest match of `pattern` in `value`, scanning as a
 * global regular expression does: after an empty match the next search starts one character on.
 *
 * @throws {PatternError} for an invalid escape, too many steps or a result past `maxLength`.
 */
export function replacePattern(
  pattern: string,
  value: string,
  replacement: string,
  options: ReplaceOptions = {},
): string {
  const { all = false, maxLength = Infinity } = options;
  const compiled = new ShellPattern(pattern, true, options.budget);
  const chars = Array.from(value);
  let out = "";
  let copyFrom = 0;
  let searchFrom = 0;
  while (searchFrom <= chars.length) {
    const m = compiled.match(chars, searchFrom, false);
    if (m === undefined) break;
    out += chars.slice(copyFrom, m[0]).join("") + replacement;
    if (out.length > maxLength) {
      throw new PatternError(`pattern substitution result is longer than ${maxLength} characters`);
    }
    copyFrom = m[1];
    searchFrom = m[1] === m[0] ? m[1] + 1 : m[1];
    if (!all) break;
  }
  return out + chars.slice(copyFrom).join("");
}

/** Reverses a pattern keeping `\x` escapes in front of the character they escape. */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last;) {
    const at = last - i;
    if (chars[i] === "\\" && i !== last) {
      out[at - 1] = chars[i];
      out[at] = chars[i + 1];
      i += 2;
    } else {
      out[at] = chars[i];
      i++;
    }
  }
  return out.join("");
}

function reverseString(text: string): string {
  return Array.from(text).reverse().join("");
}
