/**
 * `saveImages` in process: several images from ferry's own registry (memory store) into a
 * registry directory, one of them failing, then a rerun that fetches only what is missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FerryError } from "../../src/errors.ts";
import { RegistryDir } from "../../src/registry_dir/mod.ts";
import { makeImage, makeIndex, pushImage, pushIndex, randomBytes } from "../support/images.ts";
import { type SaveEvent, saveImages } from "../../src/transfer/save.ts";
import {
  BLOB_PATH,
  MANIFEST_PATH,
  memoryRegistryClient,
  startMemoryRegistry,
} from "../support/memory_registry.ts";
import { tempDir } from "../support/tmp.ts";

Deno.test("saveImages: saves every image it can, names the one that failed, and a rerun fetches only what is missing", async () => {
  await using reg = await startMemoryRegistry({
    auth: { bearer: { username: "alice", password: "s3cret" } },
  });
  await using tmp = await tempDir();
  const single = makeImage();
  const index = makeIndex();
  const late = makeImage();
  await pushImage(reg.store.repository("lib/single"), single, "1.0");
  await pushIndex(reg.store.repository("lib/multi"), index, "2.0");
  const images = [
    `${reg.host}/lib/single:1.0`,
    `${reg.host}/lib/multi:2.0`,
    `${reg.host}/lib/late:3.0`,
  ];
  const client = memoryRegistryClient({ credentials: { username: "alice", password: "s3cret" } });
  const events: SaveEvent[] = [];
  try {
    await assert.rejects(
      saveImages({
        registryDir: tmp.path,
        images,
        platforms: [{ os: "linux", architecture: "arm64" }],
        client,
        maxParallel: 2,
        onEvent: (e) => events.push(e),
      }),
      (err: Error) =>
        err instanceof FerryError &&
        /^1 of 3 images failed: 127\.0\.0\.1:\d+\/lib\/late:3\.0: .*manifest unknown/.test(
          err.message,
        ),
    );
    const done = events.filter((e) => e.type === "image-done").map((e) => e.source).sort();
    assert.deepEqual(done, [
      `docker://${reg.host}/lib/multi:2.0`,
      `docker://${reg.host}/lib/single:1.0`,
    ]);
    const failed = events.filter((e) => e.type === "image-failed");
    assert.deepEqual(failed.map((e) => e.source), [`docker://${reg.host}/lib/late:3.0`]);

    const dir = await RegistryDir.open(tmp.path, { readOnly: true });
    try {
      const s = await dir.repository("lib/single").resolve("1.0");
      assert.equal(s.digest, single.manifest.desc.digest);
      const m = dir.repository("lib/multi");
      assert.equal((await m.resolve("2.0")).digest, index.index.desc.digest);
      // Only the arm64 child of the index was asked for.
      assert.equal(await m.exists(index.images[1].manifest.desc), true);
      assert.equal(await m.exists(index.images[0].manifest.desc), false);
      assert.deepEqual(await dir.repositories(), ["lib/multi", "lib/single"]);
    } finally {
      await dir.close();
    }

    // The missing image appears; a rerun saves it and reads no blob of the others again.
    await pushImage(reg.store.repository("lib/late"), late, "3.0");
    reg.log.length = 0;
    const saved = await saveImages({
      registryDir: tmp.path,
      images,
      platforms: [{ os: "linux", architecture: "arm64" }],
      client,
    });
    assert.deepEqual(saved.map((s) => s.repository), ["lib/late", "lib/multi", "lib/single"]);
    const fetched = reg.log.filter((e) => e.method === "GET" && BLOB_PATH.test(e.path))
      .map((e) => e.path.slice(e.path.lastIndexOf("/") + 1)).sort();
    assert.deepEqual(fetched, [late.config, ...late.layers].map((b) => b.desc.digest).sort());
  } finally {
    await client.close();
  }
});

Deno.test("saveImages: round trips per image behind a token per repository: one token for every repository, one manifest GET, one GET per blob; a rerun one HEAD", async () => {
  await using reg = await startMemoryRegistry({ auth: { bearer: {} } });
  await using tmp = await tempDir();
  const shared = randomBytes(3000);
  const images = Array.from(
    { length: 4 },
    () => makeImage({ layers: [shared, randomBytes(2000)] }),
  );
  const refs: string[] = [];
  for (const [i, image] of images.entries()) {
    await pushImage(reg.store.repository(`lib/app${i}`), image, "1.0");
    refs.push(`${reg.host}/lib/app${i}:1.0`);
  }
  const blobs = new Set(
    images.flatMap((im) => [im.config, ...im.layers].map((b) => b.desc.digest)),
  );
  const count = (kind: (e: (typeof reg.log)[number]) => boolean) => reg.log.filter(kind).length;
  const save = async () => {
    reg.log.length = 0;
    const client = memoryRegistryClient();
    try {
      // The image's own round trips; the lookups of its signatures (a referrers request and a
      // HEAD per cosign tag) are counted in referrers_test.ts.
      await saveImages({
        registryDir: tmp.path,
        images: refs,
        platforms: [],
        client,
        referrers: false,
      });
    } finally {
      await client.close();
    }
  };

  await save();
  const n = images.length;
  assert.equal(count((e) => e.origin === "token"), 1, "one token for every repository");
  assert.equal(count((e) => e.status === 401), 1, "only the ping is challenged");
  assert.equal(count((e) => e.method === "GET" && e.path === "/v2/"), 1, "one ping");
  assert.equal(count((e) => e.method === "HEAD"), 0, "no HEAD of a manifest or blob");
  assert.equal(count((e) => e.method === "GET" && MANIFEST_PATH.test(e.path)), n);
  assert.equal(count((e) => e.method === "GET" && BLOB_PATH.test(e.path)), blobs.size);
  assert.equal(reg.log.length, 1 + 1 + n + blobs.size);

  // A rerun asks for each tag with HEAD (Docker Hub does not count it as a pull) and reads nothing.
  await save();
  assert.equal(count((e) => e.method === "HEAD" && MANIFEST_PATH.test(e.path)), n);
  assert.equal(count((e) => e.method === "GET" && e.origin === "registry" && e.path !== "/v2/"), 0);
  assert.equal(count((e) => e.status === 401), 1);
});

Deno.test("saveImages: the image next in line resolves while one copies, and no further ahead", async () => {
  await using reg = await startMemoryRegistry();
  await using tmp = await tempDir();
  const names = ["lib/a", "lib/b", "lib/c"];
  const images = names.map(() => makeImage());
  for (const [i, name] of names.entries()) {
    await pushImage(reg.store.repository(name), images[i], "1.0");
  }
  const client = memoryRegistryClient();
  try {
    await saveImages({
      registryDir: tmp.path,
      images: names.map((n) => `${reg.host}/${n}:1.0`),
      platforms: [],
      client,
      maxParallel: 1,
    });
  } finally {
    await client.close();
  }
  const at = (what: (path: string) => boolean) => reg.log.findIndex((e) => what(e.path));
  const manifest = (name: string) => at((p) => p === `/v2/${name}/manifests/1.0`);
  const lastBlob = (name: string) =>
    reg.log.findLastIndex((e) => BLOB_PATH.test(e.path) && e.path.startsWith(`/v2/${name}/`));
  // One image at a time: b's manifest is read before a's blobs are done, c's only after.
  assert.ok(manifest("lib/b") < lastBlob("lib/a"), "b resolved ahead");
  assert.ok(manifest("lib/c") > lastBlob("lib/a"), "c resolved only once b's turn came");
});
