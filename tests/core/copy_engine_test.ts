/**
 * The copy engine in process, from one ferry registry (memory store) to another through the
 * registry client: index selection, de-duplicated blobs, blobs the destination holds, children
 * stored before parents, and failures that leave no manifest behind.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CopyEngine,
  type CopyEvent,
  type CopyOptions,
  type CopyResult,
} from "../../src/copy/mod.ts";
import { sha256 } from "../../src/digest.ts";
import { FerryError } from "../../src/errors.ts";
import { RegistryDir } from "../../src/registry_dir/mod.ts";
import { bytesSource, type Target } from "../../src/store.ts";
import { tempDir } from "../support/tmp.ts";
import {
  makeImage,
  makeIndex,
  pushImage,
  pushIndex,
  randomBytes,
  type TestImage,
  type TestIndex,
} from "../support/images.ts";
import {
  BLOB_PATH,
  type FaultRule,
  type MemoryRegistry,
  memoryRegistryClient,
  startMemoryRegistry,
} from "../support/memory_registry.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };

interface Run {
  src: MemoryRegistry;
  /** The destination registry (a copy `toDir` writes to a registry directory instead). */
  dst: MemoryRegistry;
  /** The repository the copy writes to. */
  target: Target;
  events: CopyEvent[];
  index: TestIndex;
}

/**
 * Pushes a two-platform index (a base layer shared by both) as `lib/app:1` into a source
 * registry, then runs `fn` with one engine and client copying from it into `lib/app` of an empty
 * destination: another registry, or with `toDir` a registry directory (which, unlike a registry,
 * takes an index whose children are not all there).
 */
async function withRegistries(
  fn: (
    run: Run,
    copy: (options: CopyOptions, ref?: string) => Promise<CopyResult>,
  ) => Promise<void>,
  setup: (run: Run) => Promise<void> | void = () => {},
  toDir = false,
): Promise<void> {
  await using src = await startMemoryRegistry();
  await using dst = await startMemoryRegistry();
  await using tmp = await tempDir();
  const dir = toDir ? await RegistryDir.open(tmp.path) : undefined;
  const index = makeIndex();
  await pushIndex(src.store.repository("lib/app"), index, "1");
  const events: CopyEvent[] = [];
  const client = memoryRegistryClient({ retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 5 } });
  const target = dir?.repository("lib/app") ?? client.registry(dst.host).repository("lib/app");
  const run = { src, dst, target, events, index };
  await setup(run);
  const engine = new CopyEngine({ onEvent: (e) => events.push(e) });
  try {
    await fn(
      run,
      (options, ref = "1") =>
        engine.copy(client.registry(src.host).repository("lib/app"), ref, target, options),
    );
  } finally {
    await client.close();
    await dir?.close();
  }
}

function blobsOf(image: TestImage) {
  return [image.config, ...image.layers].map((b) => b.desc);
}

/** Digests of blobs the registry served by GET. */
function blobGets(reg: MemoryRegistry): string[] {
  return reg.log.filter((e) => e.method === "GET" && BLOB_PATH.test(e.path) && e.status === 200)
    .map((e) => e.path.slice(e.path.lastIndexOf("/") + 1));
}

// Which children of an index land, and what the copy's root is.
const SELECTIONS: {
  name: string;
  options: CopyOptions;
  children: number[];
  root: "index" | 0 | 1;
}[] = [
  { name: "amd64 only, sparse", options: { platforms: [AMD64] }, children: [0], root: "index" },
  { name: "arm64 only, sparse", options: { platforms: [ARM64] }, children: [1], root: "index" },
  { name: "all", options: { platforms: [AMD64], all: true }, children: [0, 1], root: "index" },
  {
    name: "one platform filtered: the child replaces the index",
    options: { platforms: [ARM64], indexSubset: "filter" },
    children: [1],
    root: 1,
  },
  {
    name: "both platforms filtered: an index listing both",
    options: { platforms: [ARM64, AMD64], indexSubset: "filter" },
    children: [0, 1],
    root: "index",
  },
];
for (const row of SELECTIONS) {
  Deno.test(`copy engine: index selection — ${row.name}`, () =>
    withRegistries(
      async ({ target: held, index }, copy) => {
        const result = await copy(row.options);
        for (const [i, image] of index.images.entries()) {
          const wanted = row.children.includes(i);
          assert.equal(await held.exists(image.manifest.desc), wanted, `child ${i}`);
          for (const b of image.layers.slice(1)) assert.equal(await held.exists(b.desc), wanted);
        }
        const expected = row.root === "index"
          ? index.index.desc.digest
          : index.images[row.root].manifest.desc.digest;
        assert.equal(result.root.digest, expected);
        assert.equal(await held.exists(index.index.desc), row.root === "index");
      },
      undefined,
      true,
    ));
}

Deno.test("copy engine: a platform the index lacks fails naming what it has, storing nothing", () =>
  withRegistries(async ({ dst }, copy) => {
    await assert.rejects(
      copy({ platforms: [{ os: "linux", architecture: "s390x" }] }),
      (err: Error) =>
        err instanceof FerryError && err.code === "not_found" &&
        /no image for platform linux\/s390x \(available: linux\/amd64, linux\/arm64\)/.test(
          err.message,
        ),
    );
    assert.deepEqual(await dst.store.repositories(), []);
  }));

Deno.test("copy engine: a blob shared by two images is fetched and stored once", () =>
  withRegistries(async ({ src, dst, index, events }, copy) => {
    await copy({ platforms: [], all: true });
    const gets = blobGets(src);
    assert.equal(new Set(gets).size, gets.length, `fetched twice: ${gets.join(" ")}`);
    const shared = index.images[0].layers[0].desc.digest;
    assert.equal(index.images[1].layers[0].desc.digest, shared);
    assert.equal(gets.filter((d) => d === shared).length, 1);
    const uploads = dst.log.filter((e) => e.method === "PUT" && e.path.includes("/blobs/uploads/"));
    assert.equal(uploads.filter((e) => e.path.includes(shared.slice(7))).length, 1);
    const done = events.filter((e) => e.type === "blob-done" && e.digest === shared);
    assert.equal(done.length, 1);
  }));

Deno.test("copy engine: one engine copies a layer shared across two copies once", () =>
  withRegistries(
    async ({ src }, copy) => {
      await copy({ platforms: [AMD64] });
      await copy({ platforms: [ARM64] });
      const gets = blobGets(src);
      assert.equal(new Set(gets).size, gets.length, `fetched twice: ${gets.join(" ")}`);
    },
    undefined,
    true,
  ));

Deno.test("copy engine: blobs the destination holds are neither fetched nor uploaded", () => {
  let held: string[] = [];
  return withRegistries(async ({ src, dst, events }, copy) => {
    await copy({ platforms: [], all: true });
    for (const digest of held) {
      assert.ok(!blobGets(src).includes(digest), `${digest} fetched`);
      assert.ok(!dst.log.some((e) => e.method === "PUT" && e.path.includes(digest.slice(7))));
      const done = events.find((e) => e.type === "blob-done" && e.digest === digest);
      assert.equal(done?.type === "blob-done" && done.status, "exists");
    }
    assert.ok(blobGets(src).length > 0, "nothing fetched at all");
  }, async ({ dst, index }) => {
    // The destination already has the shared base layer and the first image's config.
    const image = index.images[0];
    const repo = dst.store.repository("lib/app");
    for (const b of [image.config, image.layers[0]]) {
      await repo.push(b.desc, bytesSource(b.bytes));
    }
    held = [image.config.desc.digest, image.layers[0].desc.digest];
  });
});

Deno.test("copy engine: an image already in the destination is not read again", () =>
  withRegistries(async ({ src, events, index }, copy) => {
    await copy({ platforms: [], all: true });
    const [present, missing] = index.images;
    for (const b of blobsOf(present)) assert.ok(!blobGets(src).includes(b.digest), b.digest);
    for (const b of blobsOf(missing).slice(2)) assert.ok(blobGets(src).includes(b.digest));
    const manifest = events.find((e) =>
      e.type === "manifest" && e.digest === present.manifest.desc.digest
    );
    assert.equal(manifest?.type === "manifest" && manifest.status, "exists");
    assert.ok(!src.log.some((e) => e.path.endsWith(`/manifests/${present.manifest.desc.digest}`)));
  }, async ({ dst, index }) => {
    await pushImage(dst.store.repository("lib/app"), index.images[0]);
  }));

Deno.test("copy engine: blobs land before their manifest, children before the index, tag last", () =>
  withRegistries(async ({ dst, index }, copy) => {
    await copy({ platforms: [], all: true, tags: ["v1"] });
    const writes = dst.log.filter((e) => e.method === "PUT" && e.status < 300).map((e) => e.path);
    const at = (needle: string) => {
      const i = writes.findIndex((p) => p.includes(needle));
      assert.ok(i >= 0, `${needle} never written: ${writes.join("\n")}`);
      return i;
    };
    for (const image of index.images) {
      const manifest = at(`/manifests/${image.manifest.desc.digest}`);
      for (const b of blobsOf(image)) {
        // A blob shared with the other image may have been stored before (or by) it.
        assert.ok(at(b.digest.slice(7)) < manifest, `${b.digest} after its manifest`);
      }
      assert.ok(manifest < at(`/manifests/${index.index.desc.digest}`), "child after its index");
    }
    assert.equal(writes.at(-1), "/v2/lib/app/manifests/v1");
  }));

// A source that fails part-way: the copy fails, and the destination holds no manifest.
const FAILURES: { name: string; fault: FaultRule; code: string; message: RegExp }[] = [
  {
    name: "a layer the source has lost (404)",
    fault: { method: "GET", path: BLOB_PATH, fault: { status: 404 } },
    code: "not_found",
    message: /not found/,
  },
  {
    name: "a layer whose download keeps failing (500)",
    fault: { method: "GET", path: BLOB_PATH, fault: { status: 500 } },
    code: "registry",
    message: /registry answered 500/,
  },
  {
    name: "a layer whose body never arrives",
    fault: { method: "GET", path: BLOB_PATH, fault: { cutAfter: 0 } },
    code: "network",
    message: /./,
  },
];
for (const row of FAILURES) {
  Deno.test(`copy engine: ${row.name} fails the copy and stores no manifest`, () =>
    withRegistries(
      async ({ src, target, index }, copy) => {
        src.setFaults([row.fault]);
        await assert.rejects(copy({ platforms: [AMD64], tags: ["1"] }), (err: Error) => {
          assert.ok(err instanceof FerryError, String(err));
          assert.equal(err.code, row.code, err.message);
          assert.match(err.message, row.message);
          return true;
        });
        assert.equal(await target.exists(index.images[0].manifest.desc), false);
        assert.equal(await target.exists(index.index.desc), false);
        assert.deepEqual(await target.tags(), []);
      },
      undefined,
      true,
    ));
}

Deno.test("copy engine: a layer bigger than its descriptor fails before the destination stores it", () =>
  withRegistries(async ({ dst }, copy) => {
    await assert.rejects(
      copy({ platforms: [AMD64] }, "bad"),
      (err: Error) => err instanceof FerryError && err.code === "size_mismatch",
    );
    assert.deepEqual(await dst.store.repositories(), []);
  }, async ({ src }) => {
    // A manifest whose layer descriptor claims fewer bytes than the blob has.
    const layer = randomBytes(5000);
    const image = makeImage({ layers: [layer] });
    const repo = src.store.repository("lib/app");
    await pushImage(repo, image);
    const lying = makeImage({ layers: [layer.subarray(0, 4000)] });
    const manifest = JSON.parse(new TextDecoder().decode(lying.manifest.bytes));
    manifest.layers[0].digest = image.layers[0].desc.digest;
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    const desc = {
      mediaType: lying.manifest.desc.mediaType,
      digest: await sha256(bytes),
      size: bytes.length,
    };
    await repo.push(lying.config.desc, bytesSource(lying.config.bytes));
    await repo.push(desc, bytesSource(bytes));
    await repo.tag(desc, "bad");
  }));
