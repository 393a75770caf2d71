import assert from "node:assert/strict";
import { isFerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import { parsePlatform } from "../platform.ts";
import { selectChildren } from "./select.ts";

const child = (n: string, os: string, architecture: string, variant?: string): Descriptor => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${n.repeat(64)}`,
  size: 1,
  platform: { os, architecture, ...(variant ? { variant } : {}) },
});

const index = [
  child("a", "linux", "amd64"),
  child("b", "linux", "arm64", "v8"),
  child("c", "unknown", "unknown"),
  child("d", "linux", "arm", "v7"),
];

Deno.test("selectChildren keeps index order and one child per platform", () => {
  const got = selectChildren(
    index,
    [parsePlatform("linux/arm/v7"), parsePlatform("linux/amd64")],
    "img",
  );
  assert.deepEqual(got.map((d) => d.digest[7]), ["a", "d"]);
  assert.deepEqual(
    selectChildren(index, [parsePlatform("linux/arm64")], "img").map((d) => d.digest[7]),
    ["b"],
  );
});

Deno.test("selectChildren names the missing platform and what is available", () => {
  assert.throws(
    () => selectChildren(index, [parsePlatform("linux/s390x")], "docker.io/library/x:1"),
    (e) =>
      isFerryError(e, "not_found") &&
      e.message ===
        "docker.io/library/x:1: no image for platform linux/s390x (available: linux/amd64, linux/arm64/v8, linux/arm/v7)",
  );
});
