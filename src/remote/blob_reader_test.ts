import assert from "node:assert/strict";
import { isFerryError } from "../errors.ts";
import { checkRangeResponse, resumableBody } from "./blob_reader.ts";
import { isRetryableStatus, retryDelay } from "./retry.ts";

function res(status: number, headers: Record<string, string>, body: BodyInit | null = null) {
  return new Response(body, { status, headers });
}

Deno.test("checkRangeResponse accepts only a matching 206 or a full 200", () => {
  assert.equal(
    checkRangeResponse(res(206, { "content-range": "bytes 10-99/100" }), 10, 100, "b"),
    0,
  );
  assert.equal(checkRangeResponse(res(206, { "content-range": "bytes 10-99/*" }), 10, 100, "b"), 0);
  assert.equal(checkRangeResponse(res(200, { "content-length": "100" }), 10, 100, "b"), 10);
  assert.throws(
    () => checkRangeResponse(res(206, { "content-range": "bytes 0-99/100" }), 10, 100, "b"),
    /range/,
  );
  assert.throws(() => checkRangeResponse(res(206, {}), 10, 100, "b"), /range/);
  assert.throws(
    () => checkRangeResponse(res(200, { "content-length": "99" }), 0, 100, "b"),
    (e) => isFerryError(e, "size_mismatch"),
  );
});

Deno.test("resumableBody resumes after a cut and skips bytes of a 200 answer", async () => {
  const data = new Uint8Array(1000).map((_, i) => i % 251);
  let pulls = 0;
  const cut = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulls++ === 0) c.enqueue(data.subarray(0, 300));
      else c.error(new Error("connection reset"));
    },
  });
  const offsets: number[] = [];
  const open = (offset: number) => {
    offsets.push(offset);
    // The server ignores the range and sends everything: the reader must skip what it has.
    return Promise.resolve(res(200, { "content-length": "1000" }, data));
  };
  const body = resumableBody(open, res(200, { "content-length": "1000" }, cut), {
    size: 1000,
    offset: 0,
    what: "blob",
    retry: { retries: 3, baseDelayMs: 1, maxDelayMs: 5 },
  });
  const got = new Uint8Array(await new Response(body).arrayBuffer());
  assert.deepEqual(offsets, [300]);
  assert.deepEqual(got, data);
});

Deno.test("resumableBody fills a BYOB reader's own buffer, which a cut read loses and it replaces", async () => {
  const data = new Uint8Array(5000).map((_, i) => (i * 7) % 253);
  const byteBody = (from: number, cutAt?: number) => {
    let at = from;
    return new ReadableStream({
      type: "bytes",
      pull(c) {
        if (cutAt !== undefined && at >= cutAt) {
          c.error(new Error("connection reset"));
          return;
        }
        const end = Math.min(cutAt ?? data.length, at + 700);
        if (at >= end) {
          c.close();
          c.byobRequest?.respond(0);
          return;
        }
        c.enqueue(data.slice(at, end));
        at = end;
      },
    });
  };
  const offsets: number[] = [];
  const open = (offset: number) => {
    offsets.push(offset);
    return Promise.resolve(
      res(206, { "content-range": `bytes ${offset}-4999/5000` }, byteBody(offset)),
    );
  };
  const body = resumableBody(open, res(200, { "content-length": "5000" }, byteBody(0, 2100)), {
    size: 5000,
    offset: 0,
    what: "blob",
    retry: { retries: 3, baseDelayMs: 1, maxDelayMs: 5 },
  });
  const reader = body.getReader({ mode: "byob" });
  const got: number[] = [];
  let buffer = new ArrayBuffer(4096);
  for (;;) {
    const { value, done } = await reader.read(new Uint8Array(buffer));
    if (done) break;
    assert.equal(value.byteOffset, 0);
    assert.equal(value.buffer.byteLength, 4096, "a buffer of the size the reader brought");
    got.push(...value);
    buffer = value.buffer;
  }
  assert.deepEqual(offsets, [2100]);
  assert.deepEqual(new Uint8Array(got), data);
});

Deno.test("resumableBody gives up after the retry budget with the byte position", async () => {
  const failing = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        c.error(new Error("reset"));
      },
    });
  const body = resumableBody(
    () => Promise.resolve(res(206, { "content-range": "bytes 0-9/10" }, failing())),
    res(200, { "content-length": "10" }, failing()),
    { size: 10, offset: 0, what: "blob b", retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 } },
  );
  await assert.rejects(
    new Response(body).arrayBuffer(),
    (e) => isFerryError(e, "network") && /byte 0 of 10/.test(e.message),
  );
});

Deno.test("retry policy: statuses and Retry-After", () => {
  for (const s of [408, 429, 500, 502, 503, 504]) assert.ok(isRetryableStatus(s), String(s));
  for (const s of [400, 401, 403, 404, 413]) assert.ok(!isRetryableStatus(s), String(s));
  const policy = { retries: 5, baseDelayMs: 100, maxDelayMs: 2000 };
  assert.equal(retryDelay(policy, 1, "1"), 1000);
  assert.equal(retryDelay(policy, 1, "3600"), 2000);
  const d = retryDelay(policy, 3);
  assert.ok(d >= 200 && d <= 400, String(d));
});

Deno.test("resumableBody resumes a body that stalls and reports its end once", async () => {
  const data = new Uint8Array(100).map((_, i) => i);
  let pulls = 0;
  const stalling = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulls++ === 0) c.enqueue(data.subarray(0, 40));
      else return new Promise(() => {}); // never answers again
    },
  });
  const offsets: number[] = [];
  let ends = 0;
  const body = resumableBody(
    (offset) => {
      offsets.push(offset);
      return Promise.resolve(
        res(206, { "content-range": `bytes ${offset}-99/100` }, data.slice(offset)),
      );
    },
    res(200, { "content-length": "100" }, stalling),
    {
      size: 100,
      offset: 0,
      what: "blob",
      retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 },
      idleTimeoutMs: 50,
      onEnd: () => ends++,
    },
  );
  // A real stalled socket read keeps the event loop alive; this in-memory stall does not, and the
  // watchdog's timer is deliberately unref'd.
  const keepAlive = setTimeout(() => {}, 5_000);
  const got = new Uint8Array(await new Response(body).arrayBuffer());
  clearTimeout(keepAlive);
  assert.deepEqual(offsets, [40]);
  assert.deepEqual(got, data);
  assert.equal(ends, 1);
});

Deno.test("resumableBody fails on a body longer than the blob, passing on no byte past its size", async () => {
  const data = new Uint8Array(1000).map((_, i) => i % 251);
  // No Content-Length: the body simply runs on, in chunks that straddle the blob's end.
  const long = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(data.subarray(0, 600));
      c.enqueue(data.subarray(600, 1000));
      c.close();
    },
  });
  let ended = 0;
  const body = resumableBody(() => Promise.reject(new Error("no resume")), res(200, {}, long), {
    size: 700,
    offset: 0,
    what: "blob",
    retry: { retries: 3, baseDelayMs: 1, maxDelayMs: 5 },
    onEnd: () => ended++,
  });
  let received = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of body) received += chunk.byteLength;
    })(),
    (e) => isFerryError(e, "size_mismatch") && /more than the blob's 700 bytes/.test(e.message),
  );
  assert.ok(received <= 700, `${received} bytes passed on`);
  assert.equal(ended, 1);
});
