/**
 * `ferry registry gc` against docker-registry 2.8's `garbage-collect`, with and without
 * `--delete-untagged`, on directories written by ferry, by docker-registry (pushed to by skopeo)
 * and by both: the same blobs, manifests and tags are kept, and afterwards both servers serve
 * the same tags alike.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatSize } from "../src/byte_size.ts";
import { sha256 } from "../src/digest.ts";
import { RegistryDir } from "../src/registry_dir/mod.ts";
import { bytesSource } from "../src/store.ts";
import { serveRegistry } from "../src/server/mod.ts";
import { ferry, ok } from "./ferry_cli.ts";
import { makeImage, makeIndex, pushImage, pushIndex } from "./support/images.ts";
import { run } from "./support/process.ts";
import { copy, inspectRaw } from "./support/skopeo.ts";
import {
  garbageCollect,
  makeLayout,
  peerTest,
  pushToRegistry,
  requirePeer,
  startRegistry,
  tempDir,
} from "./support/mod.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** What a directory holds: every file, relative to the root, sorted. */
async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(join(root, rel))) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else out.push(path);
    }
  };
  await walk("");
  return out.sort();
}

const LAYER_LINK = /\/_layers\/sha256\/([0-9a-f]{64})\/link$/;

/**
 * Asserts that ferry's result keeps what docker-registry's keeps: the same files, except the
 * `_layers` links naming a blob docker-registry removed, which docker-registry 2.8 leaves and ferry
 * removes.
 */
async function assertParity(ferryRoot: string, registryRoot: string, what: string) {
  const theirs = await files(registryRoot);
  const blobs = new Set(
    theirs.flatMap((f) => /blobs\/sha256\/..\/([0-9a-f]{64})\/data$/.exec(f)?.[1] ?? []),
  );
  const expected = theirs.filter((f) => {
    const link = LAYER_LINK.exec(f);
    return !link || blobs.has(link[1]);
  });
  assert.deepEqual(await files(ferryRoot), expected, what);
}

/** Ferry's part of a directory: each case the rules have to get right, written by ferry. */
async function writeWithFerry(root: string): Promise<void> {
  const dir = await RegistryDir.open(root);
  const app = dir.repository("ferry/app");
  // A tagged index whose children no tag names.
  await pushIndex(app, makeIndex(), "multi");
  // A tag moved: v1 leaves its first image untagged (they share a layer).
  const first = makeImage();
  await pushImage(app, first, "v1");
  await pushImage(app, makeImage({ layers: [first.layers[0].bytes, new Uint8Array(700)] }), "v1");
  // A deleted tag.
  await pushImage(app, makeImage(), "gone");
  await app.deleteTag("gone");
  // The untagged image of app is tagged in another repository: blobs shared between them.
  const other = dir.repository("ferry/other");
  await pushImage(other, first, "keep");
  // An index whose tag was deleted, children and all.
  await pushIndex(other, makeIndex(), "x");
  await other.deleteTag("x");
  // A blob no manifest names, linked only.
  const stray = makeImage().layers[0];
  await app.push(stray.desc, bytesSource(stray.bytes));
  await dir.close();
}

/** docker-registry's part: the same cases pushed with skopeo, and a manifest deleted by API. */
async function writeWithRegistry(root: string, work: string): Promise<void> {
  const layout = join(work, "layout");
  await makeLayout(layout, [
    { name: "a", layers: [{ seed: "gc-shared", size: 9_000 }, { seed: "gc-a", size: 4_000 }] },
    { name: "b", layers: [{ seed: "gc-shared", size: 9_000 }, { seed: "gc-b", size: 3_000 }] },
    { name: "c", layers: [{ seed: "gc-c", size: 2_000 }] },
    // Docker media types: a schema 2 manifest and a manifest list.
    { name: "d", format: "docker", layers: [{ seed: "gc-shared", size: 9_000 }] },
    {
      name: "dlist",
      format: "docker",
      children: [
        {
          platform: { os: "linux", architecture: "amd64" },
          layers: [{ seed: "gc-d1", size: 1_500 }],
        },
        {
          platform: { os: "linux", architecture: "arm64" },
          layers: [{ seed: "gc-d2", size: 1_500 }],
        },
      ],
    },
    {
      name: "multi",
      children: [
        {
          platform: { os: "linux", architecture: "amd64" },
          layers: [{ seed: "gc-shared", size: 9_000 }],
        },
        {
          platform: { os: "linux", architecture: "arm64" },
          layers: [{ seed: "gc-arm", size: 2_500 }],
        },
      ],
    },
  ]);
  await using registry = await startRegistry({ root });
  const host = registry.host;
  await pushToRegistry(layout, "a", `${host}/reg/app:1.0`);
  await pushToRegistry(layout, "b", `${host}/reg/app:1.0`);
  await pushToRegistry(layout, "multi", `${host}/reg/multi:1.0`);
  await pushToRegistry(layout, "c", `${host}/reg/app:old`);
  await pushToRegistry(layout, "d", `${host}/reg/docker:1`);
  await pushToRegistry(layout, "dlist", `${host}/reg/docker:list`);
  // The list's tag moves: the list and its children are left untagged.
  await pushToRegistry(layout, "d", `${host}/reg/docker:list`);
  await run(requirePeer("skopeo"), [
    "delete",
    "--tls-verify=false",
    `docker://${host}/reg/app:old`,
  ]);
}

/** Every tag of the directory as `repository:tag`. */
async function tagsOf(root: string): Promise<string[]> {
  const dir = await RegistryDir.open(root, { readOnly: true });
  const out: string[] = [];
  for (const name of await dir.repositories()) {
    for (const tag of await dir.repository(name).tags()) out.push(`${name}:${tag}`);
  }
  return out;
}

/** Whether `ref` reads whole from `host`: its manifest, and a copy of every platform. */
async function pulls(host: string, ref: string, work: string): Promise<boolean> {
  try {
    await inspectRaw(`${host}/${ref}`);
    await copy(`${host}/${ref}`, `dir:${await Deno.makeTempDir({ dir: work })}`, { all: true });
    return true;
  } catch {
    return false;
  }
}

/** Which tags pull from docker-registry and from ferry's server, both serving `root`. */
async function servedTags(root: string, work: string): Promise<Map<string, [boolean, boolean]>> {
  const out = new Map<string, [boolean, boolean]>();
  const tags = await tagsOf(root);
  {
    await using registry = await startRegistry({ root });
    for (const ref of tags) out.set(ref, [await pulls(registry.host, ref, work), false]);
  }
  const store = await RegistryDir.open(root, { readOnly: true });
  const server = await serveRegistry({ store, port: 0 });
  try {
    const host = new URL(server.url).host;
    for (const ref of tags) out.get(ref)![1] = await pulls(host, ref, work);
  } finally {
    await server.shutdown();
    await store.close();
  }
  return out;
}

for (
  const [written, parts] of [
    ["ferry", { ferry: true, registry: false }],
    ["docker-registry", { ferry: false, registry: true }],
    ["both", { ferry: true, registry: true }],
  ] as const
) {
  peerTest(
    `registry gc: on a directory written by ${written}, ferry keeps what docker-registry 2.8 keeps, with and without --delete-untagged`,
    ["docker-registry", "skopeo"],
    async () => {
      await using tmp = await tempDir();
      const base = tmp.join("base");
      await Deno.mkdir(base);
      if (parts.registry) await writeWithRegistry(base, tmp.path);
      if (parts.ferry) await writeWithFerry(base);
      const before = await files(base);

      for (const untagged of [false, true]) {
        const mode = untagged ? "--delete-untagged" : "default";
        const theirs = tmp.join(`registry-${mode}`);
        const ours = tmp.join(`ferry-${mode}`);
        await run("cp", ["-a", base, theirs]);
        await run("cp", ["-a", base, ours]);
        await garbageCollect(theirs, { deleteUntagged: untagged });
        const flags = untagged ? ["--delete-untagged"] : [];

        // A dry run changes nothing and announces what the real run removes.
        const dry = ok(await ferry(["registry", "gc", "--dry-run", "--json", ...flags, ours]));
        assert.deepEqual(await files(ours), before);
        const removed = (out: string) =>
          out.trim().split("\n").map((l) => JSON.parse(l) as Json)
            .filter((e) => e.type === "removed")
            .map((e) => `${e.kind} ${e.repository ?? ""}@${e.digest}`).sort();

        const real = ok(await ferry(["registry", "gc", "--json", ...flags, ours]));
        assert.deepEqual(removed(dry.stdout), removed(real.stdout));
        const theirFiles = await files(theirs);
        assert.notDeepEqual(theirFiles, before, `${mode}: docker-registry removed something`);
        await assertParity(ours, theirs, `${written}, ${mode}`);

        // A second run finds nothing more to remove.
        const again = ok(await ferry(["registry", "gc", "--json", ...flags, ours]));
        assert.deepEqual(removed(again.stdout), []);

        if (written === "both") {
          const served = await servedTags(ours, tmp.path);
          for (const [ref, [byRegistry, byFerry]] of served) {
            assert.equal(byFerry, byRegistry, `${mode}: ${ref} served alike`);
            // Only an index's children go with --delete-untagged (docker-registry's rule).
            const index = ref.endsWith(":multi") || ref === "reg/multi:1.0";
            assert.equal(byRegistry, !(untagged && index), `${mode}: ${ref} pulls`);
          }
          assert.ok(served.size >= 5, [...served.keys()].join(" "));
        }
      }
    },
  );
}

Deno.test("registry gc: prints each removal and the bytes freed; a missing directory is one line", async () => {
  await using tmp = await tempDir();
  const root = tmp.join("registry");
  const dir = await RegistryDir.open(root);
  const app = dir.repository("library/app");
  const image = makeImage({ layerSizes: [3000, 5000] });
  await pushImage(app, image, "1.0");
  await app.deleteTag("1.0");
  await pushImage(app, makeImage(), "2.0");
  await dir.close();

  // Without --delete-untagged the untagged image stays.
  const plain = ok(await ferry(["registry", "gc", root]));
  assert.match(plain.stdout, /removed 0 manifest\(s\), 0 blob\(s\) \(0B\) and 0 layer link\(s\)/);

  const freed = image.layers.reduce((n, l) => n + l.desc.size, 0) + image.config.desc.size +
    image.manifest.desc.size;
  const dry = ok(await ferry(["registry", "gc", "--dry-run", "--json", "--delete-untagged", root]));
  const result = JSON.parse(dry.stdout.trim().split("\n").at(-1)!);
  assert.deepEqual(result, {
    type: "result",
    dir: root,
    dryRun: true,
    repositories: 1,
    keptManifests: 1,
    keptBlobs: 4,
    removed: { manifests: 1, blobs: 4, layerLinks: 3 },
    freedBytes: freed,
  });

  const run = ok(await ferry(["registry", "gc", "--delete-untagged", root]));
  const lines = run.stdout.trim().split("\n");
  assert.ok(lines.includes(`removed manifest library/app@${image.manifest.desc.digest}`));
  for (const blob of [image.config, ...image.layers]) {
    const { digest, size } = blob.desc;
    assert.ok(lines.includes(`removed blob ${digest} (${formatSize(size)})`), run.stdout);
    assert.ok(lines.includes(`removed layer link library/app@${digest}`), run.stdout);
  }
  assert.match(
    lines.at(-1)!,
    new RegExp(`removed 1 manifest\\(s\\), 4 blob\\(s\\) \\(${formatSize(freed)}\\) and 3 layer`),
  );

  const missing = await ferry(["registry", "gc", tmp.join("nope")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^ferry: .*nope: no such directory\n$/);
});

/**
 * Another process holding the registry directory `root`: a writer that has stored a blob no
 * manifest names yet (a save between a layer and its manifest), or a gc. It says `held` once it
 * holds the lock and lets go when its standard input closes.
 */
async function holder(dir: string, root: string, role: "writer" | "gc") {
  const script = join(dir, `hold-${role}.ts`);
  const mod = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  await Deno.writeTextFile(
    script,
    `import { RegistryDir } from ${mod("../src/registry_dir/mod.ts")};
import { bytesSource } from ${mod("../src/store.ts")};
import { sha256 } from ${mod("../src/digest.ts")};
const dir = await RegistryDir.open(Deno.args[0]);
if (Deno.args[1] === "gc") await dir.lockExclusive();
else {
  const bytes = new TextEncoder().encode("a layer whose manifest is not written yet");
  const desc = { mediaType: "application/octet-stream", digest: await sha256(bytes), size: bytes.length };
  await dir.repository("library/app").push(desc, bytesSource(bytes));
}
console.log("held");
for await (const _ of Deno.stdin.readable);
await dir.close();
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", script, root, role],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let said = "";
  while (!said.includes("held")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the ${role} holder ended before holding the lock: ${said}`);
    said += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    async release() {
      await child.stdin.close();
      await child.stdout.cancel();
      assert.equal((await child.status).code, 0);
    },
  };
}

Deno.test("registry gc and ferry's writers exclude each other across processes", async (t) => {
  await using tmp = await tempDir();
  const root = tmp.join("registry");
  const dir = await RegistryDir.open(root);
  await pushImage(dir.repository("library/app"), makeImage(), "1.0");
  await dir.close();
  const unlinked = await sha256(
    new TextEncoder().encode("a layer whose manifest is not written yet"),
  );
  const blobFile = join(
    root,
    "docker/registry/v2/blobs/sha256",
    unlinked.slice(7, 9),
    unlinked.slice(7),
    "data",
  );
  const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

  await t.step("gc is refused, removing nothing, while a writer holds the directory", async () => {
    const writer = await holder(tmp.path, root, "writer");
    try {
      assert.ok(await exists(blobFile), "the writer stored its blob");
      const before = await files(root);
      const run = await ferry(["registry", "gc", root]);
      assert.equal(run.code, 1, run.stdout);
      assert.match(
        run.stderr,
        /^ferry: registry-dir:.*registry: another ferry process is writing to this registry directory .*retry when it is done\n$/,
      );
      assert.deepEqual(await files(root), before, "nothing was removed");
      // A dry run reads only: it runs, and names the blob no manifest uses.
      const dry = ok(await ferry(["registry", "gc", "--dry-run", root]));
      assert.match(dry.stdout, new RegExp(`would remove blob ${unlinked}`));
    } finally {
      await writer.release();
    }
    // Once the writer is done (here it never writes a manifest), gc runs.
    const run = ok(await ferry(["registry", "gc", root]));
    assert.match(run.stdout, new RegExp(`removed blob ${unlinked}`));
    assert.ok(!await exists(blobFile));
  });

  await t.step("writers are refused while gc holds the directory; readers are not", async () => {
    const layout = tmp.join("layout");
    await makeLayout(layout, [{ name: "app", layers: [{ seed: "gc-lock", size: 2_000 }] }]);
    const gc = await holder(tmp.path, root, "gc");
    try {
      const copy = await ferry(["copy", `oci:${layout}:app`, `registry-dir:${root}:other:1`]);
      assert.equal(copy.code, 1, copy.stdout);
      assert.match(
        copy.stderr,
        /^ferry: registry-dir:.*registry: registry gc is running on this registry directory; retry when it is done\n$/,
      );
      assert.ok(!await exists(join(root, "docker/registry/v2/repositories/other")));
      ok(await ferry(["registry", "verify", root]));
    } finally {
      await gc.release();
    }
    ok(await ferry(["copy", `oci:${layout}:app`, `registry-dir:${root}:other:1`]));
  });
});
