/**
 * What a save sends first: the registry's probe before the registry directory is opened, the
 * first image's manifest as the first request after it, each repository's tag list after its
 * manifest, and the blob hasher loading while those requests are on their way. Against a registry
 * across a WAN link each of these is a round trip or a stall of the one thread before the first
 * blob byte (bench/RESULTS.md, "registry save over a WAN link").
 *
 * Its own module: the hasher's engine is loaded once per process, and the first test must see it
 * not yet loaded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { sha256EngineRequested } from "../../src/digest.ts";
import { join } from "../../src/path.ts";
import { saveImages } from "../../src/transfer/save.ts";
import { startHostileRegistry } from "../support/hostile_registry.ts";
import { makeImage } from "../support/images.ts";
import { MANIFEST_PATH, memoryRegistryClient } from "../support/memory_registry.ts";
import { tempDir } from "../support/tmp.ts";

/**
 * Saves three images, served as plain bytes (nothing in the test process hashes a stream, so the
 * hasher's engine is loaded by the save alone), by a client whose every request is recorded.
 */
async function recordedSave(onRequest: (request: string) => void): Promise<void> {
  const names = ["lib/a", "lib/b", "lib/c"];
  const served = new Map<string, { bytes: Uint8Array; type: string }>();
  for (const name of names) {
    const image = makeImage();
    const { desc, bytes } = image.manifest;
    served.set(`/v2/${name}/manifests/1.0`, { bytes, type: desc.mediaType });
    for (const blob of [image.config, ...image.layers]) {
      served.set(`/v2/${name}/blobs/${blob.desc.digest}`, {
        bytes: blob.bytes,
        type: "application/octet-stream",
      });
    }
  }
  // Tag lists and the referrers API are answered 404: no signatures to look for.
  await using reg = startHostileRegistry((req) => {
    const found = served.get(req.url.pathname);
    if (!found) return undefined;
    return new Response(found.bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": found.type },
    });
  });
  await using tmp = await tempDir();
  const registryDir = join(tmp.path, "registry");
  const client = memoryRegistryClient({
    fetch: (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      onRequest(`${init?.method ?? "GET"} ${url.pathname}`);
      return fetch(input, init);
    },
  });
  // The directory's root is made first when it opens (synchronously or not).
  const { mkdir, mkdirSync } = Deno;
  Deno.mkdir = (path: string | URL, options?: Deno.MkdirOptions) => {
    if (String(path) === registryDir) onRequest("mkdir");
    return mkdir(path, options);
  };
  Deno.mkdirSync = (path: string | URL, options?: Deno.MkdirOptions) => {
    if (String(path) === registryDir) onRequest("mkdir");
    return mkdirSync(path, options);
  };
  try {
    await saveImages({
      registryDir,
      images: names.map((n) => `${reg.host}/${n}:1.0`),
      platforms: [],
      client,
      maxParallel: 2,
    });
  } finally {
    Object.assign(Deno, { mkdir, mkdirSync });
    await client.close();
  }
}

Deno.test("saveImages: the blob hasher is loading by the time the first manifest is asked for", async () => {
  assert.equal(sha256EngineRequested(), false, "loaded before the save: the test proves nothing");
  const loadingAt: boolean[] = [];
  await recordedSave((request) => {
    const [method, path] = request.split(" ");
    if (method === "GET" && MANIFEST_PATH.test(path)) loadingAt.push(sha256EngineRequested());
  });
  assert.deepEqual(loadingAt, [true, true, true]);
});

Deno.test("saveImages: the registry is probed before the directory is opened, and the first image's manifest is the first request after the probe", async () => {
  // What is sent, and when the directory is first made, in the order they happen.
  const sent: string[] = [];
  await recordedSave((request) => sent.push(request));
  // The probe goes out first and the directory opens meanwhile; of the first round the first
  // image's manifest goes first (it takes the probe's connection), and each repository's tag
  // list after its manifest.
  assert.deepEqual(sent.slice(0, 3), ["GET /v2/", "mkdir", "GET /v2/lib/a/manifests/1.0"]);
  const at = (request: string) => sent.indexOf(request);
  for (const name of ["lib/a", "lib/b", "lib/c"]) {
    assert.ok(at(`GET /v2/${name}/manifests/1.0`) < at(`GET /v2/${name}/tags/list`), name);
  }
});
