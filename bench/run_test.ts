import assert from "node:assert/strict";
import { buildBytes, parseOptions } from "./run.ts";

const GIB = 1024 * 1024 * 1024;

Deno.test("bench options: --only build runs the build part alone, --scale small shrinks it", () => {
  const build = parseOptions(["--only", "build"]);
  assert.deepEqual([build.save, build.serve, build.build], [false, false, true]);
  assert.equal(buildBytes(build), GIB);
  const all = parseOptions([]);
  assert.deepEqual([all.save, all.serve, all.build], [true, true, true]);
  assert.equal(buildBytes(parseOptions(["--scale", "small"])), 128 * 1024 * 1024);
  assert.throws(
    () => parseOptions(["--only", "merge"]),
    /--only must be save, serve, build, discovery, delta or wan/,
  );
});

Deno.test("bench options: --only discovery runs the discovery part alone", () => {
  const o = parseOptions(["--only", "discovery"]);
  assert.deepEqual([o.save, o.serve, o.build, o.discovery], [false, false, false, true]);
});

Deno.test("bench options: --only delta runs the differential export part alone", () => {
  const o = parseOptions(["--only", "delta"]);
  assert.deepEqual([o.save, o.serve, o.build, o.discovery, o.delta], [
    false,
    false,
    false,
    false,
    true,
  ]);
});

Deno.test("bench options: --only wan runs the WAN part alone", () => {
  const o = parseOptions(["--only", "wan"]);
  assert.deepEqual([o.save, o.serve, o.build, o.discovery, o.delta, o.wan], [
    false,
    false,
    false,
    false,
    false,
    true,
  ]);
});
