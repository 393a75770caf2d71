import assert from "node:assert/strict";
import { regexpLiteral } from "../glob_syntax.ts";
import { Rng } from "../../tests/support/fuzz.ts";
import {
  MAX_PATTERN_STEPS,
  PatternError,
  replacePattern,
  ShellPattern,
  trimPrefix,
  trimSuffix,
} from "./shell_pattern.ts";

/** The regular expression a pattern stands for, as the Dockerfile frontend builds it. */
function patternRegExp(pattern: string, greedy: boolean, anchored: boolean, global = false) {
  const chars = Array.from(pattern);
  let out = anchored ? "^" : "";
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === "*") out += greedy ? "[\\s\\S]*" : "[\\s\\S]*?";
    else if (ch === "?") out += "[\\s\\S]";
    else if (ch === "\\") {
      const nextCh = chars[i + 1];
      if (nextCh === "}" || nextCh === "/") continue;
      i++;
      out += regexpLiteral(nextCh);
    } else out += regexpLiteral(ch);
  }
  return new RegExp(out, global ? "gu" : "u");
}

function reverse(text: string): string {
  return Array.from(text).reverse().join("");
}

// Short patterns and values, so that the backtracking engine answers quickly.
function randomText(rng: Rng, alphabet: string[], max: number): string {
  let text = "";
  for (let n = rng.int(max + 1); n > 0; n--) text += rng.pick(alphabet);
  return text;
}

Deno.test("shell pattern: matches what the regular expression matches", () => {
  const rng = new Rng(7);
  const patternChars = ["a", "b", "*", "*", "?", "\\*", "\\?", "\\\\", "\\}", "é", "😀"];
  const valueChars = ["a", "b", "*", "?", "\\", "}", "é", "😀", "\n"];
  for (let run = 0; run < 3000; run++) {
    const pattern = randomText(rng, patternChars, 6);
    const value = randomText(rng, valueChars, 10);
    const greedy = rng.chance(0.5);
    const prefix = patternRegExp(pattern, greedy, true).exec(value);
    const what = `pattern ${JSON.stringify(pattern)} value ${
      JSON.stringify(value)
    } greedy ${greedy}`;
    assert.equal(
      trimPrefix(pattern, value, greedy),
      prefix ? value.slice(prefix[0].length) : value,
      `prefix: ${what}`,
    );
    // trimSuffix reverses the pattern keeping escapes before what they escape.
    const reversed = Array.from(value).reverse().join("");
    const suffixValue = trimSuffix(pattern, value, greedy);
    assert.ok(value.endsWith(value.slice(Array.from(suffixValue).join("").length)), what);
    assert.equal(
      reverse(suffixValue),
      trimPrefix(reversePatternForTest(pattern), reversed, greedy),
    );
    const first = patternRegExp(pattern, true, false).exec(value);
    assert.equal(
      replacePattern(pattern, value, "<>"),
      first
        ? value.slice(0, first.index) + "<>" + value.slice(first.index + first[0].length)
        : value,
      `replace: ${what}`,
    );
    assert.equal(
      replacePattern(pattern, value, "<>", { all: true }),
      value.replace(patternRegExp(pattern, true, false, true), () => "<>"),
      `replace all: ${what}`,
    );
  }
});

function reversePatternForTest(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < chars.length;) {
    if (chars[i] === "\\" && i !== chars.length - 1) {
      out.unshift(chars[i], chars[i + 1]);
      i += 2;
    } else out.unshift(chars[i++]);
  }
  return out.join("");
}

Deno.test("shell pattern: many stars over a value that does not match take linear steps", () => {
  // Exponential for a backtracking engine: 30 stars, 5000 characters, no `y`.
  const value = "x".repeat(5000);
  const pattern = "*".repeat(30) + "y";
  assert.equal(replacePattern(pattern, value, "z", { all: true }), value);
  assert.equal(trimPrefix("*x".repeat(30) + "y", value, true), value);
  assert.equal(trimSuffix("y" + "*x".repeat(30), value, false), value);
  assert.equal(trimPrefix("*".repeat(100_000), "ab", false), "ab");
  assert.equal(trimPrefix("*".repeat(100_000), "ab", true), "");
});

Deno.test("shell pattern: work past the step bound fails with a clear message", () => {
  const value = Array.from({ length: 6_000 }, () => "x");
  const pattern = new ShellPattern("?".repeat(5_000) + "y", true);
  assert.throws(
    () => pattern.match(value, 0, false),
    (err: unknown) =>
      err instanceof PatternError &&
      err.message.includes(`more than ${MAX_PATTERN_STEPS} steps`),
  );
});

Deno.test("shell pattern: an invalid escape is a PatternError", () => {
  assert.throws(() => new ShellPattern("a\\b", true), PatternError);
  assert.throws(() => new ShellPattern("a\\", true), PatternError);
});

Deno.test("shell pattern: a replacement past maxLength is a PatternError", () => {
  assert.throws(
    () => replacePattern("?", "x".repeat(100), "y".repeat(100), { all: true, maxLength: 5000 }),
    (err: unknown) => err instanceof PatternError && /longer than 5000/.test(err.message),
  );
});
