import assert from "node:assert/strict";
import { type Digest, sha256 } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST } from "../media_types.ts";
import { bytesSource } from "../store.ts";
import { readAll } from "../streams.ts";
import { linkBatchProbe } from "./fs.ts";
import { RegistryDir } from "./mod.ts";
import { SMALL_BLOB_BYTES } from "./staging.ts";
import {
  blob,
  makeImage,
  makeIndex,
  pushImage,
  pushIndex,
  randomBytes,
} from "../../tests/support/images.ts";
import { blobDataPath, listTree, recordingSource, type TreeEntry } from "./test_util.ts";

const V2 = "docker/registry/v2";

async function withDir(fn: (dir: RegistryDir, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ferry-regdir-" });
  const dir = await RegistryDir.open(`${root}/registry`);
  try {
    await fn(dir, `${root}/registry`);
  } finally {
    await dir.close();
    await Deno.remove(root, { recursive: true });
  }
}

function hex(d: Digest): string {
  return d.slice(7);
}

async function rejectsWith(p: Promise<unknown>, code: string, match?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof FerryError, `expected FerryError, got ${err}`);
    assert.equal(err.code, code, err.message);
    if (match) assert.match(err.message, match);
    return true;
  });
}

/** Every path a directory must hold, with its parents, for the given files. */
function withParents(files: string[]): string[] {
  const all = new Set<string>();
  for (const f of files) {
    const parts = f.split("/");
    for (let i = 1; i <= parts.length; i++) all.add(parts.slice(0, i).join("/"));
  }
  return [...all].sort();
}

function assertModes(tree: Map<string, TreeEntry>): void {
  for (const [path, e] of tree) {
    assert.equal(e.mode, e.type === "dir" ? 0o755 : 0o644, `mode of ${path}`);
  }
}

function assertLink(tree: Map<string, TreeEntry>, path: string, digest: Digest): void {
  const e = tree.get(path);
  assert.ok(e, `missing ${path}`);
  assert.equal(e.text, digest, `content of ${path}`);
  assert.equal(e.size, 71, `size of ${path}`);
}

Deno.test("opening an existing registry directory for writing makes no asynchronous filesystem call", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-regdir-" });
  await (await RegistryDir.open(`${root}/registry`)).close();
  // Each of these is a hand-off to the runtime's blocking pool: at a process's start, where a
  // save opens its directory, 1–3 ms apiece against microseconds for the synchronous call.
  const names = ["mkdir", "chmod", "realPath", "stat", "lstat", "open"] as const;
  const real = names.map((name) => Deno[name]);
  const called: string[] = [];
  names.forEach((name, i) => {
    // deno-lint-ignore no-explicit-any
    (Deno as any)[name] = (...args: unknown[]) => {
      called.push(`${name} ${args[0]}`);
      // deno-lint-ignore no-explicit-any
      return (real[i] as any)(...args);
    };
  });
  let dir: RegistryDir;
  try {
    dir = await RegistryDir.open(`${root}/registry`);
  } finally {
    // deno-lint-ignore no-explicit-any
    names.forEach((name, i) => (Deno as any)[name] = real[i]);
  }
  try {
    assert.deepEqual(called, []);
    // Still holding the writers' lock: gc is refused while it is open.
    const gc = await RegistryDir.open(`${root}/registry`);
    try {
      await rejectsWith(gc.lockExclusive(), "conflict");
    } finally {
      await gc.close();
    }
  } finally {
    await dir!.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a tagged image gives exactly distribution's tree, link bytes and modes", async () => {
  await withDir(async (dir, root) => {
    const img = makeImage();
    await pushImage(dir.repository("library/app"), img, "1.0");
    await dir.close();
    const tree = await listTree(root);
    const repo = `${V2}/repositories/library/app`;
    const m = img.manifest.desc.digest;
    const blobs = [img.config, ...img.layers];
    const files = [
      ...[...blobs, img.manifest].map((b) => `${V2}/${blobDataPath(b.desc.digest)}`),
      ...blobs.map((b) => `${repo}/_layers/sha256/${hex(b.desc.digest)}/link`),
      `${repo}/_manifests/revisions/sha256/${hex(m)}/link`,
      `${repo}/_manifests/tags/1.0/current/link`,
      `${repo}/_manifests/tags/1.0/index/sha256/${hex(m)}/link`,
      `${repo}/_uploads`,
    ];
    assert.deepEqual([...tree.keys()], withParents(files));
    assert.equal(tree.get(`${repo}/_uploads`)?.type, "dir");
    assertModes(tree);
    for (const b of blobs) {
      assertLink(tree, `${repo}/_layers/sha256/${hex(b.desc.digest)}/link`, b.desc.digest);
    }
    assertLink(tree, `${repo}/_manifests/revisions/sha256/${hex(m)}/link`, m);
    assertLink(tree, `${repo}/_manifests/tags/1.0/current/link`, m);
    assertLink(tree, `${repo}/_manifests/tags/1.0/index/sha256/${hex(m)}/link`, m);
    for (const b of [...blobs, img.manifest]) {
      const data = await Deno.readFile(`${root}/${V2}/${blobDataPath(b.desc.digest)}`);
      assert.deepEqual(data, b.bytes);
    }
  });
});

Deno.test("links are written after another run removed the staging directory", async () => {
  await withDir(async (dir, root) => {
    const img = makeImage();
    const repo = dir.repository("app");
    await pushImage(repo, img, "1");
    // Another run's close removes an idle staging directory this process has seen before.
    await Deno.remove(`${root}/.ferry-tmp`, { recursive: true });
    await repo.tag(img.manifest.desc, "2");
    assert.equal((await repo.resolve("2")).digest, img.manifest.desc.digest);
  });
});

Deno.test("an index links itself and both children as revisions, all blobs as layers", async () => {
  await withDir(async (dir, root) => {
    const idx = makeIndex();
    await pushIndex(dir.repository("multi/arch"), idx, "1.0");
    const tree = await listTree(`${root}/${V2}/repositories/multi/arch`);
    const revisions = [...tree.keys()].filter((p) =>
      /^_manifests\/revisions\/sha256\/[a-f0-9]+\/link$/.test(p)
    );
    const want = [idx.index, ...idx.images.map((i) => i.manifest)].map((b) =>
      `_manifests/revisions/sha256/${hex(b.desc.digest)}/link`
    ).sort();
    assert.deepEqual(revisions.sort(), want);
    const layers = [...tree.keys()].filter((p) => /^_layers\/sha256\/[a-f0-9]+\/link$/.test(p));
    const blobDigests = new Set(
      idx.images.flatMap((i) => [i.config, ...i.layers].map((b) => b.desc.digest)),
    );
    assert.equal(blobDigests.size, 5, "shared base layer counted once");
    assert.deepEqual(
      layers.sort(),
      [...blobDigests].map((d) => `_layers/sha256/${hex(d)}/link`).sort(),
    );
    assertLink(tree, "_manifests/tags/1.0/current/link", idx.index.desc.digest);
    const resolved = await dir.repository("multi/arch").resolve("1.0");
    assert.deepEqual(resolved, { ...idx.index.desc });
  });
});

Deno.test("two repositories share one data file, each with its own links", async () => {
  await withDir(async (dir, root) => {
    const shared = randomBytes(5000);
    const a = makeImage({ layers: [shared, randomBytes(10)] });
    const b = makeImage({ layers: [shared, randomBytes(20)] });
    await pushImage(dir.repository("team/a"), a, "v1");
    await pushImage(dir.repository("team/b"), b, "v1");
    const tree = await listTree(`${root}/${V2}`);
    const d = await sha256(shared);
    const datas = [...tree.keys()].filter((p) => p.endsWith(`/${hex(d)}/data`));
    assert.deepEqual(datas, [blobDataPath(d)]);
    assertLink(tree, `repositories/team/a/_layers/sha256/${hex(d)}/link`, d);
    assertLink(tree, `repositories/team/b/_layers/sha256/${hex(d)}/link`, d);
    const dataFiles = [...(await listTree(`${root}/${V2}/blobs`)).keys()].filter((p) =>
      p.endsWith("/data")
    );
    assert.equal(dataFiles.length, 7, "2 configs, 2 manifests, 3 distinct layers");
  });
});

Deno.test("pushing a blob already stored only links it, without opening the source", async () => {
  await withDir(async (dir) => {
    const b = blob(OCI_LAYER_TAR, randomBytes(4000));
    await dir.repository("one").push(b.desc, bytesSource(b.bytes));
    let called = 0;
    const other = dir.repository("two");
    assert.equal(await other.exists(b.desc), false, "not linked into two yet");
    await other.push(b.desc, () => {
      called++;
      return Promise.reject(new Error("must not be called"));
    });
    assert.equal(called, 0);
    assert.equal(await other.exists(b.desc), true);
    // A descriptor that lies about the size of a stored blob is refused.
    await rejectsWith(
      other.push({ ...b.desc, size: 3999 }, bytesSource(b.bytes)),
      "size_mismatch",
      /4000 bytes, expected 3999/,
    );
  });
});

Deno.test("wrong digest or size: nothing becomes visible and the staging file is removed", async () => {
  await withDir(async (dir, root) => {
    const repo = dir.repository("bad/content");
    const bytes = randomBytes(3000);
    const cases: [Digest, number, Uint8Array, string][] = [
      [await sha256("something else"), 3000, bytes, "digest_mismatch"],
      [await sha256(bytes), 2999, bytes, "size_mismatch"], // more bytes than announced: fails fast
      [await sha256(bytes), 3001, bytes, "size_mismatch"], // fewer
    ];
    for (const [digest, size, content, code] of cases) {
      const desc = { mediaType: OCI_LAYER_TAR, digest, size };
      await rejectsWith(
        repo.push(desc, bytesSource(content)),
        code,
        new RegExp(`bad/content@${digest}`),
      );
      assert.equal(await dir.hasBlob(digest), false);
      assert.equal(await repo.exists(desc), false);
      const staged = await Array.fromAsync(Deno.readDir(`${root}/.ferry-tmp`));
      assert.deepEqual(staged.map((e) => e.name), []);
    }
    const tree = await listTree(`${root}/${V2}`);
    assert.deepEqual([...tree.keys()], ["blobs", "repositories"]);
  });
});

Deno.test("a partial left by a crashed run is resumed from its end", async () => {
  await withDir(async (dir, root) => {
    const bytes = randomBytes(SMALL_BLOB_BYTES + 10_000);
    const b = blob(OCI_LAYER_TAR, bytes);
    await Deno.mkdir(`${root}/.ferry-tmp`);
    await Deno.writeFile(
      `${root}/.ferry-tmp/${hex(b.desc.digest)}.partial`,
      bytes.subarray(0, 5000),
    );
    const { source, offsets } = recordingSource(bytes, 700);
    await dir.repository("resume").push(b.desc, source);
    assert.deepEqual(offsets, [5000]);
    assert.deepEqual(await Deno.readFile(dir.blobPath(b.desc.digest)), bytes);
    assert.equal(
      await Deno.stat(`${root}/.ferry-tmp/${hex(b.desc.digest)}.partial`).catch(() => null),
      null,
    );
  });
});

Deno.test("a corrupt partial is restarted from the first byte", async () => {
  await withDir(async (dir, root) => {
    const bytes = randomBytes(SMALL_BLOB_BYTES + 10_000);
    const b = blob(OCI_LAYER_TAR, bytes);
    await Deno.mkdir(`${root}/.ferry-tmp`);
    const wrong = bytes.slice(0, 5000);
    wrong[17] ^= 0xff;
    await Deno.writeFile(`${root}/.ferry-tmp/${hex(b.desc.digest)}.partial`, wrong);
    const { source, offsets } = recordingSource(bytes);
    await dir.repository("resume").push(b.desc, source);
    assert.deepEqual(offsets, [5000, 0]);
    assert.deepEqual(await Deno.readFile(dir.blobPath(b.desc.digest)), bytes);
  });
});

Deno.test("a partial longer than the blob is discarded; a complete one needs no source", async () => {
  await withDir(async (dir, root) => {
    const bytes = randomBytes(SMALL_BLOB_BYTES + 2000);
    const b = blob(OCI_LAYER_TAR, bytes);
    const partial = `${root}/.ferry-tmp/${hex(b.desc.digest)}.partial`;
    await Deno.mkdir(`${root}/.ferry-tmp`);
    await Deno.writeFile(partial, randomBytes(SMALL_BLOB_BYTES + 2500));
    const first = recordingSource(bytes);
    await dir.repository("r").push(b.desc, first.source);
    assert.deepEqual(first.offsets, [0]);

    const c = blob(OCI_LAYER_TAR, randomBytes(SMALL_BLOB_BYTES + 2000));
    await Deno.writeFile(`${root}/.ferry-tmp/${hex(c.desc.digest)}.partial`, c.bytes);
    const second = recordingSource(c.bytes);
    await dir.repository("r").push(c.desc, second.source);
    assert.deepEqual(second.offsets, []);
    assert.deepEqual(await Deno.readFile(dir.blobPath(c.desc.digest)), c.bytes);
  });
});

Deno.test("a cut connection keeps the partial, and the next push resumes it", async () => {
  await withDir(async (dir, root) => {
    const bytes = randomBytes(SMALL_BLOB_BYTES + 6000);
    const b = blob(OCI_LAYER_TAR, bytes);
    const repo = dir.repository("flaky");
    const cut = () => {
      let pulls = 0;
      return Promise.resolve(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (pulls++ === 0) controller.enqueue(bytes.slice(0, 2500));
            else controller.error(new FerryError("network", "connection reset"));
          },
        }),
      );
    };
    await rejectsWith(repo.push(b.desc, cut), "network");
    assert.equal(await dir.hasBlob(b.desc.digest), false);
    const partial = await Deno.readFile(`${root}/.ferry-tmp/${hex(b.desc.digest)}.partial`);
    assert.deepEqual(partial, bytes.subarray(0, 2500));
    const { source, offsets } = recordingSource(bytes);
    await repo.push(b.desc, source);
    assert.deepEqual(offsets, [2500]);
    assert.deepEqual(await Deno.readFile(dir.blobPath(b.desc.digest)), bytes);
  });
});

Deno.test("concurrent pushes of one digest download it once and link it everywhere", async () => {
  await withDir(async (dir) => {
    const bytes = randomBytes(200_000);
    const b = blob(OCI_LAYER_TAR, bytes);
    const { source, offsets } = recordingSource(bytes, 4096);
    const repos = ["a", "b", "c", "d"].map((n) => dir.repository(`shared/${n}`));
    await Promise.all(repos.map((r) => r.push(b.desc, source)));
    assert.deepEqual(offsets, [0]);
    for (const r of repos) assert.equal(await r.exists(b.desc), true);
  });
});

Deno.test("a waiter whose shared download failed retries with its own source", async () => {
  await withDir(async (dir) => {
    const b = blob(OCI_LAYER_TAR, randomBytes(3000));
    let brokenCalled!: () => void;
    const started = new Promise<void>((resolve) => brokenCalled = resolve);
    const broken = () => {
      brokenCalled();
      return new Promise<never>((_, reject) =>
        setTimeout(() => reject(new FerryError("network", "unreachable")), 50)
      );
    };
    const good = recordingSource(b.bytes);
    const firstPush = dir.repository("x").push(b.desc, broken);
    await started;
    const secondPush = dir.repository("y").push(b.desc, good.source);
    const [first, second] = await Promise.allSettled([firstPush, secondPush]);
    assert.equal(first.status, "rejected");
    assert.equal(second.status, "fulfilled");
    assert.deepEqual(good.offsets, [0]);
    assert.equal(await dir.repository("y").exists(b.desc), true);
  });
});

Deno.test("a push waits for another process's lock and then sees the finished blob", async () => {
  await withDir(async (dir, root) => {
    const bytes = randomBytes(SMALL_BLOB_BYTES + 3000);
    const b = blob(OCI_LAYER_TAR, bytes);
    const partialPath = `${root}/.ferry-tmp/${hex(b.desc.digest)}.partial`;
    await Deno.mkdir(`${root}/.ferry-tmp`);
    // Stands in for another process writing the same blob: a separate open file holding the lock.
    const other = await Deno.open(partialPath, { write: true, create: true });
    await other.lock(true);
    const { source, offsets } = recordingSource(bytes);
    let settled = false;
    const pushing = dir.repository("waits").push(b.desc, source).finally(() => settled = true);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(settled, false, "push must wait for the lock");
    await other.write(bytes);
    await Deno.mkdir(`${root}/${V2}/${blobDataPath(b.desc.digest).slice(0, -5)}`, {
      recursive: true,
    });
    await Deno.rename(partialPath, dir.blobPath(b.desc.digest));
    other.close();
    await pushing;
    assert.deepEqual(offsets, []);
    assert.equal(await dir.repository("waits").exists(b.desc), true);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${root}/.ferry-tmp`)), []);
  });
});

Deno.test("read-only: reads work, every write is denied, nothing is created", async () => {
  await withDir(async (dir, root) => {
    const img = makeImage();
    await pushImage(dir.repository("ro/app"), img, "latest");
    await dir.close();
    const ro = await RegistryDir.open(root, { readOnly: true });
    const repo = ro.repository("ro/app");
    assert.deepEqual(await repo.resolve("latest"), img.manifest.desc);
    const extra = blob(OCI_LAYER_TAR, randomBytes(10));
    await rejectsWith(repo.push(extra.desc, bytesSource(extra.bytes)), "denied");
    await rejectsWith(repo.push(img.config.desc, bytesSource(img.config.bytes)), "denied");
    await rejectsWith(repo.tag(img.manifest.desc, "other"), "denied");
    await rejectsWith(repo.deleteTag("latest"), "denied");
    await ro.close();
    assert.equal(await dir.hasBlob(extra.desc.digest), false);
    assert.deepEqual(await repo.tags(), ["latest"]);
    await rejectsWith(RegistryDir.open(`${root}/missing`, { readOnly: true }), "not_found");
    assert.equal(await Deno.stat(`${root}/missing`).catch(() => null), null);
  });
});

Deno.test("repository names follow distribution's grammar; nothing escapes the root", async () => {
  await withDir(async (dir, root) => {
    for (const ok of ["a", "library/nginx", "a.b/c_d/e__f/g-h/i---j", "0/1", "x".repeat(255)]) {
      assert.equal(dir.repository(ok).name, ok);
    }
    const bad = [
      "",
      "..",
      "../evil",
      "a/../../evil",
      "a/./b",
      "%2e%2e/x",
      "a%2fb",
      "Library/nginx",
      "a//b",
      "/a",
      "a/",
      "_layers",
      "a/_manifests",
      "a/-b",
      "a_",
      "a..b",
      "a\\b",
      "a b",
      "x".repeat(256),
    ];
    for (const name of bad) {
      assert.throws(
        () => dir.repository(name),
        (e: unknown) => e instanceof FerryError && e.code === "invalid_input",
        name,
      );
    }
    const repo = dir.repository("safe");
    const img = makeImage();
    await pushImage(repo, img);
    for (const tag of ["../x", "..", ".hidden", "-x", "a/b", "x".repeat(129), ""]) {
      await rejectsWith(repo.tag(img.manifest.desc, tag), "invalid_reference");
      await assert.rejects(repo.resolve(tag), FerryError);
    }
    await rejectsWith(
      repo.push(
        { mediaType: OCI_LAYER_TAR, digest: "sha256:../../x" as Digest, size: 1 },
        bytesSource(new Uint8Array(1)),
      ),
      "invalid_input",
    );
    assert.throws(() => dir.blobPath("sha256:../../../etc" as Digest), FerryError);
    await repo.tag(img.manifest.desc, "x".repeat(128));
    const parent = await Array.fromAsync(Deno.readDir(`${root}/..`));
    assert.deepEqual(parent.map((e) => e.name), ["registry"]);
  });
});

Deno.test("resolve by tag and digest, media type from the document or its shape", async () => {
  await withDir(async (dir) => {
    const repo = dir.repository("resolve/me");
    const img = makeImage();
    await pushImage(repo, img, "v1");
    assert.deepEqual(await repo.resolve("v1"), img.manifest.desc);
    assert.deepEqual(await repo.resolve(img.manifest.desc.digest), img.manifest.desc);

    // OCI allows leaving mediaType out: decided by shape.
    const bare = blob(
      OCI_MANIFEST,
      new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        config: img.config.desc,
        layers: img.layers.map((l) => l.desc),
      })),
    );
    await repo.push(bare.desc, bytesSource(bare.bytes));
    assert.equal((await repo.resolve(bare.desc.digest)).mediaType, OCI_MANIFEST);
    const bareIndex = blob(
      OCI_INDEX,
      new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        manifests: [img.manifest.desc],
      })),
    );
    await repo.push(bareIndex.desc, bytesSource(bareIndex.bytes));
    await repo.tag(bareIndex.desc, "idx");
    assert.equal((await repo.resolve("idx")).mediaType, OCI_INDEX);

    await rejectsWith(repo.resolve("nope"), "not_found", /resolve\/me:nope: manifest unknown/);
    await rejectsWith(repo.resolve(await sha256("x")), "not_found", /manifest unknown/);
    // A blob digest is not a manifest of the repository.
    await rejectsWith(repo.resolve(img.config.desc.digest), "not_found");
    // Another repository does not see this one's manifests.
    await rejectsWith(dir.repository("other").resolve(img.manifest.desc.digest), "not_found");
  });
});

Deno.test("fetch reads linked content from an offset; unlinked content is unknown", async () => {
  await withDir(async (dir) => {
    const repo = dir.repository("fetch/me");
    const img = makeImage({ layerSizes: [100_000, 10] });
    await pushImage(repo, img, "v1");
    const layer = img.layers[0];
    const all = await readAll(await repo.fetch(layer.desc), 1 << 20, "test");
    assert.deepEqual(all, layer.bytes);
    const tail = await readAll(await repo.fetch(layer.desc, { offset: 60_000 }), 1 << 20, "test");
    assert.deepEqual(tail, layer.bytes.subarray(60_000));
    const none = await readAll(await repo.fetch(layer.desc, { offset: 100_000 }), 1, "test");
    assert.equal(none.byteLength, 0);
    await rejectsWith(repo.fetch(layer.desc, { offset: 100_001 }), "invalid_input");
    const manifest = await readAll(await repo.fetch(img.manifest.desc), 1 << 20, "test");
    assert.deepEqual(manifest, img.manifest.bytes);
    // The manifest through the blob endpoint (media type unknown) works too, as in distribution.
    const asBlob = { ...img.manifest.desc, mediaType: "application/octet-stream" };
    assert.deepEqual(await readAll(await repo.fetch(asBlob), 1 << 20, "t"), img.manifest.bytes);
    assert.equal(
      await repo.exists(asBlob),
      false,
      "exists is precise: a manifest needs its revision link",
    );
    assert.equal(await repo.blobSize(img.manifest.desc.digest), img.manifest.desc.size);
    assert.equal(await repo.blobSize(layer.desc.digest), 100_000);

    const other = dir.repository("fetch/other");
    await rejectsWith(
      other.fetch(layer.desc),
      "not_found",
      /fetch\/other@sha256:[a-f0-9]{64}: blob unknown/,
    );
    assert.equal(await other.exists(layer.desc), false);
    assert.equal(await other.blobSize(layer.desc.digest), undefined);
    assert.equal(await dir.blobSize(layer.desc.digest), 100_000);
    assert.equal(await dir.hasBlob(await sha256("absent")), false);

    const controller = new AbortController();
    const stream = await repo.fetch(layer.desc, { signal: controller.signal });
    controller.abort();
    await assert.rejects(readAll(stream, 1 << 20, "t"));
  });
});

Deno.test("tag needs the manifest's revision link; tags() lists tags with a current link", async () => {
  await withDir(async (dir, root) => {
    const repo = dir.repository("tags/app");
    const img = makeImage();
    await rejectsWith(repo.tag(img.manifest.desc, "early"), "not_found", /tags\/app:early/);
    await pushImage(repo, img);
    for (const t of ["v2", "latest", "v10", "1.0", "V_1"]) await repo.tag(img.manifest.desc, t);
    await Deno.mkdir(`${root}/${V2}/repositories/tags/app/_manifests/tags/dangling/index`, {
      recursive: true,
    });
    assert.deepEqual(await repo.tags(), ["1.0", "V_1", "latest", "v10", "v2"]);
    assert.deepEqual(await dir.repository("tags/none").tags(), []);

    // Moving a tag keeps its history in index/.
    const next = makeImage();
    await pushImage(repo, next, "latest");
    const tagDir = `${root}/${V2}/repositories/tags/app/_manifests/tags/latest`;
    assert.equal(await Deno.readTextFile(`${tagDir}/current/link`), next.manifest.desc.digest);
    const history = await Array.fromAsync(Deno.readDir(`${tagDir}/index/sha256`));
    assert.deepEqual(
      history.map((e) => e.name).sort(),
      [hex(img.manifest.desc.digest), hex(next.manifest.desc.digest)].sort(),
    );

    await repo.deleteTag("v2");
    assert.deepEqual(await repo.tags(), ["1.0", "V_1", "latest", "v10"]);
    await rejectsWith(repo.deleteTag("v2"), "not_found");
    assert.deepEqual(await repo.resolve(img.manifest.desc.digest), img.manifest.desc);
  });
});

Deno.test("a tag's two links reach the disk together; the index entry is renamed in first", async () => {
  await withDir(async (dir, root) => {
    const repo = dir.repository("app");
    const img = makeImage();
    await pushImage(repo, img);
    // What reaches the disk, in order: fsyncs, and renames by the link they create.
    const steps: string[] = [];
    const tags = `${root}/${V2}/repositories/app/_manifests/tags/`;
    const rename = Deno.rename;
    const sync = Deno.FsFile.prototype.sync;
    Deno.rename = (from, to) => {
      steps.push(`rename ${String(to).replace(tags, "").replace(/[0-9a-f]{64}/, "HEX")}`);
      return rename(from, to);
    };
    Deno.FsFile.prototype.sync = function () {
      steps.push("fsync");
      return sync.call(this);
    };
    try {
      await repo.tag(img.manifest.desc, "1.0");
    } finally {
      Deno.rename = rename;
      Deno.FsFile.prototype.sync = sync;
    }
    // One wait for the disk for both (not one each), and a current link never without its index
    // entry.
    assert.deepEqual(steps, [
      "fsync",
      "fsync",
      "rename 1.0/index/sha256/HEX/link",
      "rename 1.0/current/link",
    ]);
    assert.equal((await repo.resolve("1.0")).digest, img.manifest.desc.digest);
    // Written again, it touches nothing.
    steps.length = 0;
    await repo.tag(img.manifest.desc, "1.0");
    assert.deepEqual(steps, []);
  });
});

Deno.test("a pushed blob's link is fsynced while the blob is stored and renamed right after it", async () => {
  await withDir(async (dir, root) => {
    const repo = dir.repository("app");
    const { desc, bytes: content } = blob(OCI_LAYER_TAR, randomBytes(3000));
    const steps: string[] = [];
    const rename = Deno.rename;
    const sync = Deno.FsFile.prototype.sync;
    Deno.rename = (from, to) => {
      steps.push(`rename ${String(to).slice(String(to).lastIndexOf("/") + 1)}`);
      return rename(from, to);
    };
    Deno.FsFile.prototype.sync = function () {
      steps.push("fsync");
      return sync.call(this);
    };
    try {
      await repo.push(desc, bytesSource(content));
    } finally {
      Deno.rename = rename;
      Deno.FsFile.prototype.sync = sync;
    }
    // Both fsynced (the link's and the blob's, in either order), then the blob renamed into
    // blobs/ before its link: no wait for the disk between the two, and never a link first.
    assert.deepEqual(steps, ["fsync", "fsync", "rename data", "rename link"]);
    assert.equal(await repo.exists(desc), true);
    const link = `${root}/${V2}/repositories/app/_layers/sha256/${hex(desc.digest)}/link`;
    assert.equal(await Deno.readTextFile(link), desc.digest);

    // A push whose content fails leaves neither its link (nor its directory) nor a temp file.
    const { desc: other } = blob(OCI_LAYER_TAR, randomBytes(3000));
    await rejectsWith(repo.push(other, bytesSource(randomBytes(3000))), "digest_mismatch");
    assert.equal(await repo.exists(other), false);
    const tree = await listTree(root);
    assert.ok(
      ![...tree.keys()].some((p) => p.includes(hex(other.digest))),
      [...tree.keys()].join("\n"),
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${root}/.ferry-tmp`)).catch(() => []), []);
  });
});

Deno.test("a tag whose current link cannot be written leaves no index entry either", async () => {
  await withDir(async (dir, root) => {
    const repo = dir.repository("app");
    const img = makeImage();
    await pushImage(repo, img);
    // A file where the `current` directory belongs: its link cannot be written.
    const tagDir = `${root}/${V2}/repositories/app/_manifests/tags/1.0`;
    await Deno.mkdir(tagDir, { recursive: true });
    await Deno.writeTextFile(`${tagDir}/current`, "not a directory");
    await assert.rejects(repo.tag(img.manifest.desc, "1.0"));
    const files = [...(await listTree(tagDir)).entries()].filter(([, e]) => e.type === "file");
    assert.deepEqual(files.map(([path]) => path), ["current"]);
    // Nothing left in the staging directory either.
    const staged = await Array.fromAsync(Deno.readDir(`${root}/.ferry-tmp`)).catch(() => []);
    assert.deepEqual(staged.map((e) => e.name), []);
  });
});

Deno.test("repositories() walks nested names", async () => {
  await withDir(async (dir) => {
    const img = makeImage({ layerSizes: [10] });
    for (const name of ["x/y/z", "a", "library/app", "a/b", "m.n/o"]) {
      await pushImage(dir.repository(name), img, "t");
    }
    // A repository with only blobs pushed has no _manifests yet.
    await dir.repository("blobs/only").push(img.config.desc, bytesSource(img.config.bytes));
    assert.deepEqual(await dir.repositories(), ["a", "a/b", "library/app", "m.n/o", "x/y/z"]);
  });
});

Deno.test("close() removes .ferry-tmp but spares a partial another process holds", async () => {
  await withDir(async (dir, root) => {
    const staging = `${root}/.ferry-tmp`;
    await Deno.mkdir(staging);
    await Deno.writeFile(`${staging}/${"a".repeat(64)}.partial`, randomBytes(10));
    const held = await Deno.open(`${staging}/${"b".repeat(64)}.partial`, {
      write: true,
      create: true,
    });
    await held.lock(true);
    await dir.close();
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(staging))).map((e) => e.name),
      [`${"b".repeat(64)}.partial`],
    );
    held.close();
    await dir.close();
    assert.equal(await Deno.stat(staging).catch(() => null), null);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(root))).map((e) => e.name), ["docker"]);
    // Still usable after close.
    const b = blob(OCI_LAYER_TAR, randomBytes(10));
    await dir.repository("again").push(b.desc, bytesSource(b.bytes));
    assert.equal(await dir.hasBlob(b.desc.digest), true);
  });
});

Deno.test("a link larger than a link can be is refused unread, even if it would parse", async () => {
  await withDir(async (dir, root) => {
    const repo = dir.repository("library/app");
    const image = makeImage();
    await pushImage(repo, image, "1.0");
    const link = `${root}/${V2}/repositories/library/app/_manifests/tags/1.0/current/link`;
    // The digest, then a megabyte of whitespace: what a trim would have accepted.
    const text = image.manifest.desc.digest + " ".repeat(1 << 20);
    await Deno.writeTextFile(link, text);
    await rejectsWith(
      repo.resolve("1.0"),
      "invalid_input",
      /link of 1048647 bytes \(at most 1024\)/,
    );
    // Back to its 71 bytes, it resolves.
    await Deno.writeTextFile(link, image.manifest.desc.digest);
    assert.equal((await repo.resolve("1.0")).digest, image.manifest.desc.digest);
  });
});

Deno.test("stageTags: nothing shows before the commit, which points the tags in order once `after` resolves, and none when the manifest is missing or `after` rejects", async () => {
  await withDir(async (dir, root) => {
    const repo = dir.repository("staged/app");
    const img = makeImage();
    const sig = makeImage();
    // Staged while the manifests are still on their way: their bytes on disk, nothing visible.
    const early = await repo.stageTags([{ desc: img.manifest.desc, tag: "never" }]);
    const staged = await repo.stageTags([
      { desc: sig.manifest.desc, tag: "sig" },
      { desc: img.manifest.desc, tag: "1" },
    ]);
    const refused = await repo.stageTags([{ desc: img.manifest.desc, tag: "refused" }]);
    assert.deepEqual(await repo.tags(), []);
    assert.ok(!(await listTree(`${root}/${V2}`)).has(`repositories/staged/app/_manifests/tags`));
    await rejectsWith(early.commit(), "not_found", /staged\/app:never/);
    await pushImage(repo, img);
    await pushImage(repo, sig);
    const renamed: string[] = [];
    linkBatchProbe.renaming = (path) => renamed.push(path.slice(path.indexOf("/tags/") + 6));
    try {
      let go!: () => void;
      const after = new Promise<void>((resolve) => go = resolve);
      const committing = staged.commit(after);
      // The tags' directories are made while `after` is pending (a chain of commits does not
      // wait for each one's directories in turn); their links are not renamed until it resolves.
      const current = `${root}/${V2}/repositories/staged/app/_manifests/tags/1/current`;
      for (let i = 0; i < 500 && !await Deno.stat(current).catch(() => null); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok((await Deno.stat(current)).isDirectory);
      assert.deepEqual(renamed, []);
      assert.deepEqual(await repo.tags(), []);
      go();
      await committing;
      await rejectsWith(refused.commit(Promise.reject(new FerryError("io", "before"))), "io");
    } finally {
      delete linkBatchProbe.renaming;
    }
    assert.deepEqual(renamed, [
      `sig/index/sha256/${hex(sig.manifest.desc.digest)}/link`,
      "sig/current/link",
      `1/index/sha256/${hex(img.manifest.desc.digest)}/link`,
      "1/current/link",
    ]);
    assert.deepEqual(await repo.tags(), ["1", "sig"]);
    assert.equal((await repo.resolve("1")).digest, img.manifest.desc.digest);
    // Nothing of the refused or failed commits is left in the staging directory.
    await dir.close();
    assert.equal(await Deno.stat(`${root}/.ferry-tmp`).catch(() => null), null);
  });
});

Deno.test("manifestBytes: a manifest the repository links, verified; a kept copy answers only while its data is stored", async () => {
  await withDir(async (dir, root) => {
    const img = makeImage();
    await pushImage(dir.repository("app"), img, "1");
    await pushImage(dir.repository("other"), makeImage(), "1");
    const desc = await dir.repository("app").resolve("1");
    assert.deepEqual(await dir.repository("app").manifestBytes(desc), img.manifest.bytes);
    // Linked by another repository only: unknown here, like fetch.
    await rejectsWith(dir.repository("other").manifestBytes(desc), "not_found", /unknown/);
    // The data gone: the copy resolve kept does not stand in for it.
    const data = `${root}/${V2}/${blobDataPath(desc.digest)}`;
    const bytes = await Deno.readFile(data);
    await Deno.remove(data);
    await rejectsWith(dir.repository("app").manifestBytes(desc), "not_found", /no data/);
    // Back, but changed (same size): a read that is not a kept copy's is verified.
    bytes[bytes.length - 2] ^= 1;
    await Deno.writeFile(data, bytes);
    const fresh = await RegistryDir.open(root);
    try {
      await rejectsWith(fresh.repository("app").manifestBytes(desc), "digest_mismatch");
    } finally {
      await fresh.close();
    }
  });
});

Deno.test("a new blob is stored and linked without failed lookups of its link or data", async () => {
  await withDir(async (dir, root) => {
    const repo = dir.repository("fresh");
    // The repository exists, as for a save's later blobs.
    const first = blob(OCI_LAYER_TAR, randomBytes(100));
    await repo.push(first.desc, bytesSource(first.bytes));
    const b = blob(OCI_LAYER_TAR, randomBytes(300));
    const realLstat = Deno.lstatSync;
    const missed: string[] = [];
    Deno.lstatSync = (path: string | URL) => {
      try {
        return realLstat(path);
      } catch (err) {
        missed.push(String(path));
        throw err;
      }
    };
    try {
      await repo.push(b.desc, bytesSource(b.bytes));
    } finally {
      Deno.lstatSync = realLstat;
    }
    // One look for the data (its nearest missing directory), none for the link.
    assert.equal(missed.length, 1, missed.join(", "));
    assert.ok(
      `${root}/${V2}/${blobDataPath(b.desc.digest)}`.startsWith(missed[0]),
      missed[0],
    );
    assert.equal(await repo.exists(b.desc), true);
    // A blob already stored is only linked: its link is looked at first, and kept when it holds
    // the digest.
    await dir.repository("other").push(b.desc, () => {
      throw new Error("not asked for: the data is stored");
    });
    assert.equal(await dir.repository("other").exists(b.desc), true);
  });
});

Deno.test("close() removes a killed run's fresh temp files when no other writer holds the directory, and spares them while one does", async () => {
  await withDir(async (dir, root) => {
    const staging = `${root}/.ferry-tmp`;
    await Deno.mkdir(staging);
    // What a killed save leaves: a staged tag's link, written a moment ago.
    const leftover = `write-${crypto.randomUUID()}`;
    await Deno.writeTextFile(`${staging}/${leftover}`, "sha256:" + "c".repeat(64));
    // Another writer of the same directory, open meanwhile: the temp file may be its own.
    const other = await RegistryDir.open(root);
    await dir.close();
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(staging))).map((e) => e.name),
      [leftover],
    );
    await other.close();
    assert.equal(await Deno.stat(staging).catch(() => null), null);
  });
});

Deno.test("a writer opening while another closes waits for the moment the closing one holds the lock alone", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-regdir-" });
  try {
    const first = await RegistryDir.open(root);
    await first.lockExclusive();
    // Exclusive for 30 ms, as a closing writer is for a moment: a writer opening meanwhile waits.
    setTimeout(() => first.close(), 30);
    const second = await RegistryDir.open(root);
    await second.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
