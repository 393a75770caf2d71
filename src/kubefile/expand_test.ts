import assert from "node:assert/strict";
import {
  expandWord,
  expandWords,
  MAX_EXPANDED_LENGTH,
  MAX_SUBSTITUTION_DEPTH,
  SubstitutionError,
} from "./expand.ts";

const VARS: Record<string, string> = {
  A: "a",
  EMPTY: "",
  A_b: "underscore",
  PORTS: "80 443",
  P: "/usr/local/bin/tool.tar.gz",
  SPACED: "x y",
};
const lookup = (name: string) => VARS[name];

// [word, expected] with `\` as escape character.
const TABLE: [string, string][] = [
  ["plain", "plain"],
  ["$A", "a"],
  ["${A}", "a"],
  ["${A}b", "ab"],
  ["$A_b", "underscore"],
  ["$A-b", "a-b"],
  ["$UNSET", ""],
  ["x${UNSET}y", "xy"],
  ["$", "$"],
  ["a$", "a$"],
  ["$1", ""],
  ["$(cmd)", "$(cmd)"],
  ["\\$A", "$A"],
  ["\\${A}", "${A}"],
  ["'$A'", "$A"],
  ['"$A"', "a"],
  ['"\\$A"', "$A"],
  ['"a\\"b"', 'a"b'],
  ['"a\\b"', "a\\b"],
  ["a\\ b", "a b"],
  ["a\\\\b", "a\\b"],
  ['"x y"', "x y"],
  ["'it''s'", "its"],
  ['"it\'s"', "it's"],
  ["${UNSET:-def}", "def"],
  ["${EMPTY:-def}", "def"],
  ["${A:-def}", "a"],
  ["${UNSET-def}", "def"],
  ["${EMPTY-def}", ""],
  ["${A:+alt}", "alt"],
  ["${EMPTY:+alt}", ""],
  ["${EMPTY+alt}", "alt"],
  ["${UNSET:+alt}", ""],
  ["${UNSET:-$A}", "a"],
  ["${UNSET:-${A}x}", "ax"],
  ['${UNSET:-"a b"}', "a b"],
  ["${A:?must be set}", "a"],
  ["${P#*/}", "usr/local/bin/tool.tar.gz"],
  ["${P##*/}", "tool.tar.gz"],
  ["${P%.*}", "/usr/local/bin/tool.tar"],
  ["${P%%.*}", "/usr/local/bin/tool"],
  ["${P/tar/TAR}", "/usr/local/bin/tool.TAR.gz"],
  ["${P//o/0}", "/usr/l0cal/bin/t00l.tar.gz"],
  ["${SPACED}", "x y"],
];

Deno.test("expandWord: substitution table", () => {
  for (const [word, expected] of TABLE) {
    assert.equal(expandWord(word, lookup), expected, `word ${JSON.stringify(word)}`);
  }
});

Deno.test("expandWord: backtick escape character", () => {
  assert.equal(expandWord("a`$A", lookup, "`"), "a$A");
  assert.equal(expandWord("C:\\path\\$A", lookup, "`"), "C:\\path\\a");
  assert.equal(expandWord('"a`"b"', lookup, "`"), 'a"b');
});

Deno.test("expandWord: syntax errors", () => {
  const cases: [string, RegExp][] = [
    ["'open", /matching single-quote/],
    ['"open', /matching double-quote/],
    ["${A", /missing '}'/],
    ["${", /missing '}'/],
    ["${}", /bad substitution/],
    ["${:-x}", /bad substitution/],
    ["${A:x}", /unsupported modifier \(:x\)/],
    ["${A!}", /unsupported modifier \(!\)/],
    ["${UNSET:?}", /UNSET: is not allowed to be unset/],
    ["${EMPTY:?}", /EMPTY: is not allowed to be empty/],
    ["${UNSET?custom text}", /UNSET: custom text/],
  ];
  for (const [word, re] of cases) {
    assert.throws(() => expandWord(word, lookup), (err: unknown) => {
      assert.ok(err instanceof SubstitutionError, `${word}: ${err}`);
      assert.match(err.message, re, word);
      return true;
    });
  }
});

Deno.test("expandWords: splits substituted values on unquoted blanks", () => {
  assert.deepEqual(expandWords("$PORTS", lookup), ["80", "443"]);
  assert.deepEqual(expandWords('"$PORTS"', lookup), ["80 443"]);
  assert.deepEqual(expandWords("a\\ b c", lookup), ["a b", "c"]);
  assert.deepEqual(expandWords("$UNSET", lookup), []);
});

Deno.test("expandWord: nesting past MAX_SUBSTITUTION_DEPTH is a SubstitutionError, not a stack overflow", () => {
  const deep = (n: number) => "${A:-".repeat(n) + "x" + "}".repeat(n);
  assert.equal(expandWord(deep(MAX_SUBSTITUTION_DEPTH), lookup), "a");
  for (const n of [MAX_SUBSTITUTION_DEPTH + 1, 20_000]) {
    assert.throws(() => expandWord(deep(n), lookup), (err: unknown) => {
      assert.ok(err instanceof SubstitutionError, `depth ${n}: ${err}`);
      assert.match(err.message, /nested more than 64 levels deep/);
      return true;
    });
  }
});

Deno.test("expandWord: a result past MAX_EXPANDED_LENGTH is a SubstitutionError", () => {
  const long = "x".repeat(MAX_EXPANDED_LENGTH / 2 + 1);
  const big = (name: string) => name === "L" ? long : undefined;
  assert.equal(expandWord("$L", big), long);
  for (const word of ["$L$L", '"${L}${L}"', "${U:-$L$L}", "${L//x/xx}"]) {
    assert.throws(() => expandWord(word, big), (err: unknown) => {
      assert.ok(err instanceof SubstitutionError, `${word}: ${err}`);
      assert.match(err.message, /longer than 1048576 characters/, word);
      return true;
    });
  }
});

Deno.test("expandWord: pattern operators run in linear time on patterns of many stars", () => {
  // A backtracking regular expression takes exponential time here: no `y` in the value.
  const value = "x".repeat(2000);
  const vars = (name: string) => name === "L" ? value : undefined;
  const stars = "*".repeat(40);
  assert.equal(expandWord(`\${L/${stars}y/z}`, vars), value);
  assert.equal(expandWord(`\${L//${stars}y/z}`, vars), value);
  assert.equal(expandWord(`\${L##${"*x".repeat(40)}y}`, vars), value);
  assert.equal(expandWord(`\${L%%y${"x*".repeat(40)}}`, vars), value);
});
