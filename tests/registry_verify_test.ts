/**
 * `ferry registry verify`: the command's lines and exit status, and a directory written by
 * docker-registry (pushed to by skopeo) found clean.
 */
import assert from "node:assert/strict";
import { Layout, RegistryDir, verifyRegistryDir } from "../src/registry_dir/mod.ts";
import { ferry, ok } from "./ferry_cli.ts";
import { TarFile } from "../src/archive/tar_file.ts";
import { makeImage, pushImage } from "./support/images.ts";
import {
  type BuiltImage,
  type BuiltIndex,
  layoutBlobPath,
  makeLayout,
  peerTest,
  pushToRegistry,
  startRegistry,
  tempDir,
} from "./support/mod.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

Deno.test("registry verify: a corrupted blob exits 1 naming it; --json lists it", async () => {
  await using tmp = await tempDir();
  const root = tmp.join("registry");
  const image = makeImage();
  const dir = await RegistryDir.open(root);
  await pushImage(dir.repository("library/app"), image, "1.0");
  await dir.close();

  ok(await ferry(["registry", "verify", root]));
  const layer = image.layers[1].desc.digest;
  const path = new Layout(dir.root).blobData(layer);
  const bytes = await Deno.readFile(path);
  bytes[0] ^= 1;
  await Deno.writeFile(path, bytes);

  const run = await ferry(["registry", "verify", root]);
  assert.equal(run.code, 1, run.stderr);
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 2, run.stdout);
  assert.match(lines[0], new RegExp(`^corrupt-blob: ${path}: content hashes to sha256:`));
  assert.match(lines[1], /: 1 problem\(s\) in 4 blobs \(.*\), 1 repositories, 1 tags$/);
  assert.match(run.stderr, /1 problem\(s\) found/);
  assert.doesNotMatch(run.stderr, /\bat /, "no stack trace");

  const json = await ferry(["registry", "verify", "--json", root]);
  assert.equal(json.code, 1);
  const events: Json[] = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const [result, error] = events.slice(-2);
  assert.deepEqual(Object.keys(result).sort(), [
    "blobs",
    "bytes",
    "dir",
    "images",
    "location",
    "moreProblems",
    "problems",
    "repositories",
    "tags",
    "type",
  ]);
  assert.equal(result.type, "result");
  assert.equal(result.location, `registry-dir:${result.dir}`);
  assert.deepEqual(
    result.problems.map((p: { kind: string; digest: string }) => [p.kind, p.digest]),
    [
      ["corrupt-blob", layer],
    ],
  );
  assert.equal(error.type, "error");
  // Each blob hashed is an event; the corrupted one says so.
  const checked = assertHashEvents(events.slice(0, -2), result);
  assert.deepEqual(checked.get(layer), { size: bytes.length, status: "corrupt" });
  assert.ok([...checked].every(([d, c]) => d === layer || c.status === "ok"));
});

/**
 * Checks `registry verify --json`'s events before its result: one `blob-checked` per blob hashed,
 * `progress` (step `hash`) counting up to the totals. Returns the checks by digest.
 */
function assertHashEvents(
  events: Json[],
  result: Json,
): Map<string, { size: number; status: string }> {
  const checked = new Map<string, { size: number; status: string }>();
  let last: Json | undefined;
  for (const e of events) {
    if (e.type === "blob-checked") {
      assert.deepEqual(Object.keys(e).sort(), ["digest", "size", "status", "type"]);
      assert.ok(!checked.has(e.digest), `${e.digest} checked twice`);
      checked.set(e.digest, { size: e.size, status: e.status });
    } else {
      assert.equal(e.type, "progress", JSON.stringify(e));
      assert.equal(e.step, "hash");
      assert.equal(e.done, checked.size, "progress counts the blobs told of so far");
      assert.equal(e.bytes, [...checked.values()].reduce((n, c) => n + c.size, 0));
      last = e;
    }
  }
  assert.equal(checked.size, result.blobs);
  assert.deepEqual(
    last && [last.done, last.total, last.bytes, last.totalBytes],
    [result.blobs, result.blobs, result.bytes, result.bytes],
    "the last progress event is the whole",
  );
  return checked;
}

peerTest(
  "registry verify: a directory docker-registry wrote, pushed to by skopeo, has no problems",
  ["docker-registry", "skopeo"],
  async () => {
    await using tmp = await tempDir();
    const root = tmp.join("registry");
    await Deno.mkdir(root);
    const layout = tmp.join("layout");
    await makeLayout(layout, [
      {
        name: "app",
        layers: [{ seed: "verify-a", size: 20_000 }, { seed: "verify-b", size: 5_000 }],
      },
      {
        name: "multi",
        children: [
          {
            platform: { os: "linux", architecture: "amd64" },
            layers: [{ seed: "verify-a", size: 20_000 }],
          },
          {
            platform: { os: "linux", architecture: "arm64" },
            layers: [{ seed: "verify-c", size: 3_000 }],
          },
        ],
      },
    ]);
    await using registry = await startRegistry({ root });
    await pushToRegistry(layout, "app", `${registry.host}/library/app:1.0`);
    await pushToRegistry(layout, "multi", `${registry.host}/multi/arch:1.0`);
    await registry.stop();

    const dir = await RegistryDir.open(root, { readOnly: true });
    const report = await verifyRegistryDir(dir);
    assert.deepEqual(report.problems, []);
    assert.equal(report.repositories, 2);
    assert.equal(report.tags, 2);
    // app: manifest, config, 2 layers; multi: index, 2 × (manifest, config), 1 new layer.
    assert.equal(report.blobs, 4 + 1 + 4 + 1);
  },
);

/** A layout with one image and one two-platform index (sharing a layer). */
async function layoutWithImages(dir: string): Promise<{ app: BuiltImage; multi: BuiltIndex }> {
  const [app, multi] = await makeLayout(dir, [
    { name: "app", layers: [{ seed: "v-shared", size: 30_000 }, { seed: "v-app", size: 9_000 }] },
    {
      name: "multi",
      children: [
        {
          platform: { os: "linux", architecture: "amd64" },
          layers: [{ seed: "v-shared", size: 30_000 }],
        },
        {
          platform: { os: "linux", architecture: "arm64" },
          layers: [{ seed: "v-arm", size: 7_000 }],
        },
      ],
    },
  ]);
  return { app: app as BuiltImage, multi: multi as BuiltIndex };
}

/**
 * Runs `ferry registry verify --json ARGS…` expecting exit `code`; checks the events and returns
 * the result.
 */
async function verifyJson(args: string[], code: number): Promise<Json> {
  const run = await ferry(["registry", "verify", "--json", ...args]);
  assert.equal(run.code, code, `${run.stdout}\n${run.stderr}`);
  const events: Json[] = run.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const at = events.findIndex((e) => e.type === "result");
  assert.ok(at >= 0, run.stdout);
  assert.equal(events.length, at + (code === 0 ? 1 : 2), "the result, then an error on failure");
  assertHashEvents(events.slice(0, at), events[at]);
  return events[at];
}

const kinds = (snapshot: Json) =>
  snapshot.problems.map((p: Json) => `${p.kind} ${p.digest}`).sort();

Deno.test("registry verify oci:DIR: a corrupted byte, a deleted blob and a truncated blob are each named", async () => {
  await using tmp = await tempDir();
  const dir = tmp.join("layout");
  const { app, multi } = await layoutWithImages(dir);
  const plain = await ferry(["registry", "verify", dir]);
  assert.equal(plain.code, 2, plain.stderr);
  assert.equal(plain.stderr, `ferry: ${dir} is an OCI layout: name it oci:${dir}\n`);
  const clean = await verifyJson([`oci:${dir}`], 0);
  assert.equal(clean.location, `oci:${dir}`);
  assert.equal(clean.images, 2);
  // app: manifest, config, 2 layers; multi: index, 2 × (manifest, config), 1 more layer.
  assert.equal(clean.blobs, 4 + 1 + 4 + 1);

  const layer = app.layers[1].digest;
  const bytes = await Deno.readFile(layoutBlobPath(dir, layer));
  bytes[100] ^= 0x20;
  await Deno.writeFile(layoutBlobPath(dir, layer), bytes);
  const arm = multi.children[1];
  await Deno.remove(layoutBlobPath(dir, arm.layers[0].digest));
  const config = multi.children[0].config.digest;
  await Deno.truncate(layoutBlobPath(dir, config), 10);

  const broken = await verifyJson([`oci:${dir}`], 1);
  assert.deepEqual(
    kinds(broken),
    [
      `corrupt-blob ${config}`,
      `corrupt-blob ${layer}`,
      `missing-blob ${arm.layers[0].digest}`,
    ].sort(),
  );
  const missing = broken.problems.find((p: Json) => p.kind === "missing-blob");
  assert.match(missing.message, /^index\.json entry 2 \(multi\) > .* needs sha256:/);
});

Deno.test("registry verify oci-archive: and docker-archive: check what the archive holds; a cut archive is one line", async () => {
  await using tmp = await tempDir();
  const dir = tmp.join("layout");
  const { app } = await layoutWithImages(dir);
  for (const transport of ["oci-archive", "docker-archive"] as const) {
    const file = tmp.join(`app-${transport}.tar`);
    ok(await ferry(["copy", `oci:${dir}:app`, `${transport}:${file}`]));
    const clean = await verifyJson([`${transport}:${file}`], 0);
    assert.equal(clean.location, `${transport}:${file}`);
    assert.equal(clean.images, 1);
    assert.ok(clean.blobs >= 3, JSON.stringify(clean));

    // One byte of the layer, found where the archive stores it.
    const tar = await TarFile.open(file);
    const member = tar.members().find((m) =>
      m.name === `blobs/sha256/${app.layers[1].digest.slice(7)}`
    );
    await tar.close();
    assert.ok(member, `${transport}: layer stored as blobs/sha256/<hex>`);
    const bytes = await Deno.readFile(file);
    bytes[member.offset + 50] ^= 0x01;
    await Deno.writeFile(file, bytes);
    const broken = await verifyJson([`${transport}:${file}`], 1);
    assert.deepEqual(kinds(broken), [`corrupt-blob ${app.layers[1].digest}`]);

    // Cut inside a member: refused as a whole, in one line.
    await Deno.truncate(file, member.offset + 100);
    const cut = await ferry(["registry", "verify", `${transport}:${file}`]);
    assert.equal(cut.code, 1);
    assert.equal(cut.stderr.trim().split("\n").length, 1, cut.stderr);
    assert.match(cut.stderr, /^ferry: .*app-.*\.tar/);
  }
});

Deno.test("registry verify: past --max-problems only the count is given", async () => {
  await using tmp = await tempDir();
  const dir = tmp.join("layout");
  const { app, multi } = await layoutWithImages(dir);
  const blobs = [
    app.config.digest,
    ...app.layers.map((l) => l.digest),
    ...multi.children.map((c) => c.config.digest),
  ];
  for (const digest of blobs) await Deno.truncate(layoutBlobPath(dir, digest), 1);
  const run = await ferry(["registry", "verify", "--max-problems", "2", `oci:${dir}`]);
  assert.equal(run.code, 1);
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 4, run.stdout);
  assert.match(
    lines[2],
    new RegExp(`^… and ${blobs.length - 2} more problem\\(s\\) \\(--max-problems 2\\)$`),
  );
  assert.match(lines[3], new RegExp(`: ${blobs.length} problem\\(s\\) in `));
  const json = await verifyJson(["--max-problems", "2", `oci:${dir}`], 1);
  assert.equal(json.problems.length, 2);
  assert.equal(json.moreProblems, blobs.length - 2);
});

Deno.test("registry verify oci-archive: a differential archive's omitted blobs are counted, not problems", async () => {
  await using tmp = await tempDir();
  const store = tmp.join("store");
  const shared = { seed: "v-delta-shared", size: 20_000 };
  const [v1] = await makeLayout(store, [
    { name: "localhost/app:1.0", layers: [shared, { seed: "v-delta-1", size: 3_000 }] },
  ]) as BuiltImage[];
  const [v2] = await makeLayout(store, [
    { name: "localhost/app:1.1", layers: [shared, { seed: "v-delta-2", size: 3_000 }] },
  ]) as BuiltImage[];
  const full = tmp.join("app-1.0.tar");
  const delta = tmp.join("app-1.1.tar");
  ok(await ferry(["save", "--root", store, "-o", full, "localhost/app:1.0"]));
  ok(await ferry(["save", "--root", store, "-o", delta, "--base", full, "localhost/app:1.1"]));
  assert.equal(v1.layers[0].digest, v2.layers[0].digest);

  const snapshot = await verifyJson([`oci-archive:${delta}`], 0);
  assert.equal(snapshot.omitted, 1);
  assert.equal(snapshot.blobs, 3, "manifest, config and the new layer");
  const text = ok(await ferry(["registry", "verify", `oci-archive:${delta}`]));
  assert.match(
    text.stdout,
    /no problems in 3 blobs .*\(1 blobs left out by a differential archive\)/,
  );
});
