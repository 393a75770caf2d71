import assert from "node:assert/strict";
import { relative } from "node:path";
import { isFerryError } from "./errors.ts";
import { StoreRoot } from "./store_root.ts";
import { recordingOpens } from "../tests/support/open_spy.ts";

/** A store and, beside it, a victim directory a planted symlink can point at. */
async function withStore(fn: (store: string, victim: string) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-storeroot-" });
  try {
    await Deno.mkdir(`${tmp}/store`);
    await Deno.mkdir(`${tmp}/victim`);
    await Deno.writeTextFile(`${tmp}/victim/file`, "victim");
    await fn(`${tmp}/store`, `${tmp}/victim`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const foreign = (err: unknown) =>
  isFerryError(err, "invalid_input") && /symbolic link/.test(err.message);

Deno.test("StoreRoot: a symlinked root is followed; symlinks below it are refused", async () => {
  await withStore(async (store, victim) => {
    const link = `${store}-link`;
    await Deno.symlink(store, link);
    const root = await StoreRoot.open(link);
    await root.ensureDir(`${link}/a/b`);
    assert.ok((await Deno.lstat(`${store}/a/b`)).isDirectory);
    await Deno.writeTextFile(`${store}/a/b/f`, "x");
    assert.equal(await root.fileSize(`${link}/a/b/f`), 1);

    await Deno.symlink(victim, `${store}/dir-link`);
    await Deno.symlink(`${victim}/file`, `${store}/file-link`);
    await Deno.symlink(`${store}/a`, `${store}/inside-link`);
    await assert.rejects(root.ensureDir(`${link}/dir-link/sub`), foreign);
    await assert.rejects(root.fileSize(`${link}/file-link`), foreign);
    await assert.rejects(root.readFileIfExists(`${link}/dir-link/file`), foreign);
    // Even a symlink that stays inside the store is not followed.
    await assert.rejects(root.fileSize(`${link}/inside-link/b/f`), foreign);
    await assert.rejects(root.openOrCreate(`${link}/file-link`), foreign);
    assert.deepEqual([...Deno.readDirSync(victim)].map((e) => e.name), ["file"]);
    assert.equal(await Deno.readTextFile(`${victim}/file`), "victim");
  });
});

Deno.test("StoreRoot: a dangling symlink is neither created through nor made a directory", async () => {
  await withStore(async (store, victim) => {
    const root = await StoreRoot.open(store);
    await Deno.symlink(`${victim}/made`, `${store}/lock`);
    await Deno.symlink(`${victim}/dir`, `${store}/dir`);
    assert.equal(await root.fileSize(`${store}/lock`), undefined);
    await assert.rejects(root.openOrCreate(`${store}/lock`), foreign);
    await assert.rejects(root.ensureDir(`${store}/dir`), foreign);
    assert.deepEqual([...Deno.readDirSync(victim)].map((e) => e.name), ["file"]);
  });
});

Deno.test("StoreRoot: paths may be relative or untidy, as the store was opened", async () => {
  await withStore(async (store) => {
    // Relative to the working directory (not changed here: tests share the process).
    const rel = relative(Deno.cwd(), store);
    const root = await StoreRoot.open(`${rel}/`);
    await root.ensureDir(`${rel}/a//b`);
    assert.equal(await root.checkDir(`./${rel}/a/b`), true);
    await Deno.writeTextFile(`${store}/a/b/f`, "xy");
    assert.equal(await root.fileSize(`${rel}//a/b/f`), 2);
  });
});

Deno.test("StoreRoot: in a directory already verified, a planted symlink is still refused", async () => {
  await withStore(async (store, victim) => {
    const root = await StoreRoot.open(store);
    // Concurrent calls for one tree share its creation.
    await Promise.all([root.ensureDir(`${store}/a/b`), root.ensureDir(`${store}/a/b/c`)]);
    assert.equal(await root.checkDir(`${store}/a/b/c`), true);
    assert.equal(await root.fileSize(`${store}/a/b/missing`), undefined);
    await Deno.symlink(`${victim}/file`, `${store}/a/b/leaf`);
    await Deno.symlink(victim, `${store}/a/b/sub`);
    await Deno.symlink(`${victim}/gone`, `${store}/a/b/dangling`);
    await assert.rejects(root.fileSize(`${store}/a/b/leaf`), foreign);
    await assert.rejects(root.readFileIfExists(`${store}/a/b/sub/file`), foreign);
    await assert.rejects(root.ensureDir(`${store}/a/b/sub/x`), foreign);
    assert.equal(await root.fileSize(`${store}/a/b/dangling`), undefined);
    await assert.rejects(root.check(`${store}/a/b/sub/file/deeper`), foreign);
    assert.deepEqual([...Deno.readDirSync(victim)].map((e) => e.name), ["file"]);
  });
});

Deno.test("StoreRoot: a new tree of directories is made without a failed lookup of each", async () => {
  await withStore(async (store, victim) => {
    const root = await StoreRoot.open(store);
    const realLstat = Deno.lstatSync;
    let missed = 0;
    Deno.lstatSync = (path: string | URL) => {
      try {
        return realLstat(path);
      } catch (err) {
        missed++;
        throw err;
      }
    };
    try {
      await root.ensureDir(`${store}/tags/t/index/sha256/abc`);
      await root.ensureDir(`${store}/tags/t/current`);
    } finally {
      Deno.lstatSync = realLstat;
    }
    assert.equal(missed, 0);
    assert.ok((await Deno.lstat(`${store}/tags/t/index/sha256/abc`)).isDirectory);
    assert.ok((await Deno.lstat(`${store}/tags/t/current`)).isDirectory);
    // Directories already there (not yet verified by this store) are adopted; a symlinked one is
    // refused, whatever lies below it.
    await Deno.mkdir(`${store}/old/kept`, { recursive: true });
    await Deno.symlink(victim, `${store}/old/link`);
    const again = await StoreRoot.open(store);
    await again.ensureDir(`${store}/old/kept/new`);
    assert.ok((await Deno.lstat(`${store}/old/kept/new`)).isDirectory);
    await assert.rejects(again.ensureDir(`${store}/old/link/sub/deeper`), foreign);
    assert.deepEqual([...Deno.readDirSync(victim)].map((e) => e.name), ["file"]);
  });
});

Deno.test("StoreRoot: a file another process renames away while it is opened is created afresh", async () => {
  await withStore(async (store) => {
    const root = await StoreRoot.open(store);
    const path = `${store}/blob.partial`;
    await Deno.writeTextFile(path, "staged by another process");
    // The other process publishes its file between the store's check (a synchronous lstat) and
    // its own look at it.
    const realLstat = Deno.lstat;
    let looks = 0;
    Deno.lstat = async (p: string | URL) => {
      if (String(p) === path && ++looks === 1) await Deno.rename(path, `${store}/blob`);
      return await realLstat(p);
    };
    let file: Deno.FsFile;
    try {
      file = await root.openOrCreate(path);
    } finally {
      Deno.lstat = realLstat;
    }
    try {
      assert.equal((await file.stat()).size, 0);
      assert.equal(await Deno.readTextFile(`${store}/blob`), "staged by another process");
    } finally {
      file.close();
    }
  });
});

Deno.test("StoreRoot.readSmallFile: reads a regular file whole within its bound; refuses a larger one unread and any symlink", async () => {
  await withStore(async (store, victim) => {
    const root = await StoreRoot.open(store);
    await Deno.writeTextFile(`${store}/small`, "sha256:abc");
    assert.equal(
      new TextDecoder().decode(await root.readSmallFile(`${store}/small`, 10)),
      "sha256:abc",
    );
    await Deno.writeFile(`${store}/empty`, new Uint8Array(0));
    assert.equal((await root.readSmallFile(`${store}/empty`, 10))?.byteLength, 0);
    // Missing, or a directory: nothing to read.
    assert.equal(await root.readSmallFile(`${store}/missing`, 10), undefined);
    await Deno.mkdir(`${store}/dir`);
    assert.equal(await root.readSmallFile(`${store}/dir`, 10), undefined);
    // One byte over the bound: refused by its size, before it is opened.
    await Deno.writeTextFile(`${store}/large`, "sha256:abcd");
    const { opened } = await recordingOpens(() =>
      assert.rejects(
        root.readSmallFile(`${store}/large`, 10),
        (err: unknown) => isFerryError(err, "too_large") && /11 bytes/.test(String(err)),
      )
    );
    assert.deepEqual(opened, []);
    // A symlink to a file outside, or to one inside: never followed.
    await Deno.symlink(`${victim}/file`, `${store}/out`);
    await assert.rejects(root.readSmallFile(`${store}/out`, 100), foreign);
    await Deno.symlink(`${store}/small`, `${store}/in`);
    await assert.rejects(root.readSmallFile(`${store}/in`, 100), foreign);
  });
});

Deno.test("StoreRoot: untidy paths (//, ., .., a trailing /) are checked as their tidy form", async () => {
  await withStore(async (store, victim) => {
    const root = await StoreRoot.open(store);
    await root.ensureDir(`${store}/a//b/`);
    await Deno.writeTextFile(`${store}/a/b/f`, "xyz");
    assert.equal(await root.fileSize(`${store}//a/./b/../b/f`), 3);
    assert.ok(await root.checkDir(`${store}/a/b/.`));
    await Deno.symlink(victim, `${store}/a/out`);
    await assert.rejects(root.fileSize(`${store}/a/b/../out/file`), foreign);
    await assert.rejects(root.readSmallFile(`${store}/./a/out/file`, 100), foreign);
  });
});
