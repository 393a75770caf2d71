import assert from "node:assert/strict";
import { compileSegment } from "./builder/glob.ts";
import { isFerryError } from "./errors.ts";
import { compileIgnore } from "./kubefile/ignore.ts";
import { regexpLiteral } from "./glob_syntax.ts";

/**
 * An independent reading of Go's `filepath.Match` for one path element: the pattern is split into
 * tokens first (throwing "bad" for malformed syntax), then matched by backtracking, without any
 * regular expression.
 */
type Token =
  | { kind: "star" }
  | { kind: "any" }
  | { kind: "char"; ch: string }
  | { kind: "class"; negated: boolean; ranges: [number, number][] };

function tokenize(pattern: string): Token[] {
  const p = Array.from(pattern);
  const out: Token[] = [];
  for (let i = 0; i < p.length;) {
    const ch = p[i];
    if (ch === "*") {
      out.push({ kind: "star" });
      i++;
    } else if (ch === "?") {
      out.push({ kind: "any" });
      i++;
    } else if (ch === "\\") {
      if (i + 1 === p.length) throw new Error("bad");
      out.push({ kind: "char", ch: p[i + 1] });
      i += 2;
    } else if (ch === "[") {
      i++;
      const negated = p[i] === "^";
      if (negated) i++;
      const ranges: [number, number][] = [];
      const one = (): number => {
        if (i >= p.length || p[i] === "-" || p[i] === "]") throw new Error("bad");
        if (p[i] === "\\") i++;
        if (i >= p.length) throw new Error("bad");
        const c = p[i++].codePointAt(0)!;
        if (i >= p.length) throw new Error("bad");
        return c;
      };
      while (!(p[i] === "]" && ranges.length > 0)) {
        const lo = one();
        let hi = lo;
        if (p[i] === "-") {
          i++;
          hi = one();
        }
        ranges.push([lo, hi]);
      }
      i++;
      out.push({ kind: "class", negated, ranges });
    } else {
      out.push({ kind: "char", ch });
      i++;
    }
  }
  return out;
}

function goMatch(tokens: Token[], name: string[]): boolean {
  const at = (t: number, n: number): boolean => {
    if (t === tokens.length) return n === name.length;
    const tok = tokens[t];
    if (tok.kind === "star") {
      for (let k = n; k <= name.length; k++) if (at(t + 1, k)) return true;
      return false;
    }
    if (n === name.length) return false;
    const c = name[n];
    if (tok.kind === "any") return at(t + 1, n + 1);
    if (tok.kind === "char") return tok.ch === c && at(t + 1, n + 1);
    const code = c.codePointAt(0)!;
    const hit = tok.ranges.some(([lo, hi]) => lo <= code && code <= hi);
    return hit !== tok.negated && at(t + 1, n + 1);
  };
  return at(0, 0);
}

/** Every character a pattern may contain that means something to a pattern or a RegExp. */
const ALPHABET = Array.from("-.+({$^|\\[]!az*?é}/,");
const NAMES = [
  "",
  "a",
  "b",
  "z",
  "-",
  ".",
  "+",
  "!",
  "é",
  "😀",
  "\\",
  "]",
  "^",
  "$",
  "a-",
  "-a",
  "a.",
  "aa",
  "{a",
  "(a",
  "|",
  "a!é",
];

/** Every pattern of up to `maxLength` characters, and every class of up to three characters. */
function* patterns(maxLength: number): Generator<string> {
  let level = [""];
  for (let n = 1; n <= maxLength; n++) {
    const next: string[] = [];
    for (const prefix of level) for (const ch of ALPHABET) next.push(prefix + ch);
    yield* next;
    level = next;
  }
  for (const a of ALPHABET) {
    for (const b of ALPHABET) {
      yield `[^${a}${b}]`;
      yield `[${a}-${b}]`;
      yield `[^${a}-${b}]`;
      yield `[\\${a}-\\${b}]`;
      for (const c of ALPHABET) yield `[${a}${b}${c}]`;
    }
  }
}

Deno.test("regexpLiteral: every ASCII character is literal inside and outside a class", () => {
  for (let code = 0; code < 0x80; code++) {
    const ch = String.fromCharCode(code);
    const lit = regexpLiteral(ch);
    assert.ok(new RegExp(`^${lit}$`, "u").test(ch), JSON.stringify(ch));
    assert.ok(new RegExp(`^[${lit}]$`, "u").test(ch), JSON.stringify(ch));
    assert.ok(!new RegExp(`^[^${lit}]$`, "u").test(ch), JSON.stringify(ch));
  }
  assert.equal(regexpLiteral("é"), "é");
  assert.equal(regexpLiteral("😀"), "😀");
});

Deno.test("COPY segments agree with filepath.Match for every pattern of up to 3 characters and every short class", () => {
  let compiled = 0;
  for (const pattern of patterns(3)) {
    if (pattern.includes("/")) continue; // a segment holds no "/"
    let tokens: Token[] | undefined;
    try {
      tokens = tokenize(pattern);
    } catch {
      tokens = undefined;
    }
    let re: RegExp | undefined;
    try {
      re = compileSegment(pattern);
    } catch (err) {
      assert.ok(isFerryError(err, "invalid_input"), `${pattern}: ${err}`);
    }
    assert.equal(re !== undefined, tokens !== undefined, `${pattern} compiles iff valid`);
    if (!re || !tokens) continue;
    compiled++;
    for (const name of NAMES) {
      assert.equal(re.test(name), goMatch(tokens, Array.from(name)), `${pattern} vs ${name}`);
    }
  }
  assert.ok(compiled > 1000);
});

Deno.test(".dockerignore patterns of up to 3 characters (and classes) compile or fail with a FerryError", () => {
  for (const pattern of patterns(3)) {
    try {
      const ignored = compileIgnore([pattern]);
      for (const name of NAMES) if (name !== "") ignored(name);
    } catch (err) {
      assert.ok(isFerryError(err, "invalid_input"), `${pattern}: ${err}`);
      assert.match((err as Error).message, /^\.dockerignore:1: /);
    }
  }
});
