import assert from "node:assert/strict";
import { posix } from "node:path";
import * as path from "./path.ts";

// Tricky inputs: `.` and `..` (also above the root), trailing and repeated separators, empty
// parts, dots that are not extensions.
const PATHS = [
  "",
  ".",
  "..",
  "...",
  "/",
  "//",
  "///",
  "//a",
  "///a",
  "a",
  "a/",
  "a//",
  "/a",
  "/a/",
  "a/b",
  "a//b",
  "a/./b",
  "a/../b",
  "a/b/..",
  "a/b/../",
  "../a",
  "../../a/b",
  "/..",
  "/../a",
  "/a/../..",
  "./a",
  "./",
  "a/..",
  "a/../",
  "a/../..",
  "/a/b/c/",
  ".profile",
  "a/.profile",
  "a.txt",
  "a.tar.gz",
  "a.",
  "..a",
  ".a.b",
  "a/b.c/",
  "a.b/c",
  "dir/..hidden",
  "registry/docker/registry/v2/blobs/sha256/ab/abcd/data",
];

const ONE_ARG = ["normalize", "dirname", "basename", "extname", "isAbsolute"] as const;

Deno.test("path functions of one path agree with node:path's posix flavour", () => {
  for (const name of ONE_ARG) {
    for (const p of PATHS) {
      assert.equal(path[name](p), posix[name](p), `${name}(${JSON.stringify(p)})`);
    }
  }
});

Deno.test("join, resolve and relative agree with node:path's posix flavour", () => {
  for (const a of PATHS) {
    for (const b of PATHS) {
      const args = JSON.stringify([a, b]);
      assert.equal(path.join(a, b), posix.join(a, b), `join(${args})`);
      assert.equal(path.resolve(a, b), posix.resolve(a, b), `resolve(${args})`);
      assert.equal(path.relative(a, b), posix.relative(a, b), `relative(${args})`);
    }
  }
  for (
    const parts of [[], [""], ["", ""], ["a", "", "b"], ["/", "a", "..", "b/"], ["a", "/b", "c"]]
  ) {
    assert.equal(path.join(...parts), posix.join(...parts), `join(${JSON.stringify(parts)})`);
    assert.equal(
      path.resolve(...parts),
      posix.resolve(...parts),
      `resolve(${JSON.stringify(parts)})`,
    );
  }
  assert.equal(path.sep, posix.sep);
  assert.equal(path.delimiter, posix.delimiter);
});
