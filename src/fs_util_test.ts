import assert from "node:assert/strict";
import { join } from "node:path";
import { FerryError } from "./errors.ts";
import {
  createFileOnce,
  exists,
  fileSize,
  isDirectory,
  isFile,
  isMissing,
  isWithin,
  openFileRange,
  processUmask,
  randomName,
  readFull,
  readTextIfExists,
  resolveWithin,
  stripBom,
  syncDir,
  umaskKeeps,
  writeAll,
  writeFileAtomic,
} from "./fs_util.ts";

const enc = new TextEncoder();

/** A fresh directory, removed with its contents on dispose. */
async function tempDir() {
  const path = await Deno.makeTempDir({ prefix: "ferry-fs-" });
  return {
    path,
    join: (...parts: string[]) => join(path, ...parts),
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** A tree with a file, a directory, symlinks to each, and a dangling symlink. */
async function fixture(root: string): Promise<void> {
  await Deno.writeTextFile(`${root}/file`, "12345");
  await Deno.mkdir(`${root}/dir`);
  await Deno.symlink(`${root}/file`, `${root}/file-link`);
  await Deno.symlink(`${root}/dir`, `${root}/dir-link`);
  await Deno.symlink(`${root}/nowhere`, `${root}/dangling`);
}

async function stream(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

Deno.test("isMissing: not found, or a parent that is a file; nothing else", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(dir.join("file"), "x");
  const below = await Deno.stat(dir.join("file", "child")).catch((err) => err);
  assert.ok(below instanceof Deno.errors.NotADirectory);
  assert.equal(isMissing(below), true);
  assert.equal(isMissing(await Deno.stat(dir.join("nothing")).catch((err) => err)), true);
  assert.equal(isMissing(new Deno.errors.PermissionDenied("no")), false);
  assert.equal(isMissing(new Error("other")), false);
  assert.equal(isMissing(undefined), false);
});

Deno.test("exists, isDirectory, isFile and fileSize answer for every kind of path", async () => {
  await using dir = await tempDir();
  await fixture(dir.path);
  const cases: [string, boolean, boolean, boolean, number | undefined][] = [
    // name, exists, isDirectory, isFile, fileSize
    ["file", true, false, true, 5],
    ["dir", true, true, false, undefined],
    ["file-link", true, false, true, 5],
    ["dir-link", true, true, false, undefined],
    ["dangling", true, false, false, undefined],
    ["missing", false, false, false, undefined],
    ["file/below", false, false, false, undefined],
  ];
  for (const [name, ex, d, f, size] of cases) {
    const path = dir.join(name);
    assert.equal(await exists(path), ex, `exists ${name}`);
    assert.equal(await isDirectory(path), d, `isDirectory ${name}`);
    assert.equal(await isFile(path), f, `isFile ${name}`);
    assert.equal(await fileSize(path), size, `fileSize ${name}`);
  }
});

Deno.test("readTextIfExists drops a byte-order mark and answers undefined when missing", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(dir.join("bom"), "\ufeffa: 1\n");
  await Deno.writeTextFile(dir.join("plain"), "b\ufeff");
  assert.equal(await readTextIfExists(dir.join("bom")), "a: 1\n");
  assert.equal(await readTextIfExists(dir.join("plain")), "b\ufeff");
  assert.equal(await readTextIfExists(dir.join("missing")), undefined);
  assert.equal(await readTextIfExists(dir.join("plain", "below")), undefined);
  // A directory is not "missing": the caller hears about it.
  await assert.rejects(readTextIfExists(dir.path));
  assert.equal(stripBom("\ufeff\ufeffx"), "\ufeffx");
  assert.equal(stripBom(""), "");
});

Deno.test("writeAll and readFull move whole buffers; readFull stops at the end", async () => {
  await using dir = await tempDir();
  const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
  using out = await Deno.open(dir.join("f"), { write: true, create: true });
  await writeAll(out, bytes);
  await writeAll(out, new Uint8Array(0));
  using file = await Deno.open(dir.join("f"));
  const buf = new Uint8Array(200_000);
  assert.equal(await readFull(file, buf), 200_000);
  assert.deepEqual(buf, bytes.subarray(0, 200_000));
  assert.equal(await readFull(file, buf), 100_000);
  assert.deepEqual(buf.subarray(0, 100_000), bytes.subarray(200_000));
  assert.equal(await readFull(file, buf), 0);
});

Deno.test("writeFileAtomic replaces the file and leaves no temp file", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(dir.join("tmp"));
  const path = dir.join("index.json");
  await writeFileAtomic(path, enc.encode("one"), { tmpDir: dir.join("tmp") });
  await writeFileAtomic(path, enc.encode("two"), { tmpDir: dir.join("tmp") });
  assert.equal(await Deno.readTextFile(path), "two");
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644 & ~Deno.umask());
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir.join("tmp"))), []);
});

Deno.test("writeFileAtomic sets an exact mode the umask would narrow", async () => {
  await using dir = await tempDir();
  const path = dir.join("f");
  await writeFileAtomic(path, enc.encode("x"), { tmpDir: dir.path, mode: 0o666 });
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o666);
  await writeFileAtomic(path, enc.encode("y"), { tmpDir: dir.path, mode: 0o600, durable: false });
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  assert.equal(await Deno.readTextFile(path), "y");
});

Deno.test("processUmask reads the umask without changing it; umaskKeeps says which modes it narrows", () => {
  const mask = Deno.umask();
  assert.equal(processUmask(), mask);
  assert.equal(Deno.umask(), mask);
  assert.equal(umaskKeeps(0o644), (0o644 & mask) === 0);
  assert.equal(umaskKeeps(0o777), mask === 0);
  assert.equal(umaskKeeps(0), true);
});

Deno.test("writeFileAtomic removes its temp file when the rename fails", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(dir.join("tmp"));
  await assert.rejects(
    writeFileAtomic(dir.join("no-such-dir", "f"), enc.encode("x"), { tmpDir: dir.join("tmp") }),
    Deno.errors.NotFound,
  );
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir.join("tmp"))), []);
});

Deno.test("writeFileAtomic creates a temp directory that vanished, through ensureTmpDir", async () => {
  await using dir = await tempDir();
  const tmpDir = dir.join("staging");
  const path = dir.join("f");
  // Without the hook a missing temp directory is the caller's error.
  await assert.rejects(writeFileAtomic(path, enc.encode("x"), { tmpDir }), Deno.errors.NotFound);
  // The first call "finds" the directory (as a stale cache would), the second creates it.
  const calls: [string, boolean][] = [];
  const ensureTmpDir = async (d: string, again: boolean) => {
    calls.push([d, again]);
    if (again) await Deno.mkdir(d, { recursive: true });
  };
  await writeFileAtomic(path, enc.encode("x"), { tmpDir, ensureTmpDir });
  assert.deepEqual(calls, [[tmpDir, false], [tmpDir, true]]);
  assert.equal(await Deno.readTextFile(path), "x");
  // A hook that never creates it: four attempts, then the error.
  let attempts = 0;
  await Deno.remove(tmpDir, { recursive: true });
  await assert.rejects(
    writeFileAtomic(path, enc.encode("z"), {
      tmpDir,
      ensureTmpDir: () => Promise.resolve(void attempts++),
    }),
    Deno.errors.NotFound,
  );
  assert.equal(attempts, 4);
  assert.equal(await Deno.readTextFile(path), "x");
});

Deno.test("createFileOnce: the first creator wins, later ones leave the file alone", async () => {
  await using dir = await tempDir();
  const path = dir.join("oci-layout");
  assert.equal(await createFileOnce(path, enc.encode("first"), { tmpDir: dir.path }), true);
  assert.equal(await createFileOnce(path, enc.encode("second"), { tmpDir: dir.path }), false);
  assert.equal(await Deno.readTextFile(path), "first");
  const names = (await Array.fromAsync(Deno.readDir(dir.path))).map((e) => e.name);
  assert.deepEqual(names, ["oci-layout"]);
  const results = await Promise.all(
    ["a", "b", "c", "d"].map((s) =>
      createFileOnce(dir.join("race"), enc.encode(s), { tmpDir: dir.path })
    ),
  );
  assert.equal(results.filter((r) => r).length, 1);
  assert.equal(
    await Deno.readTextFile(dir.join("race")),
    ["a", "b", "c", "d"][results.indexOf(true)],
  );
});

Deno.test("openFileRange streams the range and errors on a short file", async () => {
  await using dir = await tempDir();
  const bytes = new Uint8Array(700_000).map((_, i) => (i * 7) % 256);
  const path = dir.join("blob");
  await Deno.writeFile(path, bytes);
  assert.deepEqual(await stream(await openFileRange(path, 0, bytes.length)), bytes);
  assert.deepEqual(
    await stream(await openFileRange(path, 123_456, 400_000)),
    bytes.subarray(123_456, 523_456),
  );
  assert.deepEqual(await stream(await openFileRange(path, 10, 0)), new Uint8Array(0));
  await assert.rejects(
    stream(await openFileRange(path, 600_000, 200_000, { where: "layer 1" })),
    (err) =>
      err instanceof FerryError && err.code === "io" && /^layer 1: file ended/.test(err.message),
  );
});

Deno.test("openFileRange honours its abort signal", async () => {
  await using dir = await tempDir();
  const path = dir.join("blob");
  await Deno.writeFile(path, new Uint8Array(1_000_000));
  const aborted = new AbortController();
  aborted.abort(new Error("stop"));
  await assert.rejects(openFileRange(path, 0, 10, { signal: aborted.signal }), /stop/);
  const later = new AbortController();
  const reader = (await openFileRange(path, 0, 1_000_000, { signal: later.signal })).getReader();
  assert.equal((await reader.read()).done, false);
  later.abort(new Error("cancelled"));
  await assert.rejects(reader.read(), /cancelled/);
});

Deno.test("randomName and syncDir", async () => {
  const a = randomName("write");
  assert.match(a, /^write-[0-9a-f-]{36}$/);
  assert.notEqual(a, randomName("write"));
  await using dir = await tempDir();
  await syncDir(dir.path);
  // A directory that cannot be synced is not an error: the rename was atomic anyway.
  await syncDir(dir.join("missing"));
});

Deno.test("isWithin: the root itself and paths below it, never a sibling with the same prefix", () => {
  assert.equal(isWithin("/ctx", "/ctx"), true);
  assert.equal(isWithin("/ctx", "/ctx/a/b"), true);
  assert.equal(isWithin("/ctx", "/ctx2/a"), false);
  assert.equal(isWithin("/ctx", "/"), false);
  assert.equal(isWithin("/", "/etc/passwd"), true);
});

Deno.test("resolveWithin follows symlinks of the path and its parents", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "ferry-within-" }));
  try {
    await Deno.mkdir(`${dir}/root/in`, { recursive: true });
    await Deno.writeTextFile(`${dir}/outside.txt`, "x");
    await Deno.symlink(dir, `${dir}/root/up`);
    await Deno.symlink("in", `${dir}/root/same`);
    const root = `${dir}/root`;
    assert.deepEqual(await resolveWithin(root, `${root}/up/outside.txt`), {
      real: `${dir}/outside.txt`,
      inside: false,
    });
    assert.deepEqual(await resolveWithin(root, `${root}/same`), {
      real: `${root}/in`,
      inside: true,
    });
    assert.equal(await resolveWithin(root, `${root}/missing`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
