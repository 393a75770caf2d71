/**
 * A registry directory from a git repository or a USB stick may hold planted symlinks: none of
 * them makes ferry read, write or delete outside the directory.
 */
import assert from "node:assert/strict";
import { digestHex } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import { bytesSource } from "../store.ts";
import { readAll } from "../streams.ts";
import { makeVictim, snapshotTree } from "../symlink_test_util.ts";
import { RegistryDir } from "./mod.ts";
import { SMALL_BLOB_BYTES } from "./staging.ts";
import { makeImage, pushImage } from "../../tests/support/images.ts";
import { blobDataPath } from "./test_util.ts";

const V2 = "docker/registry/v2";

/**
 * A registry directory `reg` and a victim directory beside it holding files and a directory an
 * hour old, named like ferry's own staging files.
 */
async function withVictim(
  fn: (ctx: { tmp: string; reg: string; victim: string }) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-regdir-symlink-" });
  try {
    const victim = `${tmp}/victim`;
    await makeVictim(victim);
    await Deno.mkdir(`${tmp}/reg/${V2}/blobs`, { recursive: true });
    await Deno.mkdir(`${tmp}/reg/${V2}/repositories`, { recursive: true });
    await fn({ tmp, reg: `${tmp}/reg`, victim });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const foreign = (err: unknown) =>
  isFerryError(err, "invalid_input") && /symbolic link/.test(err.message);

Deno.test("registry dir: close leaves a symlinked .ferry-tmp's target alone", async () => {
  await withVictim(async ({ reg, victim }) => {
    const before = await snapshotTree(victim);
    await Deno.symlink("../victim", `${reg}/.ferry-tmp`);
    const dir = await RegistryDir.open(reg);
    await dir.close();
    assert.deepEqual(await snapshotTree(victim), before);
    assert.ok((await Deno.lstat(`${reg}/.ferry-tmp`)).isSymlink);
  });
});

Deno.test("registry dir: a push through a symlinked .ferry-tmp is refused, nothing lands outside", async () => {
  await withVictim(async ({ reg, victim }) => {
    const before = await snapshotTree(victim);
    await Deno.symlink("../victim", `${reg}/.ferry-tmp`);
    const dir = await RegistryDir.open(reg);
    const image = makeImage();
    await assert.rejects(pushImage(dir.repository("app"), image, "1"), foreign);
    await dir.close();
    assert.deepEqual(await snapshotTree(victim), before);
  });
});

Deno.test("registry dir: close removes only ferry's own regular staging files", async () => {
  await withVictim(async ({ reg, victim }) => {
    await Deno.mkdir(`${reg}/.ferry-tmp/stray-dir`, { recursive: true });
    await Deno.writeTextFile(`${reg}/.ferry-tmp/stray-dir/keep.txt`, "k");
    await Deno.symlink("../../victim/old-dir", `${reg}/.ferry-tmp/${"cd".repeat(32)}.partial`);
    await Deno.symlink("../../victim/notes.txt", `${reg}/.ferry-tmp/write-${crypto.randomUUID()}`);
    const hourAgo = new Date(Date.now() - 3600_000);
    await Deno.utime(`${reg}/.ferry-tmp/stray-dir`, hourAgo, hourAgo);
    const partial = `${reg}/.ferry-tmp/${"ef".repeat(32)}.partial`;
    await Deno.writeTextFile(partial, "crashed run");
    const before = await snapshotTree(victim);
    const dir = await RegistryDir.open(reg);
    await dir.close();
    assert.deepEqual(await snapshotTree(victim), before);
    // The crashed run's partial went; what ferry did not name stayed.
    assert.equal(await Deno.lstat(partial).catch(() => undefined), undefined);
    assert.equal(await Deno.readTextFile(`${reg}/.ferry-tmp/stray-dir/keep.txt`), "k");
  });
});

Deno.test("registry dir: a symlinked partial is never written through", async () => {
  await withVictim(async ({ reg, victim }) => {
    // Past the small-blob bound: a blob that is staged in a resumable partial.
    const image = makeImage({ layerSizes: [SMALL_BLOB_BYTES + 1000] });
    const layer = image.layers[0];
    await Deno.mkdir(`${reg}/.ferry-tmp`);
    // Longer than the blob: the old code truncated the target to start over.
    await Deno.writeTextFile(`${victim}/target`, "x".repeat(layer.desc.size + 10));
    await Deno.symlink(
      `${victim}/target`,
      `${reg}/.ferry-tmp/${digestHex(layer.desc.digest)}.partial`,
    );
    const before = await snapshotTree(victim);
    const dir = await RegistryDir.open(reg);
    await assert.rejects(
      dir.repository("app").push(layer.desc, bytesSource(layer.bytes)),
      foreign,
    );
    await dir.close();
    assert.deepEqual(await snapshotTree(victim), before);
  });
});

Deno.test("registry dir: a small blob is stored beside a symlinked partial, never through it", async () => {
  await withVictim(async ({ reg, victim }) => {
    const image = makeImage({ layerSizes: [300] });
    const layer = image.layers[0];
    await Deno.mkdir(`${reg}/.ferry-tmp`);
    await Deno.writeTextFile(`${victim}/target`, "x".repeat(layer.desc.size + 10));
    const planted = `${reg}/.ferry-tmp/${digestHex(layer.desc.digest)}.partial`;
    await Deno.symlink(`${victim}/target`, planted);
    const before = await snapshotTree(victim);
    const dir = await RegistryDir.open(reg);
    const repo = dir.repository("app");
    await repo.push(layer.desc, bytesSource(layer.bytes));
    assert.deepEqual(await readAll(await repo.fetch(layer.desc), 1 << 20, "layer"), layer.bytes);
    assert.ok((await Deno.lstat(dir.blobPath(layer.desc.digest))).isFile);
    await dir.close();
    assert.deepEqual(await snapshotTree(victim), before);
  });
});

Deno.test("registry dir: a symlinked repository or tags directory is not written, read or deleted through", async () => {
  await withVictim(async ({ reg, victim }) => {
    const before = await snapshotTree(victim);
    await Deno.symlink(victim, `${reg}/${V2}/repositories/evil`);
    const dir = await RegistryDir.open(reg);
    const image = makeImage();
    await assert.rejects(pushImage(dir.repository("evil"), image, "1"), foreign);
    assert.deepEqual(await snapshotTree(victim), before);

    // A real repository whose tags directory points outside: deleting a tag removes nothing there.
    await pushImage(dir.repository("app"), image, "1");
    await dir.close();
    const tags = `${reg}/${V2}/repositories/app/_manifests/tags`;
    await Deno.remove(tags, { recursive: true });
    await Deno.symlink(victim, tags);
    const again = await RegistryDir.open(reg);
    await assert.rejects(again.repository("app").deleteTag("old-dir"), foreign);
    await assert.rejects(again.repository("app").tags(), foreign);
    await again.close();
    assert.deepEqual(await snapshotTree(victim), before);
  });
});

Deno.test("registry dir: a blob whose data is a symlink to a file outside is not read", async () => {
  await withVictim(async ({ reg, victim }) => {
    const dir = await RegistryDir.open(reg);
    const image = makeImage();
    await pushImage(dir.repository("app"), image, "1");
    const layer = image.layers[0];
    const data = `${reg}/${V2}/${blobDataPath(layer.desc.digest)}`;
    await Deno.writeTextFile(`${victim}/secret`, "s".repeat(layer.desc.size));
    await Deno.remove(data);
    await Deno.symlink(`${victim}/secret`, data);
    const repo = dir.repository("app");
    await assert.rejects(repo.fetch(layer.desc).then((s) => readAll(s, 1 << 20, "x")), foreign);
    await assert.rejects(repo.exists(layer.desc), foreign);
    await assert.rejects(dir.blobSize(layer.desc.digest), foreign);
    // The manifest's data: resolve refuses it too.
    const manifestData = `${reg}/${V2}/${blobDataPath(image.manifest.desc.digest)}`;
    await Deno.rename(manifestData, `${victim}/manifest`);
    await Deno.symlink(`${victim}/manifest`, manifestData);
    await assert.rejects(repo.resolve("1"), foreign);
    await dir.close();
  });
});

Deno.test("registry dir: the root may be a symlink (storage mounted elsewhere)", async () => {
  await withVictim(async ({ tmp, reg }) => {
    await Deno.symlink(reg, `${tmp}/mounted`);
    const dir = await RegistryDir.open(`${tmp}/mounted`);
    const image = makeImage();
    await pushImage(dir.repository("app"), image, "1");
    assert.deepEqual(await dir.repository("app").resolve("1"), image.manifest.desc);
    assert.deepEqual(await dir.repositories(), ["app"]);
    await dir.close();
    assert.ok(
      (await Deno.lstat(`${reg}/${V2}/${blobDataPath(image.manifest.desc.digest)}`)).isFile,
    );
    assert.equal(await Deno.lstat(`${reg}/.ferry-tmp`).catch(() => undefined), undefined);
  });
});
