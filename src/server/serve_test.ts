import assert from "node:assert/strict";
import { Sha256 } from "../digest.ts";
import { MemoryStore } from "../memory_store/mod.ts";
import { serveRegistry } from "./serve.ts";

/** A 6 MiB blob: more than the socket buffers hold, so the GET below is still in flight. */
function bigBlob(): { bytes: Uint8Array<ArrayBuffer>; digest: string } {
  const bytes = new Uint8Array(6 << 20);
  for (let i = 0; i < bytes.length; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, i + 65536));
  }
  const hash = new Sha256();
  hash.update(bytes);
  return { bytes, digest: hash.digest() };
}

Deno.test("shutdown turns new requests away, lets the one in flight finish, then lingers", async () => {
  const store = new MemoryStore();
  const lingerMs = 300;
  const server = await serveRegistry({ store, port: 0, lingerMs });
  const reader = Deno.createHttpClient({});
  try {
    const blob = bigBlob();
    const put = await fetch(`${server.url}/v2/big/blobs/uploads/?digest=${blob.digest}`, {
      method: "POST",
      body: blob.bytes,
    });
    await put.body?.cancel();
    assert.equal(put.status, 201);

    const res = await fetch(`${server.url}/v2/big/blobs/${blob.digest}`, { client: reader });
    assert.equal(res.status, 200);
    const body = res.body!.getReader();
    const hash = new Sha256();
    hash.update((await body.read()).value!);

    let stopped = false;
    const stopping = server.shutdown().then(() => stopped = true);
    await new Promise((r) => setTimeout(r, 50));
    // A new connection is answered, with the spec's error body, instead of refused or cut.
    const late = await fetch(`${server.url}/v2/`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(late.status, 503);
    assert.equal(late.headers.get("retry-after"), "1");
    assert.equal((await late.json()).errors[0].code, "UNAVAILABLE");
    assert.equal(stopped, false, "shutdown waits for the response in flight");

    for (;;) {
      const { done, value } = await body.read();
      if (done) break;
      hash.update(value);
    }
    const read = performance.now();
    assert.equal(hash.size, blob.bytes.length);
    assert.equal(hash.digest(), blob.digest);
    await stopping;
    // Connections stay open a moment after the last response, so the reader sees its tail.
    assert.ok(performance.now() - read >= lingerMs - 100, "shutdown lingers after the response");
    await server.finished;
  } finally {
    reader.close();
    await server.shutdown();
    await store.close();
  }
});

Deno.test("shutdown of an idle server does not linger", async () => {
  const store = new MemoryStore();
  const server = await serveRegistry({ store, port: 0, lingerMs: 5_000 });
  try {
    const started = performance.now();
    await server.shutdown();
    assert.ok(performance.now() - started < 2_000);
  } finally {
    await store.close();
  }
});
