import assert from "node:assert/strict";
import { makeImage, makeIndex, pushImage, pushIndex } from "../../tests/support/images.ts";
import { tempDir } from "../../tests/support/tmp.ts";
import { makeVictim, snapshotTree } from "../symlink_test_util.ts";
import { collectGarbage } from "./gc.ts";
import { Layout } from "./layout.ts";
import { RegistryDir } from "./registry_dir.ts";
import { listTree } from "./test_util.ts";
import { verifyRegistryDir } from "./verify.ts";

/** A directory with something for each rule to remove: untagged images, a moved tag, a stray blob. */
async function populate(root: string, withIndex = true) {
  const dir = await RegistryDir.open(root);
  const app = dir.repository("library/app");
  const old = makeImage({ layerSizes: [4000, 3000] });
  await pushImage(app, old, "1.0");
  await pushImage(app, makeImage({ layers: [old.layers[0].bytes, new Uint8Array(900)] }), "1.0");
  for (let i = 0; i < 10; i++) {
    const gone = makeImage();
    await pushImage(app, gone, "gone");
    await app.deleteTag("gone");
  }
  const index = makeIndex();
  if (withIndex) await pushIndex(dir.repository("library/multi"), index, "latest");
  await dir.close();
  return { index };
}

Deno.test("gc: a sweep killed part-way leaves every manifest whole, and a rerun finishes it", async () => {
  await using tmp = await tempDir();
  const killed = tmp.join("killed");
  // No index: with --delete-untagged its children lose their links by design (tested below).
  await populate(killed, false);
  await Deno.mkdir(tmp.join("clean"));
  await new Deno.Command("cp", { args: ["-a", killed, tmp.join("clean/r")] }).output();
  const clean = tmp.join("clean/r");

  const dir = await RegistryDir.open(killed);
  const kill = new AbortController();
  let removedBefore = 0;
  await assert.rejects(
    collectGarbage(dir, {
      deleteUntagged: true,
      signal: kill.signal,
      onEvent: (e) => {
        // Stopped between two unlinks, as far into the blobs as it gets.
        if (e.type === "blob" && ++removedBefore === 3) kill.abort(new Error("killed"));
      },
    }),
    /killed/,
  );
  const midway = await verifyRegistryDir(dir);
  assert.deepEqual(midway.problems, []);

  const rest = await collectGarbage(dir, { deleteUntagged: true });
  assert.equal(rest.manifests.length, 0, "the manifests went before the kill");
  assert.ok(rest.blobs.length > 0, "the kill left blobs to remove");
  await dir.close();

  const cleanDir = await RegistryDir.open(clean);
  const all = await collectGarbage(cleanDir, { deleteUntagged: true });
  await cleanDir.close();
  assert.equal(all.blobs.length, rest.blobs.length + removedBefore);
  const files = async (root: string) =>
    [...(await listTree(root)).entries()].filter(([, e]) => e.type === "file");
  assert.deepEqual(await files(killed), await files(clean));
});

Deno.test("gc: a dry run removes nothing and reports what a run removes", async () => {
  await using tmp = await tempDir();
  const root = tmp.join("r");
  await populate(root);
  const before = await listTree(root);
  const dir = await RegistryDir.open(root, { readOnly: true });
  const dry = await collectGarbage(dir, { dryRun: true, deleteUntagged: true });
  await assert.rejects(collectGarbage(dir), /read-only/);
  assert.deepEqual(await listTree(root), before);
  const writable = await RegistryDir.open(root);
  const real = await collectGarbage(writable, { deleteUntagged: true });
  assert.deepEqual({ ...real, dryRun: true }, dry);
  assert.ok(real.freedBytes > 0);
  await writable.close();
});

Deno.test("gc: with --delete-untagged a tagged index's children go, as in docker-registry, and are reported", async () => {
  await using tmp = await tempDir();
  const root = tmp.join("r");
  const { index } = await populate(root);
  const dir = await RegistryDir.open(root);
  const broken: string[] = [];
  const report = await collectGarbage(dir, {
    deleteUntagged: true,
    onEvent: (e) => {
      if (e.type === "broken-index") broken.push(`${e.repository}@${e.digest}>${e.child}`);
    },
  });
  const children = index.images.map((i) => i.manifest.desc.digest);
  assert.deepEqual(
    broken.sort(),
    children.map((c) => `library/multi@${index.index.desc.digest}>${c}`).sort(),
  );
  for (const child of children) {
    assert.ok(report.manifests.some((m) => m.digest === child));
    // The child's manifest blob stays (the index names it); its own layer goes.
    assert.ok(await dir.hasBlob(child));
  }
  await dir.close();
});

Deno.test("gc: a symlink planted in the store stops it before anything is removed, and nothing outside changes", async () => {
  await using tmp = await tempDir();
  const victim = tmp.join("victim");
  await makeVictim(victim);
  const outside = await snapshotTree(victim);
  for (const plant of ["blob-data", "layers-dir", "repository", "tag"] as const) {
    const root = tmp.join(`r-${plant}`);
    await populate(root);
    const layout = new Layout(root);
    const stray = `sha256:${"cd".repeat(32)}` as const;
    if (plant === "blob-data") {
      await Deno.mkdir(layout.blobDir(stray), { recursive: true });
      await Deno.symlink(`${victim}/notes.txt`, layout.blobData(stray));
    } else if (plant === "repository") {
      // A repository behind a symlink: its marks cannot be read, so nothing may be swept.
      await Deno.symlink(victim, layout.repository("library/linked"));
    } else if (plant === "tag") {
      await Deno.symlink(victim, layout.tagDir("library/app", "linked"));
    } else {
      const repo = layout.repository("library/evil");
      await Deno.mkdir(`${repo}/_manifests`, { recursive: true });
      await Deno.mkdir(`${repo}/_layers`, { recursive: true });
      await Deno.symlink(victim, `${repo}/_layers/sha256`);
    }
    const before = await snapshotTree(root);
    const dir = await RegistryDir.open(root);
    await assert.rejects(
      collectGarbage(dir, { deleteUntagged: true }),
      /symbolic link/,
      plant,
    );
    await dir.close();
    assert.deepEqual(await snapshotTree(root), before, plant);
    assert.deepEqual(await snapshotTree(victim), outside, plant);
  }
});

Deno.test("gc: a damaged revision link stops it before anything is removed", async () => {
  await using tmp = await tempDir();
  const root = tmp.join("r");
  await populate(root);
  const dir = await RegistryDir.open(root);
  const [digest] = await dir.repository("library/app").manifests();
  const link = new Layout(dir.root).revisionLink("library/app", digest);
  await Deno.writeTextFile(link, "not a digest");
  const before = await listTree(root);
  await assert.rejects(collectGarbage(dir), new RegExp(`${link}: damaged link`));
  assert.deepEqual(await listTree(root), before);
  await dir.close();
});

Deno.test("gc: with --delete-untagged, a repository that never had a tag loses its manifests", async () => {
  await using tmp = await tempDir();
  const root = tmp.join("r");
  const dir = await RegistryDir.open(root);
  const image = makeImage();
  await pushImage(dir.repository("library/untagged"), image);
  const report = await collectGarbage(dir, { deleteUntagged: true });
  assert.deepEqual(report.manifests, [
    { repository: "library/untagged", digest: image.manifest.desc.digest },
  ]);
  assert.equal(report.blobs.length, 4);
  assert.deepEqual(await dir.repository("library/untagged").manifests(), []);
  await dir.close();
});
