import assert from "node:assert/strict";
import { isFerryError } from "../errors.ts";
import { DEFAULT_TAR_LIMITS, encodeHeader, endOfArchive, TarReader } from "./mod.ts";
import { concat, paxEntry, tarEntry } from "./_test_tar.ts";

const enc = new TextEncoder();

/** A stream handing out `bytes` in chunks of `size`, so headers straddle chunks. */
function streamOf(bytes: Uint8Array, size = 100): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function entries(bytes: Uint8Array, read: (name: string) => boolean = () => true) {
  const tar = new TarReader(streamOf(bytes), {
    where: "t.tar",
    limits: { ...DEFAULT_TAR_LIMITS, maxHeaders: 20 },
  });
  const out: [string, string][] = [];
  for (let h = await tar.next(); h !== null; h = await tar.next()) {
    const text = read(h.name) ? await new Response(tar.body(h.name)).text() : "";
    out.push([h.name, text]);
  }
  return out;
}

Deno.test("TarReader: reads what GNU tar writes, long names and all, skipping unread data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-tar-reader-" });
  try {
    const long = `${"d".repeat(120)}/${"f".repeat(120)}`;
    await Deno.mkdir(`${dir}/src/${"d".repeat(120)}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/src/${long}`, "long\n");
    await Deno.writeTextFile(`${dir}/src/a`, "a".repeat(1000));
    await Deno.writeTextFile(`${dir}/src/b`, "bee\n");
    for (const format of ["gnu", "pax"]) {
      const out = await new Deno.Command("tar", {
        args: [`--format=${format}`, "--sort=name", "-cf", "-", "-C", `${dir}/src`, "a", "b", long],
        stdout: "piped",
      }).output();
      assert.equal(out.code, 0);
      assert.deepEqual(await entries(out.stdout, (name) => name !== "a"), [
        ["a", ""],
        ["b", "bee\n"],
        [long, "long\n"],
      ], format);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TarReader: headers, names and metadata are bounded; a cut archive is refused", async () => {
  const one = new Uint8Array(1);
  const cases: [string, Uint8Array, string, RegExp][] = [
    [
      "many",
      concat([...Array.from({ length: 21 }, (_, i) => tarEntry(`f${i}`, one)), endOfArchive()]),
      "too_large",
      /^t\.tar: more than 20 tar headers/,
    ],
    [
      "long",
      concat([
        paxEntry("path", "d/".repeat(2100) + "f"),
        tarEntry("short", one),
        endOfArchive(),
      ]),
      "too_large",
      /^t\.tar: tar member name at byte \d+ is longer than 4096 bytes/,
    ],
    [
      "pax",
      concat([
        paxEntry("comment", "x".repeat(DEFAULT_TAR_LIMITS.maxMetaBytes)),
        tarEntry("short", one),
        endOfArchive(),
      ]),
      "too_large",
      /^t\.tar: tar metadata of \d+ bytes at byte 0 \(at most 65536\)/,
    ],
    [
      "cut",
      concat([encodeHeader({ name: "a", size: 5000 }), new Uint8Array(100)]),
      "invalid_input",
      /^t\.tar: a: archive ends inside the file/,
    ],
    [
      "not a tar",
      enc.encode("x".repeat(2000)),
      "invalid_input",
      /^t\.tar: byte 0: not a tar archive/,
    ],
  ];
  for (const [name, bytes, code, message] of cases) {
    await assert.rejects(
      entries(bytes),
      (e) => isFerryError(e) && e.code === code && message.test(e.message),
      name,
    );
  }
});

/** `bytes`, then the error a decompressor raises on a cut stream (node:zlib's words). */
function failingAfter(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(c) {
      if (sent) return c.error(new Error("unexpected end of file"));
      sent = true;
      c.enqueue(bytes);
    },
  });
}

Deno.test("a decompressor failing inside an entry's data is bad input naming the entry", async () => {
  // A gzip layer cut inside a file: the decompressor errors while the body is read, outside the
  // caller's loop over next().
  const entry = tarEntry("a.txt", "x".repeat(2000));
  const tar = new TarReader(failingAfter(entry.subarray(0, 1000)), { where: "layer sha256:ab" });
  assert.equal((await tar.next())?.name, "a.txt");
  await assert.rejects(
    new Response(tar.body("a.txt")).arrayBuffer(),
    (e) =>
      isFerryError(e, "invalid_input") &&
      e.message ===
        "layer sha256:ab: a.txt: corrupt data after byte 1000 of the tar (unexpected end of file)",
  );
});
