import assert from "node:assert/strict";
import { compilePattern, compileSegment, hasWildcard, unescapePattern } from "./glob.ts";

Deno.test("hasWildcard sees *, ? and [ but not escaped ones", () => {
  assert.equal(hasWildcard("a/*.yaml"), true);
  assert.equal(hasWildcard("file?.txt"), true);
  assert.equal(hasWildcard("[ab].txt"), true);
  assert.equal(hasWildcard("plain/path.txt"), false);
  assert.equal(hasWildcard("a\\*b"), false);
  assert.equal(unescapePattern("a\\*b"), "a*b");
});

Deno.test("segments follow Go's filepath.Match", () => {
  const cases: [string, string, boolean][] = [
    ["*.yaml", "deploy.yaml", true],
    ["*.yaml", ".yaml", true],
    ["*.yaml", "deploy.yml", false],
    ["f?le", "file", true],
    ["f?le", "fle", false],
    ["[a-c]x", "bx", true],
    ["[a-c]x", "dx", false],
    ["[^a-c]x", "dx", true],
    ["[^a-c]x", "ax", false],
    ["a\\*b", "a*b", true],
    ["a\\*b", "axb", false],
    ["a.b", "axb", false],
    ["(x)+", "(x)+", true],
    // Every character a pattern can hold, in and out of classes (issue 9).
    ["my-*.yaml", "my-app.yaml", true],
    ["my-*.yaml", "myapp.yaml", false],
    ["a+b", "aab", false],
    ["{a,b}", "{a,b}", true],
    ["{a,b}", "a", false],
    ["$x^", "$x^", true],
    ["a|b", "a|b", true],
    ["a|b", "b", false],
    ["a\\-b", "a-b", true],
    ["a\\\\b", "a\\b", true],
    ["x]", "x]", true],
    ["[!a]", "!", true],
    ["[!a]", "a", true],
    ["[!a]", "b", false],
    ["[^a]", "b", true],
    ["[^a]", "a", false],
    ["[\\]]", "]", true],
    ["[\\-]", "-", true],
    ["[a^]", "^", true],
    ["[.$|(]", "|", true],
    ["[.$|(]", "x", false],
    ["[a-z]-[0-9]", "k-7", true],
    ["[z-a]", "q", false],
    ["[^z-a]", "q", true],
    ["é-*", "é-ü", true],
    ["[à-ü]", "é", true],
    ["[à-ü]", "e", false],
    ["?", "😀", true],
  ];
  for (const [pattern, name, want] of cases) {
    assert.equal(compileSegment(pattern).test(name), want, `${pattern} vs ${name}`);
  }
});

Deno.test("bad patterns are refused with the reason", () => {
  assert.throws(() => compileSegment("[a-"), /bad pattern "\[a-": /);
  assert.throws(() => compileSegment("abc\\"), /trailing escape/);
  assert.throws(() => compileSegment("[]"), /bad pattern/);
});

Deno.test("a pattern matches element for element, * never crosses /", () => {
  const p = compilePattern("charts/*/values.yaml");
  assert.equal(p.matches("charts/demo/values.yaml"), true);
  assert.equal(p.matches("charts/demo/sub/values.yaml"), false);
  assert.equal(compilePattern("*").matches("a/b"), false);
  assert.equal(compilePattern("*").matches("a"), true);
});
