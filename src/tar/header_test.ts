import assert from "node:assert/strict";
import {
  decodeHeader,
  encodeHeader,
  endOfArchive,
  entryType,
  type HeaderFields,
  parsePax,
  TYPE,
} from "./mod.ts";
import { concat, tarEntry, unpackWithGnuTar } from "./_test_tar.ts";

const enc = new TextEncoder();

Deno.test("headers ferry writes are read back by an independent tar parser", async () => {
  const long = `blobs/${"d".repeat(120)}/${"f".repeat(120)}`;
  const veryLong = "x".repeat(300);
  const data = new TextEncoder().encode("hello tar");
  const tar = concat([
    encodeHeader({ name: "blobs/", size: 0, typeflag: TYPE.dir }),
    tarEntry("blobs/sha256/abc", data),
    tarEntry(long, data),
    tarEntry(veryLong, new Uint8Array(0)),
    endOfArchive(),
  ]);
  const entries = await unpackWithGnuTar(tar);
  assert.deepEqual(entries.map((e) => e.name), [
    "blobs/",
    "blobs/sha256/abc",
    long,
    veryLong,
  ]);
  assert.deepEqual(entries[1].data, data);
  assert.deepEqual(entries[2].data, data);
  assert.equal(entries[0].type, "directory");
  const decoded = decodeHeader(encodeHeader({ name: "a/b", size: 12345, mode: 0o600 }), "t");
  const { name, size, typeflag, linkname } = decoded;
  assert.deepEqual({ name, size, type: entryType(typeflag), typeflag, linkname }, {
    name: "a/b",
    size: 12345,
    type: "file",
    typeflag: "0",
    linkname: "",
  });
});

Deno.test("tar: PAX records only when needed, and they decode", () => {
  const base: HeaderFields = {
    name: "short",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    typeflag: "0",
    linkname: "",
  };
  assert.equal(encodeHeader(base).byteLength, 512);
  assert.equal(encodeHeader({ ...base, name: "a".repeat(100) }).byteLength, 512);

  const cases: [Partial<HeaderFields>, Record<string, string>][] = [
    [{ name: "d/".repeat(60) + "f" }, { path: "d/".repeat(60) + "f" }],
    [{ name: "caf\u00e9" }, { path: "caf\u00e9" }],
    [{ typeflag: "2", linkname: "t".repeat(101) }, { linkpath: "t".repeat(101) }],
    [{ size: 0o77777777777 + 1 }, { size: String(0o77777777777 + 1) }],
    [{ uid: 0o7777777 + 1, gid: 5 }, { uid: String(0o7777777 + 1) }],
    [{ mtime: -1 }, { mtime: "-1" }],
  ];
  for (const [change, records] of cases) {
    const bytes = encodeHeader({ ...base, ...change });
    const pax = decodeHeader(bytes.subarray(0, 512), "pax");
    assert.equal(pax.typeflag, "x");
    assert.equal(
      pax.name,
      `PaxHeaders.0/${(change.name ?? "short").split("/").pop()}`.slice(0, 100).replace(
        /[^\x20-\x7e]/g,
        "_",
      ),
    );
    const data = bytes.subarray(512, 512 + pax.size);
    assert.deepEqual(parsePax(data, "pax"), records, JSON.stringify(change));
    assert.equal(bytes.byteLength, 512 + Math.ceil(pax.size / 512) * 512 + 512);
    const main = decodeHeader(bytes.subarray(bytes.byteLength - 512), "main");
    assert.equal(main.typeflag, change.typeflag ?? "0");
  }
});

Deno.test("tar: decodeHeader rejects a bad checksum and reads base-256 numbers", () => {
  const header = encodeHeader({
    name: "x",
    mode: 0o600,
    uid: 7,
    gid: 8,
    size: 9,
    mtime: 10,
    typeflag: "0",
    linkname: "",
  });
  const h = decodeHeader(header, "x");
  assert.deepEqual([h.name, h.mode, h.uid, h.gid, h.size, h.mtime], ["x", 0o600, 7, 8, 9, 10]);
  const broken = header.slice();
  broken[0] = 0x79;
  assert.throws(() => decodeHeader(broken, "x"), /checksum/);

  const big = header.slice();
  big.fill(0, 124, 136);
  big[124] = 0x80;
  big[135] = 0x01;
  big[134] = 0x02; // 0x0201 = 513
  big.fill(0x20, 148, 156);
  const sum = big.reduce((a, b) => a + b, 0);
  big.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  assert.equal(decodeHeader(big, "x").size, 513);
});
