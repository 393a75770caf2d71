/**
 * `ferry registry verify`: the command's lines and exit status, and a directory written by
 * docker-registry (pushed to by skopeo) found clean.
 */
import assert from "node:assert/strict";
import { Layout, RegistryDir, verifyRegistryDir } from "../src/registry_dir/mod.ts";
import { ferry, ok } from "./ferry_cli.ts";
import { makeImage, pushImage } from "./support/images.ts";
import { makeLayout, peerTest, pushToRegistry, startRegistry, tempDir } from "./support/mod.ts";

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
  const [snapshot, error] = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(snapshot).sort(), [
    "blobs",
    "bytes",
    "dir",
    "problems",
    "repositories",
    "tags",
  ]);
  assert.deepEqual(
    snapshot.problems.map((p: { kind: string; digest: string }) => [p.kind, p.digest]),
    [
      ["corrupt-blob", layer],
    ],
  );
  assert.equal(error.type, "error");
});

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
