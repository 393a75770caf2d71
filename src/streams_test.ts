import assert from "node:assert/strict";
import { FerryError } from "./errors.ts";
import {
  FILE_READ_CHUNK,
  fileReadable,
  FILLING_CHUNK,
  fillingStream,
  readAll,
  readBody,
  viewReader,
} from "./streams.ts";

async function withFile(bytes: Uint8Array, fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempFile({ prefix: "ferry-streams-" });
  try {
    await Deno.writeFile(path, bytes);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

const pattern = (n: number) => new Uint8Array(n).map((_, i) => (i * 31) % 256);

Deno.test("fileReadable reads the file from its position in chunks of at most 1 MiB", async () => {
  const bytes = pattern(2 * FILE_READ_CHUNK + 12345);
  await withFile(bytes, async (path) => {
    const file = await Deno.open(path);
    await file.seek(100, Deno.SeekMode.Start);
    const sizes: number[] = [];
    const chunks: Uint8Array[] = [];
    for await (const chunk of fileReadable(file)) {
      sizes.push(chunk.byteLength);
      chunks.push(chunk);
    }
    assert.ok(sizes.every((n) => n <= FILE_READ_CHUNK), `chunk sizes ${sizes}`);
    assert.ok(sizes.length >= 3);
    const all = await readAll(ReadableStream.from(chunks), Infinity, "test");
    assert.deepEqual(all, bytes.subarray(100));
    // The stream closed the file at its end.
    assert.throws(() => file.readSync(new Uint8Array(1)), Deno.errors.BadResource);
  });
});

Deno.test("fileReadable sizes buffers by the expected size and still reads past it", async () => {
  const bytes = pattern(5000);
  await withFile(bytes, async (path) => {
    const sizes: number[] = [];
    const chunks: Uint8Array[] = [];
    for await (const c of fileReadable(await Deno.open(path), { size: 4000 })) {
      sizes.push(c.buffer.byteLength);
      chunks.push(c);
    }
    assert.equal(sizes[0], 4000);
    assert.deepEqual(await readAll(ReadableStream.from(chunks), Infinity, "t"), bytes);
  });
});

Deno.test("fileReadable closes the file on cancel and maps read errors", async () => {
  await withFile(pattern(3 * FILE_READ_CHUNK), async (path) => {
    const file = await Deno.open(path);
    const reader = fileReadable(file).getReader();
    await reader.read();
    await reader.cancel();
    assert.throws(() => file.readSync(new Uint8Array(1)), Deno.errors.BadResource);

    const closed = await Deno.open(path);
    const stream = fileReadable(closed, {
      mapError: () => new FerryError("io", `${path}: read failed`),
    });
    closed.close();
    await assert.rejects(readAll(stream, Infinity, "t"), /read failed/);
  });
});

Deno.test("viewReader reads a byte stream into the caller's buffer and any stream's chunks across reads", async () => {
  const bytes = pattern(3000);
  const byteReader = viewReader(new Blob([bytes]).stream());
  const first = await byteReader.read(new Uint8Array(new ArrayBuffer(4096), 0, 4096));
  assert.equal(first.buffer.byteLength, 4096);
  assert.deepEqual(first, bytes);
  assert.equal((await byteReader.read(new Uint8Array(16))).byteLength, 0);

  // A default stream's 3000-byte chunk over reads of 1024 bytes, then its end.
  const chunked = viewReader(new Blob([bytes]).stream().pipeThrough(new TransformStream()));
  const got: number[] = [];
  for (;;) {
    const view = await chunked.read(new Uint8Array(1024));
    if (view.byteLength === 0) break;
    assert.ok(view.byteLength <= 1024);
    got.push(...view);
  }
  assert.deepEqual(new Uint8Array(got), bytes);
});

Deno.test("fillingStream fills a BYOB reader's buffer, gives a default reader bounded chunks, and ends", async () => {
  const bytes = pattern(FILLING_CHUNK * 2 + 5);
  const make = () => {
    let at = 0;
    return fillingStream({
      fill(view) {
        const n = Math.min(view.byteLength, bytes.length - at);
        view.set(bytes.subarray(at, at + n));
        at += n;
        return Promise.resolve(view.subarray(0, n));
      },
    });
  };
  const byob = make().getReader({ mode: "byob" });
  const big = await byob.read(new Uint8Array(bytes.length + 10));
  assert.equal(big.value!.byteLength, bytes.length, "one read fills the whole buffer");
  assert.ok((await byob.read(new Uint8Array(1))).done);

  const chunks: Uint8Array[] = [];
  for await (const chunk of make()) chunks.push(chunk);
  assert.ok(chunks.every((c) => c.byteLength <= FILLING_CHUNK));
  assert.deepEqual(await new Blob(chunks as Uint8Array<ArrayBuffer>[]).bytes(), bytes);
});

/** A source filling views from `bytes`, failing with `fail` once `failAt` bytes are given. */
function patternSource(bytes: Uint8Array, options: { failAt?: number; fail?: Error } = {}) {
  let at = 0;
  const seen = { fills: 0, cancelled: [] as unknown[] };
  return {
    seen,
    source: {
      fill(view: Uint8Array<ArrayBuffer>) {
        seen.fills++;
        if (options.failAt !== undefined && at >= options.failAt) {
          return Promise.reject(options.fail);
        }
        const n = Math.min(view.byteLength, bytes.length - at);
        view.set(bytes.subarray(at, at + n));
        at += n;
        return Promise.resolve(view.subarray(0, n));
      },
      cancel(reason: unknown) {
        seen.cancelled.push(reason);
      },
    },
  };
}

Deno.test("viewReader of a fillingStream fills the caller's buffer in place through layers, and ends, fails and cancels as a BYOB reader", async () => {
  const bytes = pattern(1000);
  const { source, seen } = patternSource(bytes);
  const inner = fillingStream(source);
  // A second layer over the first, as the copy engine's size bound wraps a resumable body.
  const innerReader = viewReader(inner);
  const outer = fillingStream({ fill: (view) => innerReader.read(view) });
  const reader = viewReader(outer);
  assert.throws(() => outer.getReader(), TypeError, "the stream is locked");
  assert.throws(() => inner.getReader(), TypeError, "the inner stream is locked");

  const buffer = new ArrayBuffer(600);
  const first = await reader.read(new Uint8Array(buffer, 100, 500));
  // No layer moved the buffer: a stream's BYOB read would have detached it at each.
  assert.equal(first.buffer, buffer);
  assert.ok(!buffer.detached);
  assert.equal(first.byteOffset, 100);
  assert.deepEqual(first, bytes.subarray(0, 500));
  const rest = await reader.read(new Uint8Array(buffer));
  assert.deepEqual(rest, bytes.subarray(500));
  assert.equal((await reader.read(new Uint8Array(buffer))).byteLength, 0, "the end");
  const fills = seen.fills;
  assert.equal((await reader.read(new Uint8Array(buffer))).byteLength, 0, "still the end");
  assert.equal(seen.fills, fills, "an ended stream's source is not asked again");
  await assert.rejects(reader.read(new Uint8Array(0)), TypeError);

  // Otherwise as a BYOB reader of the stream: a failure on every later read, cancel at the source.
  const fail = new Error("connection reset");
  const failing = patternSource(pattern(100), { failAt: 50, fail });
  const broken = viewReader(fillingStream(failing.source));
  assert.equal((await broken.read(new Uint8Array(50))).byteLength, 50);
  await assert.rejects(broken.read(new Uint8Array(50)), (err) => err === fail);
  const asked = failing.seen.fills;
  await assert.rejects(broken.read(new Uint8Array(50)), (err) => err === fail);
  assert.equal(failing.seen.fills, asked, "a failed source is not asked again");

  const other = patternSource(pattern(100));
  const cancelled = viewReader(fillingStream(other.source));
  await cancelled.read(new Uint8Array(10));
  const why = new Error("digest mismatch");
  await cancelled.cancel(why);
  assert.deepEqual(other.seen.cancelled, [why]);
  assert.equal((await cancelled.read(new Uint8Array(10))).byteLength, 0, "ended once cancelled");
});

/** A response whose body yields `chunks` and counts the chunks pulled. */
function countedResponse(chunks: Uint8Array[], headers: HeadersInit = {}) {
  const pulled = { n: 0 };
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled.n++;
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  }, { highWaterMark: 0 });
  return { res: new Response(body, { headers }), pulled };
}

Deno.test("readBody refuses a body whose Content-Length passes the bound without reading it", async () => {
  const { res, pulled } = countedResponse([pattern(10)], { "content-length": "11" });
  await assert.rejects(
    readBody(res, 10, "page"),
    (err: unknown) =>
      err instanceof FerryError && err.code === "too_large" && /page/.test(err.message),
  );
  assert.equal(pulled.n, 0);
});

Deno.test("readBody reads a body within its announced length whole, and bounds one without a length", async () => {
  const bytes = pattern(300);
  const announced = countedResponse([bytes.subarray(0, 100), bytes.subarray(100)], {
    "content-length": "300",
  });
  assert.deepEqual(await readBody(announced.res, 300, "t"), bytes);
  const unannounced = countedResponse([bytes.subarray(0, 200), bytes.subarray(200)]);
  assert.deepEqual(await readBody(unannounced.res, 300, "t"), bytes);
  const tooLong = countedResponse([bytes.subarray(0, 200), bytes.subarray(200), bytes]);
  await assert.rejects(readBody(tooLong.res, 300, "t"), /larger than the 300-byte limit/);
  assert.equal((await readBody(new Response(null), 10, "t")).byteLength, 0);
});

Deno.test("readBody bounds an encoded body as it inflates, whatever its Content-Length says", async () => {
  // `fetch` decompresses a gzip body: its Content-Length (here 10) is that of the compressed bytes.
  const chunks = Array.from({ length: 100 }, () => pattern(1024));
  const { res, pulled } = countedResponse(chunks, {
    "content-encoding": "gzip",
    "content-length": "10",
  });
  await assert.rejects(readBody(res, 1024, "page"), /larger than the 1024-byte limit/);
  // Stopped near the bound, not read to the end.
  assert.ok(pulled.n < 10, `${pulled.n} chunks pulled`);
});

Deno.test("readAll gives a lone chunk back as it is, but copies one that is a view into a larger buffer", async () => {
  const whole = pattern(100);
  assert.equal(await readAll(ReadableStream.from([whole]), 100, "t"), whole);
  const view = pattern(1 << 20).subarray(0, 100);
  const read = await readAll(ReadableStream.from([view]), 100, "t");
  assert.deepEqual(read, view);
  assert.equal(read.buffer.byteLength, 100);
});
