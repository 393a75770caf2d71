import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { decodeHeader } from "../tar/mod.ts";
import { writeLayer } from "./write.ts";
import type { LayerEntry } from "./types.ts";

const enc = new TextEncoder();

function content(bytes: Uint8Array): () => ReadableStream<Uint8Array> {
  return () =>
    new ReadableStream({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
    });
}

const TOOL = Uint8Array.from({ length: 600 }, (_, i) => i % 251);
const ENTRIES: LayerEntry[] = [
  { kind: "dir", path: "etc", mode: 0o755, mtime: 1600000000 },
  {
    kind: "file",
    path: "etc/hosts",
    mode: 0o644,
    mtime: 1600000001,
    size: 20,
    open: content(enc.encode("127.0.0.1 localhost\n")),
  },
  { kind: "symlink", path: "etc/link", mode: 0o777, mtime: 1600000002, target: "/etc/hosts" },
  { kind: "hardlink", path: "etc/hard", mode: 0o644, mtime: 1600000003, target: "etc/hosts" },
  {
    kind: "file",
    path: "usr/bin/tool",
    mode: 0o4755,
    uid: 1000,
    gid: 1000,
    mtime: 1600000004,
    size: 600,
    open: content(TOOL),
  },
];

// The same five entries written by Python's tarfile (USTAR format, empty uname/gname), with the
// device-number fields set to "0000000\0" as Go's archive/tar writes them.
const GOLDEN_SHA256 = "sha256:9b936d5ce5a28a86747048eceee43f86780324aa326bae6ae288c386fafb3424";

async function plainTar(entries: LayerEntry[]): Promise<Uint8Array> {
  const w = writeLayer(entries, { compression: "none" });
  return new Uint8Array(await new Response(w.stream).arrayBuffer());
}

Deno.test("tar: ustar bytes match the golden archive", async () => {
  const tar = await plainTar(ENTRIES);
  assert.equal(tar.byteLength, 5120);
  assert.equal(await sha256(tar), GOLDEN_SHA256);
});

Deno.test("tar: same bytes as Python's tarfile apart from device fields", async () => {
  const script = `
import tarfile, io, sys
buf = io.BytesIO()
tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT)
def add(name, type, mode, mtime, uid=0, gid=0, data=b"", linkname=""):
    ti = tarfile.TarInfo(name); ti.type = type; ti.mode = mode; ti.mtime = mtime
    ti.uid = uid; ti.gid = gid; ti.uname = ""; ti.gname = ""; ti.linkname = linkname
    ti.size = len(data) if type == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if type == tarfile.REGTYPE else None)
add("etc", tarfile.DIRTYPE, 0o755, 1600000000)
add("etc/hosts", tarfile.REGTYPE, 0o644, 1600000001, data=b"127.0.0.1 localhost\\n")
add("etc/link", tarfile.SYMTYPE, 0o777, 1600000002, linkname="/etc/hosts")
add("etc/hard", tarfile.LNKTYPE, 0o644, 1600000003, linkname="etc/hosts")
add("usr/bin/tool", tarfile.REGTYPE, 0o4755, 1600000004, uid=1000, gid=1000,
    data=bytes(i % 251 for i in range(600)))
tf.close()
sys.stdout.buffer.write(buf.getvalue())
`;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("python3", { args: ["-c", script], stdout: "piped" }).output();
  } catch {
    if (Deno.env.get("CI") === "true") throw new Error("python3 is missing");
    console.log("python3 not found: skipped");
    return;
  }
  assert.ok(output.success);
  const python = output.stdout;
  const ours = await plainTar(ENTRIES);
  // Python pads the archive to a 10240-byte record; ferry writes just the two end blocks.
  assert.ok(python.subarray(ours.byteLength).every((b) => b === 0));
  const patched = python.slice(0, ours.byteLength);
  for (let off = 0; off < patched.byteLength;) {
    const header = patched.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const size = decodeHeader(header, "python").size;
    header.set(enc.encode("0000000\0"), 329);
    header.set(enc.encode("0000000\0"), 337);
    header.fill(0x20, 148, 156);
    const sum = header.reduce((a, b) => a + b, 0);
    header.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  assert.deepEqual(patched, ours);
});
