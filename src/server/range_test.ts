import assert from "node:assert/strict";
import { parseContentRange, parseRange, takeBytes } from "./range.ts";

Deno.test("range: Range headers", () => {
  assert.equal(parseRange(null, 10), undefined);
  assert.deepEqual(parseRange("bytes=0-4", 10), { start: 0, end: 4 });
  assert.deepEqual(parseRange("bytes=5-", 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange("bytes=5-100", 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange("bytes=-3", 10), { start: 7, end: 9 });
  assert.deepEqual(parseRange("bytes=-30", 10), { start: 0, end: 9 });
  assert.equal(parseRange("bytes=10-", 10), "unsatisfiable");
  assert.equal(parseRange("bytes=0-", 0), "unsatisfiable");
  assert.equal(parseRange("bytes=-0", 10), "unsatisfiable");
  // Ignored: the whole blob is sent.
  assert.equal(parseRange("bytes=4-2", 10), undefined);
  assert.equal(parseRange("bytes=0-1,3-4", 10), undefined);
  assert.equal(parseRange("items=0-1", 10), undefined);
});

Deno.test("range: upload Content-Range", () => {
  assert.deepEqual(parseContentRange("0-99"), { start: 0, end: 99 });
  assert.deepEqual(parseContentRange("bytes 100-199/1000"), { start: 100, end: 199 });
  assert.deepEqual(parseContentRange("bytes=100-199"), { start: 100, end: 199 });
  assert.equal(parseContentRange("5-4"), undefined);
  assert.equal(parseContentRange("abc"), undefined);
  assert.equal(parseContentRange("-5"), undefined);
});

Deno.test("range: takeBytes stops and cancels the source", async () => {
  let cancelled = false;
  let pulls = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      pulls++;
      c.enqueue(new Uint8Array(10).fill(pulls));
    },
    cancel() {
      cancelled = true;
    },
  });
  const out = new Uint8Array(await new Response(takeBytes(source, 25)).arrayBuffer());
  assert.equal(out.byteLength, 25);
  assert.deepEqual([...out.subarray(18, 22)], [2, 2, 3, 3]);
  assert.equal(cancelled, true);
});
