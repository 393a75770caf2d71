import assert from "node:assert/strict";
import { formatPlatform, parsePlatform, parsePlatformList, platformMatches } from "./platform.ts";

Deno.test("parsePlatform normalises aliases and default variants", () => {
  assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/x86_64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/aarch64"), { os: "linux", architecture: "arm64" });
  assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64" });
  assert.deepEqual(parsePlatform("linux/arm"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.deepEqual(parsePlatform("arm64"), { os: "linux", architecture: "arm64" });
  assert.throws(() => parsePlatform("linux/"), /invalid platform/);
  assert.throws(() => parsePlatform("a/b/c/d"), /invalid platform/);
});

Deno.test("parsePlatformList drops duplicates and rejects empty lists", () => {
  const list = parsePlatformList("linux/amd64, linux/x86_64,linux/arm64");
  assert.deepEqual(list.map(formatPlatform), ["linux/amd64", "linux/arm64"]);
  assert.throws(() => parsePlatformList(" , "), /no platform/);
});

Deno.test("platformMatches compares os, arch and normalised variant", () => {
  const arm64 = parsePlatform("linux/arm64");
  assert.ok(platformMatches({ os: "linux", architecture: "arm64", variant: "v8" }, arm64));
  assert.ok(platformMatches({ os: "linux", architecture: "arm64" }, arm64));
  assert.ok(!platformMatches({ os: "linux", architecture: "amd64" }, arm64));
  assert.ok(!platformMatches({ os: "windows", architecture: "arm64" }, arm64));
  assert.ok(!platformMatches(undefined, arm64));
  const armv6 = parsePlatform("linux/arm/v6");
  assert.ok(!platformMatches({ os: "linux", architecture: "arm", variant: "v7" }, armv6));
  assert.ok(platformMatches({ os: "linux", architecture: "arm" }, parsePlatform("linux/arm/v7")));
});
