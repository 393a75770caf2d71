/**
 * The local image store and the image commands (`pull`, `push`, `tag`, `rmi`, `images`, `inspect`,
 * `save`, `load`) run as a user runs them, checked with docker-registry, skopeo, umoci and GNU tar.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Digest, sha256 } from "../src/digest.ts";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from "../src/media_types.ts";
import {
  type BuiltImage,
  type BuiltIndex,
  copy,
  inspect,
  inspectRaw,
  makeLayout,
  peerTest,
  pushToRegistry,
  requirePeer,
  run,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import { ferry, ok } from "./ferry_cli.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };
const BASE = { seed: "images-base", size: 20_000 };

/**
 * Runs ferry expecting failure: exit 1 or 2 and exactly one line on stderr besides progress
 * (`Copying blob …` lines printed before the problem was found).
 */
async function fails(args: string[], pattern?: RegExp): Promise<string> {
  const r = await ferry(args);
  assert.ok(r.code === 1 || r.code === 2, `ferry ${args.join(" ")} exited ${r.code}:\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n").filter((l) => !l.startsWith("Copying blob "));
  assert.equal(lines.length, 1, `ferry ${args.join(" ")} printed:\n${r.stderr}`);
  assert.match(lines[0], /^ferry: /);
  if (pattern) assert.match(lines[0], pattern);
  return lines[0];
}

interface Row {
  name?: string;
  digest: Digest;
  mediaType: string;
  size: number;
  platforms: string[];
}

async function images(root: string): Promise<Row[]> {
  return JSON.parse((ok(await ferry(["images", "--json", "--root", root]))).stdout).images;
}

function byName(rows: Row[]): Record<string, Digest> {
  return Object.fromEntries(rows.map((r) => [r.name ?? "<none>", r.digest]));
}

/** index.json and the blob list: what must not change when a command fails. */
async function state(root: string): Promise<{ index: string; blobs: string[] }> {
  const blobs: string[] = [];
  for await (const e of Deno.readDir(join(root, "blobs", "sha256"))) blobs.push(e.name);
  return { index: await Deno.readTextFile(join(root, "index.json")), blobs: blobs.sort() };
}

async function blobNames(root: string): Promise<Set<Digest>> {
  return new Set((await state(root)).blobs.map((h) => `sha256:${h}` as Digest));
}

async function umociLs(root: string): Promise<string[]> {
  const { stdout } = await run(requirePeer("umoci"), ["ls", "--layout", root]);
  return stdout.trim().split("\n").filter(Boolean).sort();
}

peerTest(
  "pull single, multi-arch and Docker images; skopeo and umoci read the store; push keeps digests",
  ["docker-registry", "skopeo", "umoci"],
  async (t) => {
    await using dir = await tempDir();
    await using a = await startRegistry();
    await using b = await startRegistry();
    const layout = dir.join("src");
    const [single, multi, dock] = await makeLayout(layout, [
      { name: "single", layers: [BASE, { seed: "images-single", size: 8_000 }] },
      {
        name: "multi",
        children: [
          { platform: AMD64, layers: [BASE, { seed: "images-amd", size: 8_000 }] },
          { platform: ARM64, layers: [BASE, { seed: "images-arm", size: 8_000 }] },
        ],
      },
      { name: "dock", format: "docker", layers: [BASE, { seed: "images-dock", size: 8_000 }] },
    ]) as [BuiltImage, BuiltIndex, BuiltImage];
    await pushToRegistry(layout, "single", `${a.host}/team/single:1`);
    await pushToRegistry(layout, "multi", `${a.host}/team/multi:1`);
    await pushToRegistry(layout, "dock", `${a.host}/team/dock:1`);
    const root = dir.join("store");
    const r = ["--root", root];

    await t.step("a single image keeps its digest and is readable as oci:ROOT:NAME", async () => {
      const run = ok(await ferry(["pull", ...r, `${a.host}/team/single:1`]));
      assert.equal(run.stdout.trim(), single.digest);
      assert.equal((await inspectRaw(`oci:${root}:${a.host}/team/single:1`)).digest, single.digest);
    });

    await t.step("one platform of an index is stored as that platform's manifest", async () => {
      ok(await ferry(["pull", ...r, "--platform", "linux/arm64", `${a.host}/team/multi:1`]));
      const arm = multi.children[1];
      assert.equal((await inspectRaw(`oci:${root}:${a.host}/team/multi:1`)).digest, arm.digest);
      const got = await inspect(`oci:${root}:${a.host}/team/multi:1`);
      assert.equal(got.Architecture, "arm64");
    });

    await t.step("--all keeps the whole index", async () => {
      ok(await ferry(["pull", ...r, "--all", "--json", `${a.host}/team/multi:1`]));
      assert.equal((await inspectRaw(`oci:${root}:${a.host}/team/multi:1`)).digest, multi.digest);
    });

    await t.step("a Docker v2s2 image is kept as is, and inspect says so", async () => {
      ok(await ferry(["pull", ...r, `${a.host}/team/dock:1`]));
      const details = JSON.parse(
        (ok(await ferry(["inspect", ...r, "--json", `${a.host}/team/dock:1`]))).stdout,
      );
      assert.equal(details.digest, dock.digest);
      assert.match(details.notes[0], /skopeo 1\.9 does not find this entry/);
    });

    await t.step("images and umoci ls list the store", async () => {
      const rows = await images(root);
      assert.deepEqual(byName(rows), {
        [`${a.host}/team/dock:1`]: dock.digest,
        [`${a.host}/team/multi:1`]: multi.digest,
        [`${a.host}/team/single:1`]: single.digest,
      });
      const m = rows.find((x) => x.digest === multi.digest)!;
      assert.deepEqual(m.platforms, ["linux/amd64", "linux/arm64/v8"]);
      assert.deepEqual(await umociLs(root), Object.keys(byName(rows)).sort());
    });

    await t.step("push to another registry keeps the digest", async () => {
      const out = ok(await ferry(["push", ...r, `${a.host}/team/multi:1`, `${b.host}/copy/multi`]));
      assert.equal(out.stdout.trim(), multi.digest);
      // the destination had no tag: the image's own tag is used
      assert.equal((await inspectRaw(`${b.host}/copy/multi:1`)).digest, multi.digest);
      ok(await ferry(["push", ...r, `${a.host}/team/dock:1`, `docker://${b.host}/copy/dock:7`]));
      assert.equal((await inspectRaw(`${b.host}/copy/dock:7`)).digest, dock.digest);
    });

    await t.step("push without destination goes to the image's own name", async () => {
      ok(await ferry(["tag", ...r, `${a.host}/team/single:1`, `${b.host}/own/single:2`]));
      ok(await ferry(["push", ...r, `${b.host}/own/single:2`]));
      assert.equal((await inspectRaw(`${b.host}/own/single:2`)).digest, single.digest);
      ok(await ferry(["tag", ...r, `${a.host}/team/single:1`, "local-only:1"]));
      await fails(["push", ...r, "local-only:1"], /localhost\/local-only:1 names no registry/);
    });
  },
);

peerTest("tag, images and rmi: removed blobs go, shared blobs stay", ["umoci"], async () => {
  await using dir = await tempDir();
  const root = dir.join("store");
  const [base, app] = await makeLayout(root, [
    { name: "docker.io/library/base:1", layers: [BASE, { seed: "rmi-base", size: 4_000 }] },
    { name: "localhost/app:1", layers: [BASE, { seed: "rmi-app", size: 4_000 }] },
  ]) as [BuiltImage, BuiltImage];
  const r = ["--root", root];

  ok(await ferry(["tag", ...r, "base:1", "mine", "ghcr.io/org/mine:2"]));
  assert.deepEqual(byName(await images(root)), {
    "docker.io/library/base:1": base.digest,
    "ghcr.io/org/mine:2": base.digest,
    "localhost/app:1": app.digest,
    "localhost/mine:latest": base.digest,
  });
  const table = (ok(await ferry(["images", ...r]))).stdout.split("\n");
  assert.match(table[0], /^NAME\s+DIGEST\s+CREATED\s+SIZE\s+PLATFORMS$/);
  assert.ok(
    table.some((l) =>
      l.startsWith("localhost/mine:latest") && l.includes(base.digest.slice(7, 19))
    ),
    table.join("\n"),
  );
  assert.ok(table.some((l) => l.includes("linux/amd64")));
  assert.deepEqual(await umociLs(root), [
    "docker.io/library/base:1",
    "ghcr.io/org/mine:2",
    "localhost/app:1",
    "localhost/mine:latest",
  ]);

  const removed = ok(await ferry(["rmi", ...r, "app:1"]));
  assert.equal(removed.stdout, "Untagged: localhost/app:1\n");
  const blobs = await blobNames(root);
  for (const d of [app.digest, app.config.digest, app.layers[1].digest]) assert.ok(!blobs.has(d));
  for (const d of [base.digest, base.config.digest, ...base.layers.map((l) => l.digest)]) {
    assert.ok(blobs.has(d), `${d} was removed`);
  }

  // by digest prefix: every name of the image, only with --force
  const id = base.digest.slice(7, 19);
  await fails(["rmi", ...r, id], /3 names.*--force/);
  assert.equal((await images(root)).length, 3);
  ok(await ferry(["rmi", ...r, "--force", id]));
  assert.deepEqual(await images(root), []);
  assert.deepEqual((await state(root)).blobs, []);
  await fails(["rmi", ...r, "base:1"], /^ferry: no such image: base:1$/);
});

peerTest(
  "save both archive formats, read them with skopeo, load them back with the same names and digests",
  ["skopeo", "umoci"],
  async (t) => {
    await using dir = await tempDir();
    const root = dir.join("store");
    const [app, multi] = await makeLayout(root, [
      { name: "localhost/app:1.0", layers: [BASE, { seed: "save-app", size: 6_000 }] },
      {
        name: "docker.io/library/multi:2",
        children: [
          { platform: AMD64, layers: [BASE, { seed: "save-amd", size: 6_000 }] },
          { platform: ARM64, layers: [BASE, { seed: "save-arm", size: 6_000 }] },
        ],
      },
    ]) as [BuiltImage, BuiltIndex];
    const r = ["--root", root];
    const ociFile = dir.join("images.tar");
    const dockerFile = dir.join("docker.tar");

    await t.step("oci-archive (default) holds every image under its name", async () => {
      ok(await ferry(["save", ...r, "-o", ociFile, "app:1.0", "multi:2"]));
      assert.equal(
        (await inspectRaw(`oci-archive:${ociFile}:localhost/app:1.0`)).digest,
        app.digest,
      );
      assert.equal(
        (await inspectRaw(`oci-archive:${ociFile}:docker.io/library/multi:2`)).digest,
        multi.digest,
      );
      await copy(`oci-archive:${ociFile}:localhost/app:1.0`, `oci:${dir.join("sk")}:x`);
    });

    await t.step("docker-archive needs one platform of a multi-platform image", async () => {
      await fails([
        "save",
        ...r,
        "--format",
        "docker-archive",
        "-o",
        dockerFile,
        "app:1.0",
        "multi:2",
      ], /--platform/);
      await assert.rejects(Deno.stat(dockerFile));
      await assert.rejects(Deno.stat(`${dockerFile}.partial`));
      ok(
        await ferry([
          "save",
          ...r,
          "--format",
          "docker-archive",
          "--platform",
          "linux/amd64",
          "-o",
          dockerFile,
          "app:1.0",
          "multi:2",
        ]),
      );
      const got = await inspect(`docker-archive:${dockerFile}:docker.io/library/multi:2`);
      assert.equal(got.Architecture, "amd64");
      // skopeo names docker-archive layers by their uncompressed digests
      assert.deepEqual(got.Layers, multi.children[0].diffIds);
      await copy(`docker-archive:${dockerFile}:localhost/app:1.0`, `oci:${dir.join("sk")}:y`);
    });

    await t.step("load restores names and digests into a fresh store", async () => {
      const fresh = dir.join("fresh-oci");
      const out = ok(await ferry(["load", "--root", fresh, "-i", ociFile]));
      assert.deepEqual(out.stdout.trim().split("\n").sort(), [
        "Loaded image: docker.io/library/multi:2",
        "Loaded image: localhost/app:1.0",
      ]);
      assert.deepEqual(byName(await images(fresh)), {
        "docker.io/library/multi:2": multi.digest,
        "localhost/app:1.0": app.digest,
      });
      const fromDocker = dir.join("fresh-docker");
      ok(await ferry(["load", "--root", fromDocker, "-i", dockerFile]));
      assert.deepEqual(byName(await images(fromDocker)), {
        "docker.io/library/multi:2": multi.children[0].digest,
        "localhost/app:1.0": app.digest,
      });
      assert.deepEqual(await umociLs(fromDocker), [
        "docker.io/library/multi:2",
        "localhost/app:1.0",
      ]);
    });

    await t.step("push to an archive without a ref names the image as save does", async () => {
      for (const format of ["oci-archive", "docker-archive"]) {
        const file = dir.join(`pushed-${format}.tar`);
        const out = ok(await ferry(["push", ...r, "app:1.0", `${format}:${file}`]));
        assert.match(out.stderr, /Pushed app:1\.0 to .*:localhost\/app:1\.0 \(sha256:/);
        const fresh = dir.join(`fresh-pushed-${format}`);
        const loaded = ok(await ferry(["load", "--root", fresh, "-i", file]));
        assert.equal(loaded.stdout, "Loaded image: localhost/app:1.0\n");
        assert.deepEqual(byName(await images(fresh)), { "localhost/app:1.0": app.digest });
      }
    });

    await t.step(
      "a classic docker-archive loads with OCI manifests skopeo and umoci read",
      async () => {
        const classic = dir.join("classic.tar");
        // skopeo writes the classic layout (RepoTags name, uncompressed layers, no index.json)
        await copy(`oci:${root}:localhost/app:1.0`, `docker-archive:${classic}:nginx:1.27`);
        const fresh = dir.join("fresh-classic");
        const out = ok(await ferry(["load", "--root", fresh, "-i", classic]));
        assert.equal(out.stdout, "Loaded image: docker.io/library/nginx:1.27\n");
        const got = await inspectRaw(`oci:${fresh}:docker.io/library/nginx:1.27`);
        assert.equal(got.json.mediaType, OCI_MANIFEST);
        assert.equal((got.json.config as { digest: string }).digest, app.config.digest);
        assert.deepEqual(await umociLs(fresh), ["docker.io/library/nginx:1.27"]);
      },
    );

    await t.step("a damaged archive fails in one line and leaves the store unchanged", async () => {
      const target = dir.join("target");
      await makeLayout(target, [{
        name: "localhost/other:1",
        layers: [{ seed: "other", size: 500 }],
      }]);
      const before = await state(target);
      const bytes = await Deno.readFile(ociFile);

      const truncated = dir.join("truncated.tar");
      await Deno.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.byteLength / 2)));
      await fails(["load", "--root", target, "-i", truncated], /truncated/);

      const garbage = dir.join("garbage.tar");
      await Deno.writeFile(garbage, crypto.getRandomValues(new Uint8Array(8192)));
      await fails(["load", "--root", target, "-i", garbage]);

      // Same size, one byte changed inside a layer: found only while copying, after the images
      // before it are stored (the second image) or while its siblings are copied (the first).
      for (const layer of [multi.children[1].layers[1], app.layers[1]]) {
        const flipped = bytes.slice();
        const text = new TextDecoder("latin1").decode(flipped);
        const header = text.indexOf(`blobs/sha256/${layer.digest.slice(7)}`);
        assert.ok(header > 0);
        flipped[header + 512 + 100] ^= 0xff;
        const corrupt = dir.join("corrupt.tar");
        await Deno.writeFile(corrupt, flipped);
        await fails(
          ["load", "--root", target, "-i", corrupt],
          /corrupt\.tar: damaged archive: .*digest/,
        );
        assert.deepEqual(await state(target), before);
      }

      await fails(["load", "--root", target, "-i", dir.join("missing.tar")], /no such archive/);
      assert.deepEqual(await state(target), before);
    });
  },
);

peerTest(
  "concurrent pulls and tags on one store all land in index.json",
  ["docker-registry", "skopeo"],
  async () => {
    await using dir = await tempDir();
    await using reg = await startRegistry();
    const layout = dir.join("src");
    const built = await makeLayout(layout, [
      { name: "x", layers: [BASE, { seed: "conc-x", size: 30_000 }] },
      { name: "y", layers: [BASE, { seed: "conc-y", size: 30_000 }] },
      { name: "z", layers: [BASE, { seed: "conc-z", size: 30_000 }] },
    ]) as BuiltImage[];
    for (const n of ["x", "y", "z"]) await pushToRegistry(layout, n, `${reg.host}/conc/${n}:1`);
    const root = dir.join("store");
    const r = ["--root", root];
    // The store does not exist yet: the processes also race to create it.
    await Promise.all(
      ["x", "y"].map((n) =>
        ferry(["pull", ...r, `${reg.host}/conc/${n}:1`]).then((run) => ok(run))
      ),
    );
    await Promise.all([
      ferry(["pull", ...r, `${reg.host}/conc/z:1`]).then((run) => ok(run)),
      ferry(["tag", ...r, `${reg.host}/conc/x:1`, "t1"]).then((run) => ok(run)),
      ferry(["tag", ...r, `${reg.host}/conc/x:1`, "t2"]).then((run) => ok(run)),
    ]);
    assert.deepEqual(byName(await images(root)), {
      [`${reg.host}/conc/x:1`]: built[0].digest,
      [`${reg.host}/conc/y:1`]: built[1].digest,
      [`${reg.host}/conc/z:1`]: built[2].digest,
      "localhost/t1:latest": built[0].digest,
      "localhost/t2:latest": built[0].digest,
    });
  },
);

Deno.test("names that do not parse fail in one line", async () => {
  await using dir = await tempDir();
  const r = ["--root", dir.join("store")];
  await fails(["pull", ...r, "Bad Name"], /invalid reference "Bad Name": contains whitespace/);
  await fails(["inspect", ...r, "UPPER/Case:1"], /invalid reference/);
  await fails(["rmi", ...r, "a:b:c"], /invalid reference/);
  await fails(["tag", ...r, "x@@", "y"], /invalid reference/);
  await fails(["tag", ...r, "x", "Bad:Tag:"], /invalid reference/);
  await fails(["save", ...r, "-o", dir.join("o.tar"), "no good"], /invalid reference/);
  await fails(["push", ...r, "ok:1", "docker://Bad/Dest"], /.+/);
  await Deno.writeTextFile(dir.join("file"), "x");
  await fails(["images", "--root", dir.path], /not an image store/);
});

peerTest(
  "inspect lists the images held in a layer's registry/ directory",
  ["umoci"],
  async () => {
    await using dir = await tempDir();
    const tree = dir.join("tree");
    const repos = `${tree}/registry/docker/registry/v2/repositories`;
    const digests: Record<string, string> = {
      "library/app:1.0": `sha256:${"1".repeat(64)}`,
      "kube/pause:3.9": `sha256:${"2".repeat(64)}`,
    };
    for (const [name, digest] of Object.entries(digests)) {
      const [repo, tag] = name.split(":");
      const current = `${repos}/${repo}/_manifests/tags/${tag}/current`;
      await Deno.mkdir(current, { recursive: true });
      await Deno.writeTextFile(`${current}/link`, digest);
      await Deno.mkdir(`${repos}/${repo}/_manifests/revisions/sha256/${digest.slice(7)}`, {
        recursive: true,
      });
    }
    await Deno.writeTextFile(`${tree}/Kubefile`, "FROM scratch\nCOPY registry ./registry\n");
    const tarFile = dir.join("layer.tar");
    await run("tar", ["-C", tree, "--sort=name", "--owner=0", "--group=0", "-cf", tarFile, "."]);
    const tarBytes = await Deno.readFile(tarFile);
    await run("gzip", ["-n", tarFile]);
    const layer = await Deno.readFile(`${tarFile}.gz`);

    // A minimal OCI image around the layer, written by hand into a fresh store.
    const root = dir.join("store");
    await Deno.mkdir(`${root}/blobs/sha256`, { recursive: true });
    const put = async (bytes: Uint8Array, mediaType: string) => {
      const digest = await sha256(bytes);
      await Deno.writeFile(`${root}/blobs/sha256/${digest.slice(7)}`, bytes);
      return { mediaType, digest, size: bytes.byteLength };
    };
    const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    const layerDesc = await put(layer, OCI_LAYER_GZIP);
    const config = await put(
      json({
        created: "2025-01-01T00:00:00Z",
        architecture: "amd64",
        os: "linux",
        config: { Labels: { "sealos.io.type": "application" }, Cmd: ["kubectl", "apply"] },
        rootfs: { type: "layers", diff_ids: [await sha256(tarBytes)] },
      }),
      OCI_CONFIG,
    );
    const manifest = await put(
      json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layerDesc] }),
      OCI_MANIFEST,
    );
    await Deno.writeTextFile(`${root}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
    await Deno.writeTextFile(
      `${root}/index.json`,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{
          ...manifest,
          annotations: { "org.opencontainers.image.ref.name": "localhost/cluster:v1" },
        }],
      }),
    );
    // umoci reads the hand-made image, so it is a real one.
    await run(requirePeer("umoci"), ["stat", "--image", `${root}:localhost/cluster:v1`]);

    const details = JSON.parse(
      (ok(await ferry(["inspect", "--root", root, "--json", "cluster:v1"]))).stdout,
    );
    assert.deepEqual(details.registry, [
      { repository: "kube/pause", tag: "3.9", digest: digests["kube/pause:3.9"] },
      { repository: "library/app", tag: "1.0", digest: digests["library/app:1.0"] },
    ]);
    assert.deepEqual(details.manifest.config.labels, { "sealos.io.type": "application" });
    assert.deepEqual(details.manifest.config.cmd, ["kubectl", "apply"]);
    assert.deepEqual(details.manifest.layers, [layerDesc]);
    const text = (ok(await ferry(["inspect", "--root", root, "cluster:v1"]))).stdout;
    assert.match(text, /^Name:\s+localhost\/cluster:v1$/m);
    assert.match(text, /^ {2}library\/app:1\.0 {2}sha256:1{64}$/m);
    assert.match(text, /^ {2}sealos\.io\.type=application$/m);
  },
);

Deno.test("prune frees the blobs no image uses and keeps every image's", async () => {
  await using dir = await tempDir();
  const root = dir.join("store");
  const [app] = await makeLayout(root, [
    { name: "localhost/app:1", layers: [{ seed: "prune-a", size: 5_000 }] },
  ]) as BuiltImage[];
  // What an interrupted pull leaves: a stored blob no index.json entry reaches.
  const stray = new TextEncoder().encode("left by an interrupted pull\n");
  await Deno.writeFile(join(root, "blobs/sha256", (await sha256(stray)).slice(7)), stray);

  const run = ok(await ferry(["prune", "--root", root, "--json"]));
  assert.deepEqual(JSON.parse(run.stdout), {
    type: "result",
    removed: [await sha256(stray)],
    freedBytes: stray.byteLength,
  });
  assert.deepEqual(
    [...await blobNames(root)].sort(),
    [app.digest, app.config.digest, ...app.layers.map((l) => l.digest)].sort(),
  );
  assert.equal(ok(await ferry(["prune", "--root", root])).stdout, "Deleted 0 blobs (0B freed)\n");
});
