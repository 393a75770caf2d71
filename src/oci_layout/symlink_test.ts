/**
 * An OCI layout (or the image store built on one) may come off a USB stick with planted symlinks:
 * none of them makes ferry read, write or delete outside the layout.
 */
import assert from "node:assert/strict";
import { digestHex } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import { bytesSource } from "../store.ts";
import { makeVictim, snapshotTree } from "../symlink_test_util.ts";
import { drain, makeTarImage, pushImage } from "../../tests/support/images.ts";
import { OciLayout } from "./mod.ts";

const foreign = (err: unknown) =>
  isFerryError(err, "invalid_input") && /symbolic link/.test(err.message);

/** A layout `root` holding one tagged image, closed, and a victim directory beside it. */
async function withVictim(
  fn: (ctx: { tmp: string; root: string; victim: string }) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-layout-symlink-" });
  try {
    await makeVictim(`${tmp}/victim`);
    const layout = await OciLayout.open(`${tmp}/layout`);
    await pushImage(layout.repository(""), await makeTarImage(), "localhost/app:1");
    await layout.close();
    await fn({ tmp, root: `${tmp}/layout`, victim: `${tmp}/victim` });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("oci layout: gc leaves a symlinked .ferry/tmp's target alone", async () => {
  await withVictim(async ({ root, victim }) => {
    const before = await snapshotTree(victim);
    await Deno.remove(`${root}/.ferry/tmp`, { recursive: true });
    await Deno.symlink(victim, `${root}/.ferry/tmp`);
    const layout = await OciLayout.open(root);
    await layout.gc();
    await layout.close();
    assert.deepEqual(await snapshotTree(victim), before);
  });
});

Deno.test("oci layout: gc removes no symlink's target and no directory from .ferry/tmp", async () => {
  await withVictim(async ({ root, victim }) => {
    const tmpDir = `${root}/.ferry/tmp`;
    await Deno.symlink(`${victim}/notes.txt`, `${tmpDir}/${"cd".repeat(32)}.partial`);
    await Deno.symlink(`${victim}/old-dir`, `${tmpDir}/write-${crypto.randomUUID()}`);
    // A directory is nothing ferry stages: not removed (the old code removed it recursively).
    const stray = `${tmpDir}/layer-${crypto.randomUUID()}`;
    await Deno.mkdir(stray);
    await Deno.writeTextFile(`${stray}/keep`, "k");
    await Deno.symlink(victim, `${root}/blobs/sha256/${"ef".repeat(32)}`);
    const before = await snapshotTree(victim);
    const layout = await OciLayout.open(root);
    const result = await layout.gc();
    await layout.close();
    assert.deepEqual(result.removed, []);
    assert.deepEqual(await snapshotTree(victim), before);
    assert.equal(await Deno.readTextFile(`${stray}/keep`), "k");
  });
});

Deno.test("oci layout: a symlinked lock file, staging file or .ferry is not written through", async () => {
  await withVictim(async ({ root, victim }) => {
    const image = await makeTarImage();
    const layer = image.layers[0];
    // A dangling lock symlink: the old code created its target outside the layout.
    await Deno.remove(`${root}/.ferry/lock`);
    await Deno.symlink(`${victim}/created-lock`, `${root}/.ferry/lock`);
    let before = await snapshotTree(victim);
    let layout = await OciLayout.open(root);
    await assert.rejects(layout.repository("").push(layer.desc, bytesSource(layer.bytes)), foreign);
    await layout.close();
    assert.deepEqual(await snapshotTree(victim), before);
    await Deno.remove(`${root}/.ferry/lock`);

    // A staging file pointing at a longer file outside: the old code truncated and rewrote it.
    await Deno.writeTextFile(`${victim}/target`, "x".repeat(layer.desc.size + 10));
    await Deno.symlink(
      `${victim}/target`,
      `${root}/.ferry/tmp/${digestHex(layer.desc.digest)}.partial`,
    );
    before = await snapshotTree(victim);
    layout = await OciLayout.open(root);
    await assert.rejects(layout.repository("").push(layer.desc, bytesSource(layer.bytes)), foreign);
    await layout.close();
    assert.deepEqual(await snapshotTree(victim), before);

    // All of .ferry elsewhere.
    await Deno.remove(`${root}/.ferry`, { recursive: true });
    await Deno.symlink(victim, `${root}/.ferry`);
    before = await snapshotTree(victim);
    layout = await OciLayout.open(root);
    await assert.rejects(pushImage(layout.repository(""), image, "localhost/b:1"), foreign);
    await assert.rejects(layout.gc(), foreign);
    await layout.close();
    assert.deepEqual(await snapshotTree(victim), before);
  });
});

Deno.test("oci layout: a blob or index.json that is a symlink to a file outside is not read", async () => {
  await withVictim(async ({ root, victim }) => {
    let layout = await OciLayout.open(root);
    const desc = await layout.repository("").resolve("localhost/app:1");
    await layout.close();
    const blob = `${root}/blobs/sha256/${digestHex(desc.digest)}`;
    await Deno.rename(blob, `${victim}/manifest`);
    await Deno.symlink(`${victim}/manifest`, blob);
    layout = await OciLayout.open(root);
    await assert.rejects(layout.repository("").fetch(desc).then(drain), foreign);
    await layout.close();

    await Deno.rename(`${root}/index.json`, `${victim}/index.json`);
    await Deno.symlink(`${victim}/index.json`, `${root}/index.json`);
    layout = await OciLayout.open(root);
    await assert.rejects(layout.refNames(), foreign);
    await layout.close();
  });
});

Deno.test("oci layout: the root may be a symlink (storage mounted elsewhere)", async () => {
  await withVictim(async ({ tmp, root }) => {
    await Deno.symlink(root, `${tmp}/mounted`);
    const layout = await OciLayout.open(`${tmp}/mounted`);
    const image = await makeTarImage();
    await pushImage(layout.repository(""), image, "localhost/b:1");
    assert.equal(
      (await layout.repository("").resolve("localhost/b:1")).digest,
      image.manifest.desc.digest,
    );
    assert.deepEqual(await layout.refNames(), ["localhost/app:1", "localhost/b:1"]);
    assert.deepEqual((await layout.gc()).removed, []);
    await layout.close();
    assert.ok(
      (await Deno.lstat(`${root}/blobs/sha256/${digestHex(image.config.desc.digest)}`)).isFile,
    );
  });
});
