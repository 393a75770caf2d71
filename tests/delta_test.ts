/**
 * Differential archives: `ferry save --base` from every kind of base, `ferry registry ls-blobs`,
 * `ferry load` refusing a delta whose base is missing (storing nothing) and restoring
 * byte-identical images once it is there, `ferry copy` from a delta, and what skopeo does with one.
 * Archive contents are listed with GNU tar, digests read back with skopeo.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Digest } from "../src/digest.ts";
import { snapshot, touchAll } from "../src/layer/test_util.ts";
import { withRegistryTimes } from "../src/builder/test_util.ts";
import {
  type BuiltImage,
  copy,
  inspectRaw,
  makeLayout,
  peerTest,
  run,
  type TempDir,
  tempDir,
} from "./support/mod.ts";
import { ferry, ok } from "./ferry_cli.ts";

const SHARED = { seed: "delta-shared", size: 200_000 };
const OLD = { seed: "delta-old", size: 50_000 };
const NEW = { seed: "delta-new", size: 60_000 };

/** The blob digests a tar file holds (`blobs/sha256/<hex>` members), by GNU tar. */
async function tarBlobs(file: string): Promise<Set<Digest>> {
  const { stdout } = await run("tar", ["tf", file]);
  return new Set(
    stdout.split("\n").flatMap((l) => {
      const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(l.trim());
      return m ? [`sha256:${m[1]}` as Digest] : [];
    }),
  );
}

async function tarMember(file: string, name: string): Promise<string> {
  return (await run("tar", ["xOf", file, name])).stdout;
}

/** index.json and the blob files of an image store: what a refused load must leave alone. */
async function storeState(root: string): Promise<{ index: string; blobs: string[] }> {
  const blobs: string[] = [];
  try {
    for await (const e of Deno.readDir(join(root, "blobs", "sha256"))) blobs.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  let index = "";
  try {
    index = await Deno.readTextFile(join(root, "index.json"));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return { index, blobs: blobs.sort() };
}

interface Fixture {
  dir: TempDir;
  store: string;
  v1: BuiltImage;
  v2: BuiltImage;
  /** `ferry save` of 1.0: the archive carried last time. */
  full: string;
}

async function fixture(): Promise<Fixture> {
  const dir = await tempDir();
  const store = dir.join("store");
  const [v1] = await makeLayout(store, [
    { name: "localhost/app:1.0", layers: [SHARED, OLD] },
  ]) as [BuiltImage];
  const [v2] = await makeLayout(store, [
    { name: "localhost/app:1.1", layers: [SHARED, NEW] },
  ]) as [BuiltImage];
  const full = dir.join("app-1.0.tar");
  ok(await ferry(["save", "--root", store, "-o", full, "localhost/app:1.0"]));
  return { dir, store, v1, v2, full };
}

/** Checks that `file` is 1.1 without the blobs 1.0 has, and says so in ferry-delta.json. */
async function assertDelta(f: Fixture, file: string): Promise<void> {
  const blobs = await tarBlobs(file);
  assert.deepEqual(
    [...blobs].sort(),
    [f.v2.digest, f.v2.config.digest, f.v2.layers[1].digest].sort(),
    "the delta holds the new layer, the config and the manifest only",
  );
  const record = JSON.parse(await tarMember(file, "ferry-delta.json"));
  assert.deepEqual(record, {
    schemaVersion: 1,
    omitted: [{
      mediaType: f.v2.layers[0].mediaType,
      digest: f.v2.layers[0].digest,
      size: f.v2.layers[0].size,
    }],
  });
  const index = JSON.parse(await tarMember(file, "index.json"));
  assert.equal(index.annotations["io.ferry.delta.omitted-blobs"], "1");
}

peerTest(
  "save --base leaves out what an archive, an image store, a registry directory or a digest list holds",
  ["skopeo"],
  async (t) => {
    const f = await fixture();
    await using _dir = f.dir;
    const save = async (base: string, name: string) => {
      const out = f.dir.join(name);
      const r = ok(await ferry(["save", "--root", f.store, "-o", out, "--base", base, "app:1.1"]));
      assert.match(r.stderr, /differential: 1 blob .* left out/);
      return out;
    };

    await t.step("an earlier archive", async () => {
      await assertDelta(f, await save(f.full, "from-archive.tar"));
    });

    await t.step("an OCI layout (an image store holding 1.0)", async () => {
      const site = f.dir.join("site-store");
      ok(await ferry(["load", "--root", site, "-i", f.full]));
      await assertDelta(f, await save(site, "from-layout.tar"));
    });

    await t.step("a registry directory holding 1.0", async () => {
      const reg = f.dir.join("registry");
      ok(
        await ferry([
          "copy",
          `oci-archive:${f.full}:localhost/app:1.0`,
          `registry-dir:${reg}:app:1.0`,
        ]),
      );
      await assertDelta(f, await save(reg, "from-registry.tar"));
      await assertDelta(f, await save(`registry-dir:${reg}`, "from-registry2.tar"));
    });

    await t.step("ls-blobs lists, as text and JSON, what save --base reads", async () => {
      const text = ok(await ferry(["registry", "ls-blobs", f.full])).stdout;
      const listed = text.trim().split("\n");
      assert.deepEqual(listed, [...await tarBlobs(f.full)].sort());
      const list = f.dir.join("site-blobs.txt");
      await Deno.writeTextFile(list, `# blobs at the site\n${text}\n`);
      await assertDelta(f, await save(list, "from-list.tar"));

      const json = JSON.parse(ok(await ferry(["registry", "ls-blobs", "--json", f.full])).stdout);
      assert.equal(json.kind, "oci-archive");
      assert.deepEqual(json.blobs.map((b: { digest: string }) => b.digest), listed);
      assert.ok(json.blobs.every((b: { size: number }) => b.size > 0));
      const jsonList = f.dir.join("site-blobs.json");
      await Deno.writeTextFile(jsonList, JSON.stringify(json));
      await assertDelta(f, await save(jsonList, "from-json.tar"));
    });

    await t.step("a docker-archive base lists the blobs of its images", async () => {
      const docker = f.dir.join("app-1.0-docker.tar");
      ok(
        await ferry([
          "save",
          "--root",
          f.store,
          "--format",
          "docker-archive",
          "-o",
          docker,
          "app:1.0",
        ]),
      );
      const json = JSON.parse(ok(await ferry(["registry", "ls-blobs", "--json", docker])).stdout);
      assert.equal(json.kind, "docker-archive");
      assert.deepEqual(
        json.blobs.map((b: { digest: string }) => b.digest),
        [f.v1.digest, f.v1.config.digest, ...f.v1.layers.map((l) => l.digest)].sort(),
      );
      await assertDelta(f, await save(docker, "from-docker.tar"));
    });

    await t.step("a delta of a delta counts the blobs the first one omits", async () => {
      const d1 = await save(f.full, "d1.tar");
      const listed = ok(await ferry(["registry", "ls-blobs", d1])).stdout.trim().split("\n");
      assert.ok(listed.includes(f.v2.layers[0].digest), "the omitted blob is listed");
      const d2 = f.dir.join("d2.tar");
      ok(await ferry(["save", "--root", f.store, "-o", d2, "--base", d1, "app:1.1"]));
      assert.deepEqual([...await tarBlobs(d2)], [f.v2.digest], "only the manifest is carried");
    });

    await t.step("bad bases and formats are refused with one line", async () => {
      const bad = f.dir.join("bad.txt");
      await Deno.writeTextFile(bad, "sha256:1234\n");
      const r = await ferry([
        "save",
        "--root",
        f.store,
        "-o",
        f.dir.join("x.tar"),
        "--base",
        bad,
        "app:1.1",
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /bad\.txt:1: not a digest list line/);
      const d = await ferry([
        "save",
        "--root",
        f.store,
        "-o",
        f.dir.join("x.tar"),
        "--format",
        "docker-archive",
        "--base",
        f.full,
        "app:1.1",
      ]);
      assert.equal(d.code, 2);
      assert.match(d.stderr, /--base writes an oci-archive/);
      const none = await ferry([
        "save",
        "--root",
        f.store,
        "-o",
        f.dir.join("x.tar"),
        "--base",
        f.dir.join("nope"),
        "app:1.1",
      ]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /nope: no such file or directory/);
      assert.ok(!(await Deno.stat(f.dir.join("x.tar")).then(() => true, () => false)));
    });
  },
);

peerTest(
  "load of a delta: refused naming the missing blob with nothing stored, then byte-identical once the base is loaded",
  ["skopeo"],
  async (t) => {
    const f = await fixture();
    await using _dir = f.dir;
    const delta = f.dir.join("delta.tar");
    ok(await ferry(["save", "--root", f.store, "-o", delta, "--base", f.full, "app:1.1"]));
    const site = f.dir.join("site");

    await t.step("without the base: one line, the list, nothing stored", async () => {
      ok(await ferry(["images", "--root", site]));
      const before = await storeState(site);
      const r = await ferry(["load", "--root", site, "-i", delta]);
      assert.equal(r.code, 1);
      const lines = r.stderr.trimEnd().split("\n").filter((l) => !l.startsWith("Copying blob"));
      assert.match(
        lines[0],
        /^ferry: .*delta\.tar: differential archive: 1 blob .* not in the image store/,
      );
      assert.deepEqual(lines.slice(1), [
        `  ${f.v2.layers[0].digest} (${f.v2.layers[0].size} bytes, ${f.v2.layers[0].mediaType})`,
      ]);
      assert.deepEqual(await storeState(site), before, "the store is unchanged");
    });

    await t.step("with the base: the images skopeo reads are the originals", async () => {
      ok(await ferry(["load", "--root", site, "-i", f.full]));
      const r = ok(await ferry(["load", "--root", site, "-i", delta]));
      assert.match(r.stdout, /Loaded image: localhost\/app:1\.1/);
      assert.equal((await inspectRaw(`oci:${site}:localhost/app:1.1`)).digest, f.v2.digest);
      assert.equal((await inspectRaw(`oci:${site}:localhost/app:1.0`)).digest, f.v1.digest);
      // skopeo reads every blob (and verifies each digest) on a copy out of the store.
      const out = await copy(`oci:${site}:localhost/app:1.1`, `oci:${f.dir.join("check")}:x`);
      assert.equal(out.digest, f.v2.digest);
    });
  },
);

peerTest(
  "copy from a delta works into a location that holds the base and names the blob otherwise; skopeo fails on it",
  ["skopeo"],
  async (t) => {
    const f = await fixture();
    await using _dir = f.dir;
    const delta = f.dir.join("delta.tar");
    ok(await ferry(["save", "--root", f.store, "-o", delta, "--base", f.full, "app:1.1"]));

    await t.step("into a registry directory holding 1.0", async () => {
      const reg = f.dir.join("registry");
      ok(
        await ferry([
          "copy",
          `oci-archive:${f.full}:localhost/app:1.0`,
          `registry-dir:${reg}:app:1.0`,
        ]),
      );
      ok(
        await ferry([
          "copy",
          `oci-archive:${delta}:localhost/app:1.1`,
          `registry-dir:${reg}:app:1.1`,
        ]),
      );
      ok(await ferry(["copy", `registry-dir:${reg}:app:1.1`, `oci:${f.dir.join("out")}:x`]));
      assert.equal((await inspectRaw(`oci:${f.dir.join("out")}:x`)).digest, f.v2.digest);
    });

    await t.step("into an empty layout: one line naming the omitted blob, no tag", async () => {
      const r = await ferry([
        "copy",
        `oci-archive:${delta}:localhost/app:1.1`,
        `oci:${f.dir.join("empty")}:x`,
      ]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`blob ${f.v2.layers[0].digest} is not in this differential archive`),
      );
      const index = await Deno.readTextFile(join(f.dir.join("empty"), "index.json")).catch(() =>
        ""
      );
      assert.ok(!index.includes("org.opencontainers.image.ref.name"), "nothing is tagged");
    });

    await t.step("skopeo copy fails naming the missing blob", async () => {
      await assert.rejects(
        copy(`oci-archive:${delta}:localhost/app:1.1`, `oci:${f.dir.join("sk")}:x`),
        new RegExp(f.v2.layers[0].digest.slice(7)),
      );
    });
  },
);

/** The layers of a stored image. */
async function builtLayers(
  root: string,
  name: string,
): Promise<{ digest: Digest; size: number }[]> {
  const out = JSON.parse(ok(await ferry(["inspect", "--json", "--root", root, name])).stdout);
  return out.manifest.layers;
}

/**
 * A build context holding `tags` (image → tag of the `images` layout) in `registry/`, saved afresh
 * (as a new checkout or a CI runner has it), every file of it dated `mtime`.
 */
async function freshContext(
  ctx: string,
  images: string,
  tags: [number, string][],
  mtime: number,
): Promise<void> {
  await Deno.mkdir(ctx, { recursive: true });
  await Deno.writeTextFile(join(ctx, "Kubefile"), "FROM scratch\nCOPY . .\n");
  await Deno.writeTextFile(join(ctx, "install.sh"), "#!/bin/sh\n");
  for (const [n, tag] of tags) {
    ok(
      await ferry([
        "copy",
        `oci:${images}:localhost/img${n}:${tag}`,
        `registry-dir:${join(ctx, "registry")}:img${n}:${tag}`,
      ]),
    );
  }
  await touchAll(ctx, mtime);
}

peerTest(
  "build 1.1 from a fresh context with 2 of 5 images changed keeps every other layer's digest and reuses it; save --base carries only the change",
  ["skopeo", "umoci"],
  async (t) => {
    await using dir = await tempDir("ferry-delta-build-");
    const images = dir.join("images");
    const N = [0, 1, 2, 3, 4];
    const CHANGED = [1, 3];
    await makeLayout(images, [
      ...N.map((n) => ({
        name: `localhost/img${n}:1.0`,
        layers: [{ seed: `delta-build-${n}`, size: 300_000 }],
      })),
      ...CHANGED.map((n) => ({
        name: `localhost/img${n}:2.0`,
        layers: [{ seed: `delta-build-${n}-new`, size: 300_000 }],
      })),
    ]);
    const root = dir.join("root");
    const build = (store: string, ctx: string, tag: string) =>
      ferry(["build", "--root", store, "--save-image=false", "-t", `my-app:${tag}`, ctx]);

    // 1.0 in one context; 1.1 in another, saved later (other times), with 2 images moved to 2.0.
    const ctx1 = dir.join("ctx-1.0");
    await freshContext(ctx1, images, N.map((n) => [n, "1.0"]), 1_600_000_000);
    ok(await build(root, ctx1, "1.0"));
    const v1 = await builtLayers(root, "my-app:1.0");
    const ctx2 = dir.join("ctx-1.1");
    const tags = N.map((n): [number, string] => [n, CHANGED.includes(n) ? "2.0" : "1.0"]);
    await freshContext(ctx2, images, tags, 1_700_000_000);

    // A runner with no cache: the digests alone say what is reused.
    const runner = dir.join("runner");
    ok(await build(runner, ctx2, "1.1"));
    const v2 = await builtLayers(runner, "my-app:1.1");
    const before = new Set(v1.map((l) => l.digest));
    const fresh = v2.filter((l) => !before.has(l.digest));

    await t.step(
      "every layer but the changed images', their repositories' and the rest is the same",
      () => {
        // The changed images' layer blobs, their 2 repositories (links, manifest, config), the rest.
        assert.equal(fresh.length, 2 + 2 + 1, JSON.stringify(v2));
        assert.equal(v2.length, v1.length, "each changed large blob replaced by one");
        assert.ok(
          v2.length >= 5 + 5 + 1,
          "a layer per large blob and per repository, then the rest",
        );
      },
    );

    await t.step(
      "the store that built 1.0 reuses every unchanged layer from the fresh context",
      async () => {
        const rebuilt = ok(await build(root, ctx2, "1.1"));
        assert.deepEqual(await builtLayers(root, "my-app:1.1"), v2);
        const reused = rebuilt.stderr.match(/reused/g)?.length ?? 0;
        assert.equal(reused, v2.length - (2 + 2 + 1), rebuilt.stderr);
      },
    );

    await t.step(
      "umoci unpacks 1.1 to the context's tree, registry content at time 0",
      async () => {
        await run("umoci", [
          "unpack",
          "--rootless",
          "--image",
          `${root}:localhost/my-app:1.1`,
          dir.join("b"),
        ]);
        const got = await snapshot(join(dir.join("b"), "rootfs"), { mtimes: true });
        const want = withRegistryTimes(await snapshot(ctx2, { mtimes: true }));
        for (const s of [...Object.values(got), ...Object.values(want)]) {
          if (s.type === "dir") delete s.mtime;
        }
        assert.equal(got["install.sh"].mtime, 1_700_000_000, "the rest keeps its times");
        assert.deepEqual(got, want);
      },
    );

    await t.step("save --base 1.0's archive carries the changed layers only", async () => {
      const full = dir.join("my-app-1.0.tar");
      ok(await ferry(["save", "--root", root, "-o", full, "my-app:1.0"]));
      const delta = dir.join("update.tar");
      ok(await ferry(["save", "--root", root, "-o", delta, "--base", full, "my-app:1.1"]));
      const carried = await tarBlobs(delta);
      for (const l of fresh) assert.ok(carried.has(l.digest), `${l.digest} is carried`);
      assert.equal(
        carried.size,
        fresh.length + 2,
        "the changed layers, the config, the manifest",
      );
      const changedBytes = fresh.reduce((n, l) => n + l.size, 0);
      const size = (await Deno.stat(delta)).size;
      assert.ok(size < changedBytes + 16 * 1024, `${size} bytes for ${changedBytes} changed`);
      const fullSize = (await Deno.stat(full)).size;
      assert.ok(size < fullSize / 2, `${size} bytes, the whole archive ${fullSize}`);
    });
  },
);
