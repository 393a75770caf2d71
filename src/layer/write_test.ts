import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256 } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import {
  buildSampleTree,
  collect,
  LONG_NAME,
  requirePeer,
  run,
  snapshot,
  UNICODE_NAME,
} from "./test_util.ts";
import type { LayerEntry } from "./types.ts";
import { walkTree } from "./walk.ts";
import { writeLayer, type WriteLayerOptions } from "./write.ts";

const CLAMP = 1_700_000_000;

async function layerBytes(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  options: WriteLayerOptions,
) {
  const w = writeLayer(entries, options);
  const bytes = await collect(w.stream);
  return { bytes, result: await w.done };
}

function bytesOf(text: string): () => ReadableStream<Uint8Array> {
  return () =>
    new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(text));
        c.close();
      },
    });
}

Deno.test("writeLayer: same tree in two places with different mtimes gives the same digests", async () => {
  const a = await Deno.makeTempDir({ prefix: "ferry-layer-a-" });
  const b = await Deno.makeTempDir({ prefix: "ferry-layer-b-" });
  try {
    await buildSampleTree(a, 1_800_000_000);
    await buildSampleTree(b, 1_900_000_000);
    for (const compression of ["gzip", "none"] as const) {
      const x = await layerBytes(walkTree(a, "opt/app"), { compression, mtime: CLAMP });
      const y = await layerBytes(walkTree(b, "opt/app"), { compression, mtime: CLAMP, threads: 3 });
      assert.equal(x.result.digest, y.result.digest, compression);
      assert.equal(x.result.diffId, y.result.diffId, compression);
      assert.deepEqual(x.bytes, y.bytes);
      // Without the clamp the mtimes differ, and so do the digests.
      const u = await layerBytes(walkTree(a, "opt/app"), { compression });
      const v = await layerBytes(walkTree(b, "opt/app"), { compression });
      assert.notEqual(u.result.diffId, v.result.diffId);
    }
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("writeLayer: digest, size and diffId describe the bytes emitted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-layer-" });
  try {
    await buildSampleTree(dir, 1_600_000_000);
    const gz = await layerBytes(walkTree(dir, ""), { compression: "gzip" });
    assert.equal(gz.result.digest, await sha256(gz.bytes));
    assert.equal(gz.result.size, gz.bytes.byteLength);
    // The fixed gzip header: no name, mtime 0, XFL 0, OS unknown.
    assert.deepEqual([...gz.bytes.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    const tar = await collect(
      new Blob([gz.bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip")),
    );
    assert.equal(gz.result.diffId, await sha256(tar));
    assert.equal(gz.result.uncompressedSize, tar.byteLength);
    assert.equal(tar.byteLength % 512, 0);
    assert.ok(tar.subarray(tar.byteLength - 1024).every((b) => b === 0), "two end blocks");

    const plain = await layerBytes(walkTree(dir, ""), { compression: "none" });
    assert.deepEqual(plain.bytes, tar);
    assert.equal(plain.result.digest, plain.result.diffId);
    assert.equal(plain.result.size, tar.byteLength);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeLayer: GNU tar lists and extracts the layer as the source tree", async () => {
  if (!(await requirePeer("tar"))) return;
  const dir = await Deno.makeTempDir({ prefix: "ferry-layer-" });
  try {
    const src = join(dir, "src");
    await Deno.mkdir(src);
    await buildSampleTree(src, 1_650_000_000);
    for (const compression of ["none", "gzip"] as const) {
      const blob = join(dir, `layer.${compression}`);
      const w = writeLayer(walkTree(src, ""), { compression });
      await w.stream.pipeTo((await Deno.create(blob)).writable);
      await w.done;
      const list = await run("tar", ["-tvf", blob]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(
        list.stdout,
        /^lrwxrwxrwx 0\/0 +0 .* bin\/rel-link -> \.\.\/etc\/config\.yaml$/m,
      );
      assert.match(list.stdout, /^hrwxr-xr-x 0\/0 +0 .* etc\/tool-hardlink link to bin\/tool$/m);
      assert.match(list.stdout, /^drwx------ 0\/0 +0 .* empty-dir\/$/m);
      assert.ok(list.stdout.includes(LONG_NAME), "long name listed");
      assert.ok(list.stdout.includes(UNICODE_NAME), "unicode name listed");

      const out = join(dir, `out-${compression}`);
      await Deno.mkdir(out);
      const x = await run("tar", ["-xpf", blob, "-C", out, "--numeric-owner"]);
      assert.equal(x.code, 0, x.stderr);
      assert.deepEqual(
        await snapshot(out, { mtimes: true }),
        await snapshot(src, { mtimes: true }),
      );
      const tool = await Deno.stat(join(out, "bin/tool"));
      const link = await Deno.stat(join(out, "etc/tool-hardlink"));
      assert.equal(tool.ino, link.ino, "hard link shares the inode");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeLayer: mtime clamp, ownership and mode bits in headers", async () => {
  const entries: LayerEntry[] = [
    { kind: "dir", path: "/srv/", mode: 0o41777, mtime: 2_000_000_000.7 },
    {
      kind: "file",
      path: "./srv/new",
      mode: 0o100640,
      mtime: 1_999_999_999,
      size: 2,
      open: bytesOf("hi"),
      uid: 1000,
      gid: 2000,
    },
    { kind: "file", path: "srv/old", mode: 0o2755, mtime: 1_000_000_000.9, size: 0 },
  ];
  const { bytes } = await layerBytes(entries, { compression: "none", mtime: CLAMP });
  const dec = new TextDecoder();
  const field = (block: number, from: number, len: number) =>
    dec.decode(bytes.subarray(block * 512 + from, block * 512 + from + len));
  assert.equal(field(0, 0, 5), "srv/\0");
  assert.equal(field(0, 100, 8), "0001777\0");
  assert.equal(field(0, 136, 12), CLAMP.toString(8).padStart(11, "0") + "\0");
  assert.equal(field(1, 0, 9), "srv/new\0\0");
  assert.equal(field(1, 100, 8), "0000640\0");
  assert.equal(field(1, 108, 16), "0001750\x000003720\0");
  assert.equal(field(1, 136, 12), CLAMP.toString(8).padStart(11, "0") + "\0");
  assert.equal(field(3, 100, 8), "0002755\0");
  assert.equal(field(3, 136, 12), (1_000_000_000).toString(8).padStart(11, "0") + "\0");
  // uname, gname and the prefix are empty; devices zero.
  assert.ok(bytes.subarray(512 + 265, 512 + 329).every((b) => b === 0));
  assert.equal(field(1, 329, 16), "0000000\x000000000\0");
  assert.ok(bytes.subarray(512 + 345, 512 + 512).every((b) => b === 0));
});

Deno.test("writeLayer: paths that escape the root are refused", async () => {
  const bad: LayerEntry[][] = [
    [{ kind: "file", path: "../etc/passwd", mode: 0o644, size: 0 }],
    [{ kind: "dir", path: "a/../../b", mode: 0o755 }],
    [{ kind: "dir", path: "/../x", mode: 0o755 }],
    [{ kind: "dir", path: "/", mode: 0o755 }],
    [{ kind: "dir", path: "./", mode: 0o755 }],
    [{ kind: "file", path: "a\0b", mode: 0o644, size: 0 }],
    [{ kind: "hardlink", path: "x", mode: 0o644, target: "../../etc/shadow" }],
    [{ kind: "symlink", path: "x", mode: 0o777, target: "" }],
  ];
  for (const entries of bad) {
    const w = writeLayer(entries, { compression: "gzip" });
    await assert.rejects(collect(w.stream), (err: unknown) => {
      assert.ok(isFerryError(err, "invalid_input"), String(err));
      return true;
    });
    await assert.rejects(w.done, (err: unknown) => isFerryError(err, "invalid_input"));
  }
  // Leading slashes and `./` are only normalised away.
  const ok = await layerBytes([{ kind: "dir", path: "//./a/./b//", mode: 0o755 }], {
    compression: "none",
  });
  assert.equal(new TextDecoder().decode(ok.bytes.subarray(0, 5)), "a/b/\0");
});

Deno.test("writeLayer: content that does not match the announced size fails", async () => {
  for (const [size, text] of [[5, "too long!"], [5, "abc"]] as const) {
    const w = writeLayer(
      [{ kind: "file", path: "f", mode: 0o644, size, open: bytesOf(text) }],
      { compression: "none" },
    );
    await assert.rejects(collect(w.stream), (err: unknown) => {
      assert.ok(isFerryError(err, "conflict"), String(err));
      assert.match((err as Error).message, /^f: content is/);
      return true;
    });
  }
});

Deno.test("writeLayer: cancelling the stream rejects done and stops the workers", async () => {
  let opened = 0;
  const big = 8 << 20;
  function* entries(): Generator<LayerEntry> {
    for (let i = 0; i < 4; i++) {
      yield {
        kind: "file",
        path: `f${i}`,
        mode: 0o644,
        size: big,
        open: () => {
          opened++;
          return new Blob([new Uint8Array(big)]).stream();
        },
      };
    }
  }
  const w = writeLayer(entries(), { compression: "gzip", threads: 2 });
  const reader = w.stream.getReader();
  await reader.read();
  await reader.read();
  await reader.cancel("stop");
  await assert.rejects(w.done, /cancelled/);
  assert.ok(opened < 4, `opened ${opened} files`);
});

/** Entries with content through `reader` (bytes of `text`, a chunk per read at most `step`). */
function readerEntry(path: string, size: number, text: Uint8Array, step = 7): LayerEntry {
  return {
    kind: "file",
    path,
    mode: 0o644,
    size,
    reader: () => {
      let at = 0;
      return Promise.resolve({
        read: (into: Uint8Array) => {
          if (at >= text.byteLength) return Promise.resolve(null);
          const n = Math.min(into.byteLength, step, text.byteLength - at);
          into.set(text.subarray(at, at + n));
          at += n;
          return Promise.resolve(n);
        },
        close: () => {},
      });
    },
  };
}

Deno.test("writeLayer: writeTo lends chunks and writes what the stream gives; readers fill blocks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-layer-to-" });
  try {
    await buildSampleTree(dir, 1_600_000_000);
    // Bigger than a block, so blocks are reused while the layer is written.
    await Deno.writeFile(join(dir, "big"), new Uint8Array(3 << 20).map((_, i) => (i * 7) % 251));
    for (const compression of ["gzip", "none"] as const) {
      for (const threads of [1, 3]) {
        const options = { compression, threads, mtime: CLAMP };
        const streamed = await layerBytes(walkTree(dir, "opt"), options);
        const w = writeLayer(walkTree(dir, "opt"), options);
        const chunks: Uint8Array[] = [];
        // Copies: the writer reuses a chunk's memory once its write is done.
        const result = await w.writeTo((chunk) => Promise.resolve(void chunks.push(chunk.slice())));
        assert.deepEqual(result, streamed.result, `${compression}, ${threads} threads`);
        assert.deepEqual(await w.done, result);
        assert.equal(
          await sha256(await collect(new Blob(chunks as BlobPart[]).stream())),
          await sha256(streamed.bytes),
        );
        await assert.rejects(w.writeTo(() => Promise.resolve()), /consumed once/);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // A reader's bytes land as a stream's do, in small reads too.
  const text = new TextEncoder().encode("reader content\n".repeat(1000));
  const viaReader = await layerBytes([readerEntry("f", text.byteLength, text)], {
    compression: "gzip",
  });
  const viaStream = await layerBytes([{
    kind: "file",
    path: "f",
    mode: 0o644,
    size: text.byteLength,
    open: () => new Blob([text]).stream(),
  }], { compression: "gzip" });
  assert.equal(viaReader.result.digest, viaStream.result.digest);
});

Deno.test("writeLayer: a reader with more or fewer bytes than announced fails", async () => {
  const text = new TextEncoder().encode("0123456789");
  for (
    const [size, pattern] of [[5, /^f: content is larger than the 5 bytes/], [
      12,
      /^f: content is 10 bytes, 12 announced/,
    ]] as const
  ) {
    const w = writeLayer([readerEntry("f", size, text)], { compression: "gzip" });
    await assert.rejects(w.writeTo(() => Promise.resolve()), (err: unknown) => {
      assert.ok(isFerryError(err, "conflict"), String(err));
      assert.match((err as Error).message, pattern);
      return true;
    });
    await assert.rejects(w.done, (err: unknown) => isFerryError(err, "conflict"));
  }
});
