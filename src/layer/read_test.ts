import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256 } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import { readLayer } from "./read.ts";
import { BLOCK, encodeHeader } from "../tar/mod.ts";
import { concat as concatBytes } from "../tar/_test_tar.ts";
import {
  buildSampleTree,
  collect,
  LONG_NAME,
  requirePeer,
  run,
  snapshot,
  UNICODE_NAME,
} from "./test_util.ts";
import type { LayerEntry, ReadEntry } from "./types.ts";
import { walkTree } from "./walk.ts";
import { writeLayer } from "./write.ts";

function streamOf(bytes: Uint8Array, chunk = 777): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

/** A comparable summary of read entries (file contents hashed). */
async function summarize(entries: AsyncIterable<ReadEntry>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of entries) {
    const mode = e.mode.toString(8);
    switch (e.kind) {
      case "file":
        out[e.path] = `file ${mode} ${e.size} ${await sha256(await collect(e.body))}`;
        break;
      case "symlink":
        out[e.path] = `symlink -> ${e.target}`;
        break;
      case "hardlink":
        out[e.path] = `hardlink ${mode} -> ${e.target}`;
        break;
      default:
        out[e.path] = `${e.kind} ${mode}`;
    }
  }
  return out;
}

async function fromSnapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [path, s] of Object.entries(await snapshot(dir))) {
    const mode = s.mode.toString(8);
    if (s.type === "symlink") out[path] = `symlink -> ${s.target}`;
    else if (s.type === "dir") out[path] = `dir ${mode}`;
    else if (s.linkedTo) out[path] = `hardlink ${mode} -> ${s.linkedTo}`;
    else out[path] = `file ${mode} ${s.size} ${s.digest}`;
  }
  return out;
}

async function withTree(fn: (src: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-read-" });
  try {
    const src = join(dir, "src");
    await Deno.mkdir(src);
    await buildSampleTree(src, 1_650_000_000);
    await fn(src, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readLayer: reads back what writeLayer wrote (gzip, plain, zstd)", async () => {
  await withTree(async (src) => {
    const expected = await fromSnapshot(src);
    const gz = writeLayer(walkTree(src, ""), { compression: "gzip" });
    const gzBytes = await collect(gz.stream);
    assert.deepEqual(await summarize(readLayer(streamOf(gzBytes))), expected);
    const plain = writeLayer(walkTree(src, ""), { compression: "none" });
    const tar = await collect(plain.stream);
    assert.deepEqual(await summarize(readLayer(streamOf(tar, 512))), expected);

    if (await requirePeer("zstd")) {
      const child = new Deno.Command("zstd", {
        args: ["-q", "-c"],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const output = child.output();
      const writer = child.stdin.getWriter();
      await writer.write(tar);
      await writer.close();
      const out = await output;
      assert.deepEqual([...out.stdout.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
      assert.deepEqual(await summarize(readLayer(streamOf(out.stdout))), expected);
    }
  });
});

Deno.test("readLayer: reads multi-member gzip", async () => {
  const w = writeLayer(
    [{ kind: "file", path: "f", mode: 0o644, size: 3, open: () => new Blob(["abc"]).stream() }],
    { compression: "none" },
  );
  const tar = await collect(w.stream);
  const zlib = await import("node:zlib");
  const cut = 700;
  const twoMembers = new Uint8Array([
    ...zlib.gzipSync(tar.subarray(0, cut)),
    ...zlib.gzipSync(tar.subarray(cut)),
  ]);
  assert.deepEqual(await summarize(readLayer(streamOf(twoMembers))), {
    f: `file 644 3 ${await sha256(new TextEncoder().encode("abc"))}`,
  });
});

Deno.test("readLayer: reads GNU tar archives in gnu, posix and ustar formats", async () => {
  if (!(await requirePeer("tar"))) return;
  await withTree(async (src, dir) => {
    const expected = await fromSnapshot(src);
    for (const format of ["gnu", "posix", "ustar"]) {
      const blob = join(dir, `${format}.tar`);
      // ustar cannot hold the 226-byte long name: leave that one out for it.
      const exclude = format === "ustar" ? ["--exclude", "deep"] : [];
      const r = await run("tar", [
        "-cf",
        blob,
        `--format=${format}`,
        "--sort=name",
        "--numeric-owner",
        ...exclude,
        "-C",
        src,
        ".",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const got = await summarize(readLayer((await Deno.open(blob)).readable, { where: blob }));
      const want = { ...expected };
      if (format === "ustar") {
        for (const k of Object.keys(want)) if (k.startsWith("deep")) delete want[k];
      }
      assert.deepEqual(got, want, format);
    }
    assert.ok(Object.keys(expected).includes(LONG_NAME));
    assert.ok(Object.keys(expected).includes(UNICODE_NAME));
  });
});

Deno.test("readLayer: whiteouts, opaque directories and the root entry", async () => {
  const empty = (path: string): LayerEntry => ({ kind: "file", path, mode: 0o644, size: 0 });
  const w = writeLayer(
    [
      { kind: "dir", path: "etc", mode: 0o755 },
      empty("etc/.wh.old.conf"),
      empty("etc/.wh..wh..opq"),
      empty(".wh.gone"),
      empty(".wh..wh.plnk"),
    ],
    { compression: "none" },
  );
  const tar = await collect(w.stream);
  // Prepend a `./` root entry as GNU tar writes it.
  const root = encodeHeader({
    name: "./",
    mode: 0o755,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    typeflag: "5",
    linkname: "",
  });
  const all = new Uint8Array(root.byteLength + tar.byteLength);
  all.set(root);
  all.set(tar, root.byteLength);
  const got: string[] = [];
  for await (const e of readLayer(streamOf(all))) got.push(`${e.kind} ${e.path}`);
  assert.deepEqual(got, [
    "dir etc",
    "whiteout etc/old.conf",
    "opaque etc",
    "whiteout gone",
    "file .wh..wh.plnk",
  ]);
});

Deno.test("readLayer: unread bodies are skipped; a stale body errors", async () => {
  const data = (n: number) => () => new Blob([new Uint8Array(n).fill(7)]).stream();
  const w = writeLayer(
    [
      { kind: "file", path: "a", mode: 0o644, size: 1000, open: data(1000) },
      { kind: "file", path: "b", mode: 0o644, size: 3, open: data(3) },
    ],
    { compression: "none" },
  );
  const tar = await collect(w.stream);
  const paths: string[] = [];
  let first: ReadableStream<Uint8Array> | undefined;
  for await (const e of readLayer(streamOf(tar, 100))) {
    paths.push(e.path);
    if (e.kind === "file" && e.path === "a") {
      first = e.body;
      const reader = e.body.getReader();
      const { value } = await reader.read();
      assert.ok(value && value.byteLength > 0 && value.byteLength < 1000);
      reader.releaseLock();
    }
  }
  assert.deepEqual(paths, ["a", "b"]);
  await assert.rejects(first!.getReader().read(), /read after the next entry/);
});

Deno.test("readLayer: malformed archives are refused", async () => {
  const header = (name: string, typeflag = "0", size = 0, linkname = "") =>
    encodeHeader({ name, mode: 0o644, uid: 0, gid: 0, size, mtime: 0, typeflag, linkname });
  const concat = (...parts: Uint8Array[]) => concatBytes(parts);
  const end = new Uint8Array(2 * BLOCK);
  const badSum = header("x");
  badSum[0] = 0x79;
  const cases: [string, Uint8Array, RegExp][] = [
    ["escape", concat(header("../../etc/passwd"), end), /escapes the layer root/],
    ["link escape", concat(header("l", "1", 0, "../x"), end), /escapes the layer root/],
    ["checksum", concat(badSum, end), /checksum/],
    [
      "truncated",
      concat(header("x", "0", 5000), new Uint8Array(1024)),
      /end of archive|ends inside/,
    ],
    ["sparse", concat(header("s", "S"), end), /sparse files are not supported/],
  ];
  for (const [name, bytes, re] of cases) {
    await assert.rejects(
      (async () => {
        for await (const e of readLayer(streamOf(bytes), { where: "test.tar" })) {
          if (e.kind === "file") await collect(e.body);
        }
      })(),
      (err: unknown) => {
        assert.ok(isFerryError(err), `${name}: ${err}`);
        assert.match(err.message, /^test\.tar: /, name);
        assert.match(err.message, re, name);
        return true;
      },
    );
  }
});
