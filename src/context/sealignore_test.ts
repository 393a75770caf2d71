import assert from "node:assert/strict";
import { join } from "node:path";
import { applyIgnore, readSealignore, withoutPinnedDigest } from "./sealignore.ts";
import type { DiscoveredImage, DiscoveryRule } from "./types.ts";

const HEX = "e".repeat(64);

function found(image: string, rule: DiscoveryRule = "chart"): DiscoveredImage {
  return { image, sources: [{ file: "x", line: 1, rule }] };
}

async function withIgnoreFile(text: string, fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ferry-ignore-" });
  try {
    const path = join(dir, ".sealignore");
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Sealos TestFilter: an exact line drops the image", async () => {
  await withIgnoreFile("quay.io/cilium/operator-generic:v1.12.0", async (path) => {
    const images = [
      "docker.io/cilium/istio_proxy",
      "quay.io/cilium/cilium:v1.12.0",
      "quay.io/cilium/operator-generic:v1.12.0",
    ].map((i) => found(i));
    const { kept, ignored } = applyIgnore(images, await readSealignore(path));
    assert.deepEqual(kept.map((i) => i.image), [
      "docker.io/cilium/istio_proxy",
      "quay.io/cilium/cilium:v1.12.0",
    ]);
    assert.deepEqual(ignored, ["quay.io/cilium/operator-generic:v1.12.0"]);
  });
});

Deno.test("Sealos imagesaver test: fully-qualified lines, trailing newline", async () => {
  await withIgnoreFile("docker.io/library/nginx:latest\n", async (path) => {
    const images = ["docker.io/library/busybox:latest", "docker.io/library/nginx:latest"];
    const { kept } = applyIgnore(images.map((i) => found(i)), await readSealignore(path));
    assert.deepEqual(kept.map((i) => i.image), ["docker.io/library/busybox:latest"]);
  });
});

Deno.test("ignore lines are not trimmed or normalised, CRLF is a line end", async () => {
  await withIgnoreFile(
    " nginx\r\nbusybox \r\ndocker.io/library/redis\r\n# comment\n",
    async (path) => {
      const ignore = await readSealignore(path);
      const images = ["nginx", "busybox", "redis", "docker.io/library/redis"].map((i) =>
        found(i, "shim")
      );
      const { kept, ignored } = applyIgnore(images, ignore);
      assert.deepEqual(kept.map((i) => i.image), ["nginx", "busybox", "redis"]);
      assert.deepEqual(ignored, ["docker.io/library/redis"]);
    },
  );
});

Deno.test("a Sealos-style repo:tag line also drops the repo:tag@digest ferry keeps", async () => {
  await withIgnoreFile("quay.io/c/c:v1\n", async (path) => {
    const ignore = await readSealignore(path);
    const pinned = `quay.io/c/c:v1@sha256:${HEX}`;
    assert.deepEqual(applyIgnore([found(pinned)], ignore).ignored, [pinned]);
    // Sealos keeps shim entries verbatim, digest included: only the exact line drops them.
    assert.deepEqual(applyIgnore([found(pinned, "shim")], ignore).ignored, []);
  });
});

Deno.test("a missing ignore file ignores nothing", async () => {
  const ignore = await readSealignore("/nonexistent/ferry/.sealignore");
  assert.equal(ignore.size, 0);
});

Deno.test("withoutPinnedDigest", () => {
  assert.equal(withoutPinnedDigest(`a/b:1@sha256:${HEX}`), "a/b:1");
  assert.equal(withoutPinnedDigest(`localhost:5000/b:1@sha256:${HEX}`), "localhost:5000/b:1");
  assert.equal(withoutPinnedDigest(`localhost:5000/b@sha256:${HEX}`), undefined);
  assert.equal(withoutPinnedDigest("a/b:1"), undefined);
});
