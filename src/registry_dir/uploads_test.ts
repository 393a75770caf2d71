/**
 * The directory's own operations for servers: upload sessions where distribution keeps them,
 * committed by rename and linked; manifests listed and deleted with their tags; blob links removed.
 * None of them reaches outside the directory through a planted symlink.
 */
import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import { writeAll } from "../fs_util.ts";
import { makeVictim, snapshotTree } from "../symlink_test_util.ts";
import { RegistryDir } from "./mod.ts";
import { makeImage, pushImage } from "../../tests/support/images.ts";
import { blobDataPath } from "./test_util.ts";

const V2 = "docker/registry/v2";
const ID = "0b6c9f0e-3d1a-4c5e-9f7a-2b8d4e6f1a3c";

async function withDir(fn: (dir: RegistryDir, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-regdir-uploads-" });
  const dir = await RegistryDir.open(`${tmp}/reg`);
  try {
    await fn(dir, tmp);
  } finally {
    await dir.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("registry dir uploads: a session in _uploads is committed by rename and linked", async () => {
  await withDir(async (dir) => {
    const sessions = dir.uploadSessions;
    const session = `${dir.root}/${V2}/repositories/app/_uploads/${ID}`;
    await sessions.create("app", ID);
    assert.ok(Number.isFinite(Date.parse(await Deno.readTextFile(`${session}/startedat`))));
    assert.equal(await sessions.size("app", ID), 0);
    assert.deepEqual(await sessions.list(), [{ name: "app", id: ID }]);

    const bytes = new TextEncoder().encode("layer bytes");
    const file = await sessions.open("app", ID, { write: true });
    await writeAll(file, bytes);
    file.close();
    assert.equal(await sessions.size("app", ID), bytes.byteLength);
    const { ino } = await Deno.stat(`${session}/data`);

    const digest = await sha256(bytes);
    await sessions.commit("app", ID, { digest, size: bytes.byteLength });
    // Renamed, not copied: the blob is the session's file.
    assert.equal((await Deno.stat(`${dir.root}/${V2}/${blobDataPath(digest)}`)).ino, ino);
    assert.equal(await dir.repository("app").blobSize(digest), bytes.byteLength);
    assert.equal(await sessions.size("app", ID), undefined);

    await sessions.remove("app", ID);
    assert.deepEqual(await sessions.list(), []);
  });
});

Deno.test("registry dir uploads: session ids that leave _uploads are refused", async () => {
  await withDir(async (dir) => {
    for (const id of ["..", ".", "", "a/b"]) {
      for (
        const op of [
          () => dir.uploadSessions.create("app", id),
          () => dir.uploadSessions.open("app", id),
        ]
      ) {
        await assert.rejects(op, (err) => isFerryError(err, "invalid_input"), id);
      }
      assert.equal(await dir.uploadSessions.size("app", id), undefined);
    }
    await assert.rejects(
      () => dir.uploadSessions.create("../app", ID),
      (err) => isFerryError(err, "invalid_input"),
    );
  });
});

Deno.test("registry dir uploads: a symlinked session is neither adopted nor removed", async () => {
  await withDir(async (dir, tmp) => {
    const victim = `${tmp}/victim`;
    await makeVictim(victim);
    const before = await snapshotTree(victim);
    await Deno.mkdir(`${dir.root}/${V2}/repositories/app/_uploads`, { recursive: true });
    await Deno.symlink(victim, `${dir.root}/${V2}/repositories/app/_uploads/${ID}`);
    await Deno.writeTextFile(`${victim}/data`, "outside");
    const planted = await snapshotTree(victim);
    assert.notDeepEqual(planted, before);

    assert.equal(await dir.uploadSessions.size("app", ID), undefined);
    assert.deepEqual(await dir.uploadSessions.list(), []);
    await assert.rejects(() => dir.uploadSessions.open("app", ID, { write: true }));
    await dir.uploadSessions.remove("app", ID);
    assert.deepEqual(await snapshotTree(victim), planted);
  });
});

Deno.test("registry dir uploads: a startedat larger than a date is not read; the directory dates the session", async () => {
  await withDir(async (dir) => {
    const sessions = dir.uploadSessions;
    const session = `${dir.root}/${V2}/repositories/app/_uploads/${ID}`;
    await sessions.create("app", ID);
    // A planted file would be read whole into memory however large: a valid date and padding.
    const padded = "2001-01-01T00:00:00Z" + " ".repeat(2 << 20);
    await Deno.writeTextFile(`${session}/startedat`, padded);
    const mtime = (await Deno.stat(session)).mtime!.getTime();
    assert.equal(await sessions.startedAt("app", ID), mtime);
    await Deno.writeTextFile(`${session}/startedat`, "2001-01-01T00:00:00Z\n");
    assert.equal(await sessions.startedAt("app", ID), Date.parse("2001-01-01T00:00:00Z"));
  });
});

Deno.test("registry dir: manifests listed, a manifest deleted with its tags, a blob unlinked", async () => {
  await withDir(async (dir) => {
    const repo = dir.repository("app");
    const image = makeImage();
    const other = makeImage({ architecture: "arm64" });
    await pushImage(repo, image, "one");
    await pushImage(repo, other, "two");
    await repo.tag(image.manifest.desc, "three");
    assert.ok(await repo.hasManifests());
    assert.ok(!await dir.repository("none").hasManifests());
    assert.deepEqual(
      (await repo.manifests()).sort(),
      [image.manifest.desc.digest, other.manifest.desc.digest].sort(),
    );

    assert.ok(await repo.deleteManifest(image.manifest.desc.digest));
    assert.ok(!await repo.deleteManifest(image.manifest.desc.digest));
    assert.deepEqual(await repo.tags(), ["two"]);
    assert.deepEqual(await repo.manifests(), [other.manifest.desc.digest]);
    // The data stays for garbage collection.
    assert.ok(await dir.hasBlob(image.manifest.desc.digest));

    const layer = image.layers[0].desc.digest;
    assert.ok(await repo.deleteBlob(layer));
    assert.ok(!await repo.deleteBlob(layer));
    assert.equal(await repo.blobSize(layer), undefined);
    assert.ok(await dir.hasBlob(layer));
    await repo.linkBlob({ digest: layer, size: image.layers[0].desc.size });
    assert.equal(await repo.blobSize(layer), image.layers[0].desc.size);
  });
});
