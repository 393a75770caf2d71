import assert from "node:assert/strict";
import { requestKind, startWanLink } from "./wan_link.ts";

Deno.test("wan link: delays each direction, charges a round trip per new connection, caps the rate, counts requests", async () => {
  const body = new Uint8Array(256 * 1024);
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => new Response(new URL(req.url).pathname.includes("/blobs/") ? body : "{}"),
  );
  const link = await startWanLink({
    upstream: `127.0.0.1:${server.addr.port}`,
    oneWayDelayMs: 20,
    bitsPerSecond: 8e6, // 1 MB/s: the 256 KiB body needs at least 262 ms
  });
  const client = Deno.createHttpClient({});
  try {
    const t0 = performance.now();
    const ping = await fetch(`http://${link.host}/v2/`, { client });
    await ping.bytes();
    // A new connection: one round trip of handshake, then the request's own round trip.
    assert.ok(performance.now() - t0 >= 80, `ping took ${performance.now() - t0} ms`);
    const afterPing = link.counts();
    assert.equal(afterPing.firstBlobByteMs, undefined, "the ping's answer is no blob byte");
    assert.ok(afterPing.lastByteMs !== undefined);
    const t1 = performance.now();
    const blob = await fetch(`http://${link.host}/v2/a/b/blobs/sha256:${"0".repeat(64)}`, {
      client,
      headers: { authorization: "Bearer x" },
    });
    assert.equal((await blob.bytes()).byteLength, body.byteLength);
    assert.ok(performance.now() - t1 >= 40 + 262, `blob took ${performance.now() - t1} ms`);
    const counts = link.counts();
    assert.equal(counts.connections, 1);
    assert.deepEqual(counts.requests, { "ping": 1, "GET blob": 1 });
    assert.equal(counts.unauthorized, 1);
    assert.ok(counts.bytesDown > body.byteLength);
    // The blob's first byte came after the ping's answer, its last one after its first.
    assert.ok(counts.firstBlobByteMs! > afterPing.lastByteMs!, JSON.stringify(counts));
    assert.ok(counts.lastByteMs! > counts.firstBlobByteMs!, JSON.stringify(counts));
    link.reset();
    assert.deepEqual(link.counts(), {
      connections: 0,
      requests: {},
      unauthorized: 0,
      bytesDown: 0,
    });
  } finally {
    client.close();
    await link.stop();
  }
});

Deno.test("wan link: request kinds", () => {
  assert.equal(requestKind("GET", "/token?scope=x"), "token");
  assert.equal(requestKind("HEAD", "/v2/a/manifests/1.0"), "HEAD manifest");
  assert.equal(requestKind("GET", "/v2/a/blobs/sha256:ab"), "GET blob");
  assert.equal(requestKind("POST", "/v2/a/blobs/uploads/"), "POST upload");
});
