import assert from "node:assert/strict";
import { FerryError } from "./errors.ts";
import { FILE_READ_CHUNK, fileReadable, readAll } from "./streams.ts";

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
