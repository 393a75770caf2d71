import assert from "node:assert/strict";
import { formatSize, parseByteSize } from "./byte_size.ts";

Deno.test("parseByteSize reads bytes and unit suffixes; anything else names the variable", () => {
  const sizes: [string, number][] = [
    ["123", 123],
    ["2k", 2048],
    ["500MB", 500_000_000],
    ["3 GiB", 3 * 1024 ** 3],
    ["1T", 1024 ** 4],
  ];
  for (const [text, want] of sizes) assert.equal(parseByteSize(text, "X"), want, text);
  for (const bad of ["0", "-1", "1.5G", "1 parsec", ""]) {
    assert.throws(() => parseByteSize(bad, "X"), /X=.* is not a size/, bad);
  }
  assert.equal(formatSize(1536), "1.5KiB");
  assert.equal(formatSize(1023), "1023B");
});
