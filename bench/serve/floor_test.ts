import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256 } from "../../src/digest.ts";
import { tempDir } from "../../tests/support/mod.ts";
import { serveFloor } from "./floor.ts";

Deno.test("serveFloor serves a registry directory's blob data and nothing else", async () => {
  await using dir = await tempDir("ferry-serve-floor-");
  const bytes = new Uint8Array(200_000).map((_, i) => (i * 7919) % 251);
  const hex = (await sha256(bytes)).slice("sha256:".length);
  const blobDir = join(dir.path, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex);
  await Deno.mkdir(blobDir, { recursive: true });
  await Deno.writeFile(join(blobDir, "data"), bytes);
  const server = serveFloor(dir.path);
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const ping = await fetch(`${base}/v2/`);
    assert.equal(ping.status, 200);
    await ping.body?.cancel();
    const res = await fetch(`${base}/v2/any/name/blobs/sha256:${hex}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(bytes.length));
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
    const missing = await fetch(`${base}/v2/any/blobs/sha256:${"0".repeat(64)}`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await server.shutdown();
  }
});
