/**
 * `ferry build` against real peers: images served by docker-registry are saved into the context,
 * the built image is read by skopeo and unpacked by umoci (the tree must be exactly the context
 * minus ignored files), compared with what `buildah bud` makes of the same Kubefile, pushed and
 * exported, built for two platforms, and built twice in different places for the same digest.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Digest, digestHex } from "../src/digest.ts";
import { ImageStore } from "../src/image_store/mod.ts";
import { readManifest } from "../src/image_store/describe.ts";
import type { Descriptor } from "../src/manifest.ts";
import { type Snap, snapshot } from "../src/layer/test_util.ts";
import { imageTree, readStored, withRegistryTimes } from "../src/builder/test_util.ts";
import { ferry, ok } from "./ferry_cli.ts";
import {
  type BuiltImage,
  type BuiltIndex,
  inspect,
  inspectRaw,
  makeLayout,
  peerTest,
  pushToRegistry,
  requirePeer,
  run,
  type RunningRegistry,
  startRegistry,
  tempDir,
} from "./support/mod.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };
const EPOCH = "1700000000";

/** Pushes a single-platform image and a two-platform index to `registry`. */
async function seedRegistry(dir: string, registry: RunningRegistry) {
  const layout = join(dir, "layout");
  const [app, multi] = await makeLayout(layout, [
    {
      name: "app",
      layers: [{ seed: "build-base", size: 30_000 }, { seed: "build-app", size: 8_000 }],
    },
    {
      name: "multi",
      children: [
        {
          platform: AMD64,
          layers: [{ seed: "build-base", size: 30_000 }, { seed: "m-amd64", size: 9_000 }],
        },
        { platform: ARM64, layers: [{ seed: "m-arm64", size: 7_000 }] },
      ],
    },
  ]) as [BuiltImage, BuiltIndex];
  await pushToRegistry(layout, "app", `${registry.host}/library/app:1.0`);
  await pushToRegistry(layout, "multi", `${registry.host}/multi/arch:1.0`);
  return { app, multi };
}

/** A context with files of several modes, links, ignored files and a shim list. */
async function writeContext(ctx: string, host: string): Promise<void> {
  const file = async (rel: string, text: string, mode = 0o644) => {
    await Deno.mkdir(join(ctx, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(ctx, rel), text);
    await Deno.chmod(join(ctx, rel), mode);
  };
  await file("Kubefile", "FROM scratch\nCOPY . .\nCOPY registry ./registry\n");
  await file(".dockerignore", "*.log\nsecret/\n");
  await file("images/shim/images.txt", `${host}/library/app:1.0\n${host}/multi/arch:1.0\n`);
  await file("bin/run.sh", "#!/bin/sh\necho run\n", 0o755);
  await file("etc/config.yaml", "key: value\n", 0o600);
  await file("etc/empty", "");
  await file("private/data", "private\n", 0o640);
  await Deno.chmod(join(ctx, "private"), 0o750);
  await file("notes.log", "ignored\n");
  await file("secret/key", "ignored too\n");
  await Deno.symlink("etc/config.yaml", join(ctx, "config-link"));
  await Deno.symlink("/does/not/exist", join(ctx, "dangling"));
  await Deno.link(join(ctx, "bin/run.sh"), join(ctx, "bin/run-hardlink.sh"));
}

/** Snapshot of a tree with file mtimes (directory mtimes dropped: COPY creates its destination). */
async function tree(root: string): Promise<Record<string, Snap>> {
  const snap = await snapshot(root, { mtimes: true });
  for (const s of Object.values(snap)) if (s.type === "dir") delete s.mtime;
  return snap;
}

async function unpack(layout: string, ref: string, bundle: string): Promise<string> {
  await run(requirePeer("umoci"), ["unpack", "--rootless", "--image", `${layout}:${ref}`, bundle]);
  return join(bundle, "rootfs");
}

/** Whether buildah can build here (vfs storage, chroot isolation); the reason when it cannot. */
async function buildahProblem(dir: string): Promise<string | undefined> {
  const args = [
    "--root",
    join(dir, "probe"),
    "--runroot",
    join(dir, "probe-run"),
    "--storage-driver",
    "vfs",
  ];
  try {
    const { stdout } = await run(requirePeer("buildah"), [...args, "from", "scratch"], {
      env: { TMPDIR: dir },
    });
    await run(requirePeer("buildah"), [...args, "rm", stdout.trim()], { env: { TMPDIR: dir } });
    return undefined;
  } catch (err) {
    return (err as Error).message.split("\n").slice(0, 2).join(" ").slice(0, 300);
  }
}

/** `buildah bud` of `ctx` (vfs storage, chroot isolation, one layer), pushed to `layout:ref`. */
async function buildahBud(dir: string, ctx: string, layout: string, ref: string, extra: string[]) {
  const storage = [
    "--root",
    join(dir, "buildah"),
    "--runroot",
    join(dir, "buildah-run"),
    "--storage-driver",
    "vfs",
  ];
  const env = { TMPDIR: dir };
  const buildah = requirePeer("buildah");
  await run(buildah, [
    ...storage,
    "bud",
    "--isolation",
    "chroot",
    ...extra,
    "-t",
    `localhost/${ref}`,
    ctx,
  ], { env });
  await run(buildah, [...storage, "push", `localhost/${ref}`, `oci:${layout}:${ref}`], { env });
}

/** The file system of image `ref` in the OCI layout `layout` (owners, modes, times, contents). */
async function layoutTree(layout: string, ref: string) {
  const store = await ImageStore.open({ root: layout });
  try {
    const { manifest } = await readStored(store, ref);
    return await imageTree(store, manifest);
  } finally {
    await store.close();
  }
}

peerTest(
  "build: umoci unpacks exactly the context (minus ignored files) with every saved image; buildah agrees",
  ["docker-registry", "skopeo", "umoci", "buildah"],
  async (t) => {
    await using dir = await tempDir("ferry-build-");
    await using source = await startRegistry();
    const { app, multi } = await seedRegistry(dir.path, source);
    const ctx = dir.join("ctx");
    await writeContext(ctx, source.host);
    const root = dir.join("root");

    const built = ok(
      await ferry([
        "build",
        "--root",
        root,
        "--tls-verify=false",
        "--platform",
        "linux/amd64",
        "-t",
        "cluster:1",
        ctx,
      ]),
      "ferry build",
    );
    const digest = built.stdout.trim() as Digest;
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.match(built.stderr, /STEP 2\/3: COPY \. \./);

    await t.step("skopeo reads the store", async () => {
      const info = await inspect(`oci:${root}:localhost/cluster:1`);
      assert.equal(info.Digest, digest);
      assert.equal(info.Architecture, "amd64");
      // Each COPY of registry/ puts it in layers of its own (one per large blob, one per
      // repository), then the rest of what it copies: never fewer than two layers a COPY.
      const steps = built.stderr.split(/^STEP \d+\/\d+: /m).slice(2);
      const layers = steps.map((s) => s.match(/^--> layer /gm)?.length ?? 0);
      assert.ok(layers.every((n) => n >= 2), built.stderr);
      assert.equal(info.Layers.length, layers[0] + layers[1]);
    });

    const rootfs = await unpack(root, "localhost/cluster:1", dir.join("bundle"));
    const got = await tree(rootfs);
    await t.step("the unpacked tree is the context without ignored files", async () => {
      // Registry content is content-defined: it carries a fixed time (0), the rest its own.
      const want = withRegistryTimes(await tree(ctx));
      for (const key of Object.keys(want)) {
        if (/^(notes\.log|secret)(\/|$)/.test(key)) delete want[key];
      }
      assert.ok(got["registry/docker/registry/v2/blobs"], "registry/ is in the image");
      assert.equal(got["bin/run.sh"].mode, 0o755);
      assert.equal(got["etc/config.yaml"].mode, 0o600);
      assert.equal(got["private"].mode, 0o750);
      assert.deepEqual(got["config-link"], { type: "symlink", mode: 0, target: "etc/config.yaml" });
      assert.equal(got["bin/run.sh"].linkedTo, "bin/run-hardlink.sh");
      assert.deepEqual(got, want);
    });

    await t.step("the image's registry/ serves every saved image", async () => {
      await using served = await startRegistry({ root: join(rootfs, "registry"), readOnly: true });
      const a = await inspectRaw(`${served.host}/library/app:1.0`);
      assert.equal(a.digest, app.digest);
      const m = await inspectRaw(`${served.host}/multi/arch:1.0`);
      assert.equal(m.digest, multi.digest);
      const amd = await inspect(`${served.host}/multi/arch:1.0`, { overrideArch: "amd64" });
      assert.equal(amd.Layers.length, 2);
    });

    const problem = await buildahProblem(dir.path);
    await t.step({
      name: problem
        ? `buildah bud gives the same tree (not run: buildah cannot build here: ${problem})`
        : "buildah bud gives the same tree",
      ignore: problem !== undefined,
      fn: async () => {
        await buildahBud(dir.path, ctx, dir.join("bl"), "cluster:buildah", [
          "--platform",
          "linux/amd64",
          "-f",
          join(ctx, "Kubefile"),
        ]);
        // File modification times too: both round them to the nearest second (Go's archive/tar);
        // buildah keeps the registry content's times, which ferry fixes at 0.
        const theirs = await tree(
          await unpack(dir.join("bl"), "cluster:buildah", dir.join("bbundle")),
        );
        assert.ok(
          Object.entries(theirs).some(([p, e]) => p.includes("/v2/blobs/") && e.mtime !== 0),
          "buildah's registry content has its real times",
        );
        assert.deepEqual(got, withRegistryTimes(theirs));
      },
    });
  },
);

peerTest(
  "build: WORKDIR makes the directories buildah bud makes (owners, modes, times)",
  ["buildah"],
  async (t) => {
    await using dir = await tempDir("ferry-build-workdir-");
    const ctx = dir.join("ctx");
    await Deno.mkdir(ctx);
    await Deno.writeTextFile(join(ctx, "a.txt"), "a\n");
    await Deno.writeTextFile(
      join(ctx, "Kubefile"),
      [
        "FROM scratch",
        "COPY a.txt /x/a.txt",
        "WORKDIR /opt/app",
        "COPY a.txt .",
        "WORKDIR /x",
        "USER 7",
        "WORKDIR sub/deep",
        "USER 10:11",
        "WORKDIR /home/u",
        "USER root",
        "WORKDIR /last",
        "",
      ].join("\n"),
    );
    const root = dir.join("root");
    ok(
      await ferry([
        "build",
        "--root",
        root,
        "--save-image=false",
        "--timestamp",
        EPOCH,
        "-t",
        "wd:1",
        ctx,
      ]),
      "ferry build",
    );
    const ours = await layoutTree(root, "localhost/wd:1");
    assert.deepEqual(ours["x/sub/deep"], {
      kind: "dir",
      mode: 0o755,
      uid: 7,
      gid: 7,
      mtime: 1700000000,
    });
    const problem = await buildahProblem(dir.path);
    await t.step({
      name: problem
        ? `buildah bud gives the same tree (not run: buildah cannot build here: ${problem})`
        : "buildah bud gives the same tree",
      ignore: problem !== undefined,
      fn: async () => {
        // One layer (buildah's default): every WORKDIR's directories are in it, the last ones
        // too. (With --layers, buildah drops directories no later COPY/ADD commits.)
        await buildahBud(dir.path, ctx, dir.join("bl"), "wd", [
          "--timestamp",
          EPOCH,
          "-f",
          join(ctx, "Kubefile"),
        ]);
        assert.deepEqual(ours, await layoutTree(dir.join("bl"), "wd"));
      },
    });
  },
);

peerTest(
  "build: same context and --timestamp in two places give the same digest; bad input is one line",
  ["docker-registry", "skopeo"],
  async (t) => {
    await using dir = await tempDir("ferry-build-repro-");
    await using source = await startRegistry();
    await seedRegistry(dir.path, source);
    const digests: string[] = [];
    for (const name of ["one", "two"]) {
      const ctx = dir.join(name, "ctx");
      await writeContext(ctx, source.host);
      const r = ok(
        await ferry([
          "build",
          "--root",
          dir.join(name, "root"),
          "--tls-verify=false",
          "--platform",
          "linux/amd64",
          "--timestamp",
          EPOCH,
          "-t",
          "cluster:1",
          ctx,
        ]),
        `build in ${name}`,
      );
      digests.push(r.stdout.trim());
      // Created at least a second later, so the second context's files differ in mtime.
      await new Promise((r) => setTimeout(r, 1100));
    }
    assert.equal(digests[0], digests[1]);
    const info = await inspect(`oci:${dir.join("one", "root")}:localhost/cluster:1`);
    assert.equal(info.Digest, digests[0]);

    // SOURCE_DATE_EPOCH does the same as --timestamp, and a rebuild reuses every layer.
    const again = ok(
      await ferry([
        "build",
        "--root",
        dir.join("one", "root"),
        "--save-image=false",
        "--platform",
        "linux/amd64",
        "-t",
        "cluster:1",
        dir.join("one", "ctx"),
      ], { env: { SOURCE_DATE_EPOCH: EPOCH } }),
      "rebuild",
    );
    assert.equal(again.stdout.trim(), digests[0]);
    const layerCount = again.stderr.match(/^--> layer /gm)?.length ?? 0;
    assert.ok(layerCount >= 4, again.stderr);
    assert.equal(again.stderr.match(/reused/g)?.length, layerCount, again.stderr);

    // Without a timestamp, layers carry the files' own times; saving the (unchanged) images again
    // touches nothing, so a rebuild still reuses every layer.
    const plain = ["build", "--root", dir.join("one", "root"), "--tls-verify=false", "--platform"];
    ok(
      await ferry([...plain, "linux/amd64", dir.join("one", "ctx")]),
      "build without timestamp",
    );
    const rebuilt = ok(
      await ferry([...plain, "linux/amd64", dir.join("one", "ctx")]),
      "rebuild without timestamp",
    );
    assert.equal(rebuilt.stderr.match(/reused/g)?.length, layerCount, rebuilt.stderr);

    await t.step("bad input: one line naming the problem", async () => {
      const ctx = dir.join("bad");
      await Deno.mkdir(ctx);
      await Deno.writeTextFile(join(ctx, "a.txt"), "a");
      const cases: [string, RegExp, string[]?][] = [
        ['FROM scratch\nCOPY a.txt /a\nCOPY ["b"\n', /^ferry: Kubefile:3: /],
        [
          "FROM scratch\nCOPY missing /x\n",
          /^ferry: Kubefile:2: COPY: source "missing" not found in the build context$/,
        ],
        [
          "FROM scratch\nCOPY ../outside /x\n",
          /^ferry: Kubefile:2: COPY: source "..\/outside" is outside the build context$/,
        ],
        [
          "FROM scratch\nCOPY a.txt /a\n",
          /^ferry: invalid reference "UPPER\/Case": repository name must be lowercase$/,
          ["-t", "UPPER/Case"],
        ],
        ["FROM localhost/Nope\n", /^ferry: Kubefile:1: FROM localhost\/Nope: invalid reference/],
      ];
      for (const [kubefile, pattern, extra] of cases) {
        await Deno.writeTextFile(join(ctx, "Kubefile"), kubefile);
        const r = await ferry([
          "build",
          "--root",
          dir.join("bad-root"),
          "--save-image=false",
          ...(extra ?? []),
          ctx,
        ]);
        assert.equal(r.code, 1, `${kubefile}: exit ${r.code}\n${r.stderr}`);
        const lines = r.stderr.trimEnd().split("\n").filter((l) => !/^(STEP |-->)/.test(l));
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], pattern);
      }
    });
  },
);

peerTest(
  "build: two platforms give an index whose children carry their own platform's images",
  ["docker-registry", "skopeo"],
  async () => {
    await using dir = await tempDir("ferry-build-multi-");
    await using source = await startRegistry();
    const { multi } = await seedRegistry(dir.path, source);
    const ctx = dir.join("ctx");
    await writeContext(ctx, source.host);
    const root = dir.join("root");
    const r = ok(
      await ferry([
        "build",
        "--root",
        root,
        "--tls-verify=false",
        "--platform",
        "linux/amd64,linux/arm64",
        "--json",
        "-t",
        "cluster:multi",
        ctx,
      ]),
      "multi-platform build",
    );
    const result = r.stdout.trim().split("\n").map((l) => JSON.parse(l)).find((e) =>
      e.type === "result"
    );
    const raw = await inspectRaw(`oci:${root}:localhost/cluster:multi`);
    assert.equal(raw.digest, result.digest);
    const children = raw.json.manifests as (Descriptor & { platform: { architecture: string } })[];
    assert.deepEqual(children.map((c) => c.platform.architecture), ["amd64", "arm64"]);

    const [amdChild, armChild] = multi.children;
    const blobPath = (d: Digest) =>
      `registry/docker/registry/v2/blobs/sha256/${digestHex(d).slice(0, 2)}/${digestHex(d)}/data`;
    const store = await ImageStore.open({ root });
    try {
      for (const child of children) {
        const manifest = await readManifest(store.target(), child);
        assert.equal(manifest.kind, "manifest");
        if (manifest.kind !== "manifest") continue;
        const files = await imageTree(store, manifest);
        const own = child.platform.architecture === "amd64" ? amdChild : armChild;
        const other = own === amdChild ? armChild : amdChild;
        assert.ok(
          files[blobPath(own.digest)],
          `${child.platform.architecture} carries its manifest`,
        );
        assert.ok(files[blobPath(own.layers.at(-1)!.digest)], "and its own layer");
        assert.equal(files[blobPath(other.digest)], undefined, "not the other platform's manifest");
        assert.equal(files[blobPath(other.layers.at(-1)!.digest)], undefined, "nor its layer");
        assert.ok(files[blobPath(multi.digest)], "the index itself is kept");
      }
      const arm = await store.inspect("localhost/cluster:multi", { platform: ARM64 });
      assert.equal(arm.image.platform, "linux/arm64");
    } finally {
      await store.close();
    }
  },
);

peerTest(
  "build -o: pushed to docker-registry and exported to archives, all read back by skopeo",
  ["docker-registry", "skopeo"],
  async () => {
    await using dir = await tempDir("ferry-build-out-");
    await using target = await startRegistry();
    const ctx = dir.join("ctx");
    await Deno.mkdir(ctx);
    await Deno.writeTextFile(join(ctx, "Kubefile"), "FROM scratch\nLABEL app=out\nCOPY . /app/\n");
    await Deno.writeTextFile(join(ctx, "data.txt"), "data\n");
    const root = dir.join("root");
    const outputs = [
      `docker://${target.host}/apps/out:1`,
      `oci-archive:${dir.join("out-oci.tar")}`,
      `docker-archive:${dir.join("out-docker.tar")}`,
    ];
    let digest = "";
    for (const output of outputs) {
      const r = ok(
        await ferry([
          "build",
          "--root",
          root,
          "--tls-verify=false",
          "--timestamp",
          EPOCH,
          "-t",
          "out:1",
          "-o",
          output,
          ctx,
        ]),
        `build -o ${output}`,
      );
      digest ||= r.stdout.trim();
      assert.equal(r.stdout.trim(), digest);
    }
    const pushed = await inspect(`${target.host}/apps/out:1`);
    assert.equal(pushed.Digest, digest);
    assert.deepEqual(pushed.Labels, { app: "out" });
    const oci = await inspect(`oci-archive:${dir.join("out-oci.tar")}`);
    assert.equal(oci.Digest, digest);
    const docker = await inspect(`docker-archive:${dir.join("out-docker.tar")}`);
    assert.deepEqual(docker.Labels, { app: "out" });
    assert.equal(docker.Layers.length, 1);
  },
);

peerTest(
  "build: concurrent builds into one store both land, sharing blobs",
  ["skopeo", "umoci"],
  async () => {
    await using dir = await tempDir("ferry-build-concurrent-");
    const root = dir.join("root");
    const contexts = ["one", "two"].map((name) => dir.join(name));
    for (const ctx of contexts) {
      await Deno.mkdir(join(ctx, "shared"), { recursive: true });
      await Deno.writeTextFile(
        join(ctx, "Kubefile"),
        "FROM scratch\nCOPY shared /shared\nCOPY own /own\n",
      );
      // The same bytes in both: both processes write the same layer blob at the same time.
      await Deno.writeTextFile(join(ctx, "shared/big"), "x".repeat(4 << 20));
      await Deno.writeTextFile(join(ctx, "own"), ctx);
    }
    // The store exists already: this is about concurrent writers, not concurrent creation.
    await (await ImageStore.open({ root })).close();
    const runs = await Promise.all(contexts.map((ctx, i) =>
      ferry([
        "build",
        "--root",
        root,
        "--save-image=false",
        "--timestamp",
        EPOCH,
        "-t",
        `c:${i}`,
        ctx,
      ])
    ));
    runs.forEach((r, i) => ok(r, `build ${i}`));
    for (const [i, r] of runs.entries()) {
      assert.equal((await inspect(`oci:${root}:localhost/c:${i}`)).Digest, r.stdout.trim());
    }
    const { stdout } = await run(requirePeer("umoci"), ["ls", "--layout", root]);
    assert.deepEqual(stdout.trim().split("\n").sort(), ["localhost/c:0", "localhost/c:1"]);
    const [a, b] = await Promise.all([0, 1].map((i) => inspect(`oci:${root}:localhost/c:${i}`)));
    assert.equal(a.Layers[0], b.Layers[0], "the shared layer is one blob");
    const cache = JSON.parse(await Deno.readTextFile(join(root, ".ferry/layer-cache.json")));
    assert.ok(Object.keys(cache.layers).length >= 3, "both processes' cache entries kept");
  },
);
