import assert from "node:assert/strict";
import { jsonSafe, terminalSafe } from "./terminal_text.ts";

Deno.test("terminalSafe: control sequences print as escapes, on one line", () => {
  assert.equal(
    terminalSafe("a\u001b[31mb\u0007c\r\nd\te\u007f\u009b2J"),
    "a\\x1b[31mb\\x07c\\r\\nd\\te\\x7f\\x9b2J",
  );
  assert.equal(terminalSafe("evil\u202egnp.exe\u2066x\u2069"), "evil\\u202egnp.exe\\u2066x\\u2069");
});

Deno.test("terminalSafe: text of any script is left as it is", () => {
  const text = "image café/中文:1 — 👍 sha256:abc (10.0MiB) \u200d";
  assert.equal(terminalSafe(text), text);
});

Deno.test("terminalSafe: with lines, newlines and tabs stay; other controls do not", () => {
  assert.equal(
    terminalSafe("name\tsize\napp\t1\u001b]52;c;aGk=\u0007\n", { lines: true }),
    "name\tsize\napp\t1\\x1b]52;c;aGk=\\x07\n",
  );
});

Deno.test("jsonSafe: what JSON.stringify leaves raw is escaped, and the JSON reads back the same", () => {
  const value = { message: "a\u009b2Jb\u2028c\u202ed\u007f", plain: "é中👍\u001b" };
  const text = jsonSafe(JSON.stringify(value));
  // deno-lint-ignore no-control-regex -- control characters are what must not get through
  assert.doesNotMatch(text, /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]/);
  assert.deepEqual(JSON.parse(text), value);
});
