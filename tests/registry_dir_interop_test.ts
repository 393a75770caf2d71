/**
 * Registry directories against the real peers: docker-registry serves what ferry writes (read by
 * skopeo), ferry reads what docker-registry writes, and both write the same tree for the same
 * content.
 */
import assert from "node:assert/strict";
import { sha256 } from "../src/digest.ts";
import { OCI_INDEX } from "../src/media_types.ts";
import { readAll } from "../src/streams.ts";
import { RegistryDir } from "../src/registry_dir/mod.ts";
import {
  makeImage,
  makeIndex,
  pushImage,
  pushIndex,
  type TestBlob,
  type TestImage,
  type TestIndex,
} from "./support/images.ts";
import { listTree, type TreeEntry } from "../src/registry_dir/test_util.ts";

const REGISTRY = "/usr/bin/docker-registry";
const SKOPEO = "/usr/bin/skopeo";

async function present(path: string): Promise<boolean> {
  return await Deno.stat(path).then((i) => i.isFile, () => false);
}

const missing: string[] = [];
for (const bin of [REGISTRY, SKOPEO]) if (!await present(bin)) missing.push(bin);
// Without the peers the tests are skipped, except on CI where a missing peer is a failure.
const ignore = missing.length > 0 && Deno.env.get("CI") !== "true";

function requirePeers(): void {
  assert.deepEqual(missing, [], `peer binaries missing: ${missing.join(", ")}`);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface RunningRegistry {
  host: string;
  stop(): Promise<void>;
}

/** Starts docker-registry on 127.0.0.1 over `root` and waits for `/v2/` to answer. */
async function startRegistry(root: string, workDir: string): Promise<RunningRegistry> {
  const port = freePort();
  const config = `${workDir}/registry-${port}.yml`;
  await Deno.writeTextFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${root}`,
      "  delete:",
      "    enabled: false",
      "  maintenance:",
      "    uploadpurging:",
      "      enabled: false",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  // umask 022, so that docker-registry's modes (0777/0666 & ~umask) are the documented ones.
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", `umask 022; exec ${REGISTRY} serve "$0"`, config],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    await status;
    await stderr;
  };
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      if (res.status === 200) return { host, stop };
    } catch {
      // not listening yet
    }
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry on ${host} did not start: ${await stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function skopeo(...args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command(SKOPEO, {
    args: ["--insecure-policy", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(
    out.success,
    `skopeo ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
  );
  return out.stdout;
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-regdir-interop-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function allBlobs(img: TestImage): TestBlob[] {
  return [img.config, ...img.layers, img.manifest];
}

/** Writes an OCI image layout holding `image` as `1.0` and `index` as `multi`. */
async function writeOciLayout(dir: string, image: TestImage, index: TestIndex): Promise<void> {
  await Deno.mkdir(`${dir}/blobs/sha256`, { recursive: true });
  const blobs = [...allBlobs(image), ...index.images.flatMap(allBlobs), index.index];
  for (const b of blobs) {
    await Deno.writeFile(`${dir}/blobs/sha256/${b.desc.digest.slice(7)}`, b.bytes);
  }
  await Deno.writeTextFile(`${dir}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const ref = (desc: TestBlob["desc"], name: string) => ({
    ...desc,
    annotations: { "org.opencontainers.image.ref.name": name },
  });
  await Deno.writeTextFile(
    `${dir}/index.json`,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [ref(image.manifest.desc, "1.0"), ref(index.index.desc, "multi")],
    }),
  );
}

/** The v2 tree without upload state, which differs by design (uuids, hash states). */
async function comparableTree(root: string): Promise<Map<string, TreeEntry>> {
  const tree = await listTree(`${root}/docker/registry/v2`);
  for (const path of [...tree.keys()]) {
    if (/\/_uploads\/./.test(path)) tree.delete(path);
  }
  return tree;
}

Deno.test({
  name: "docker-registry serves a directory ferry wrote; skopeo reads every image",
  ignore,
  sanitizeResources: false,
  async fn() {
    requirePeers();
    await withTemp(async (tmp) => {
      const root = `${tmp}/registry`;
      const image = makeImage();
      const index = makeIndex();
      const dir = await RegistryDir.open(root);
      await pushImage(dir.repository("library/app"), image, "1.0");
      await pushIndex(dir.repository("multi/arch"), index, "1.0");
      await dir.close();

      const registry = await startRegistry(root, tmp);
      try {
        const base = `docker://${registry.host}`;
        const raw = await skopeo(
          "inspect",
          "--raw",
          "--tls-verify=false",
          `${base}/library/app:1.0`,
        );
        assert.equal(await sha256(raw), image.manifest.desc.digest);
        const rawIndex = await skopeo(
          "inspect",
          "--raw",
          "--tls-verify=false",
          `${base}/multi/arch:1.0`,
        );
        assert.equal(await sha256(rawIndex), index.index.desc.digest);
        const arm = index.images[1].manifest.desc.digest;
        const rawChild = await skopeo(
          "inspect",
          "--raw",
          "--tls-verify=false",
          `${base}/multi/arch@${arm}`,
        );
        assert.equal(await sha256(rawChild), arm);

        const inspected = JSON.parse(new TextDecoder().decode(
          await skopeo(
            "--override-arch",
            "arm64",
            "--override-os",
            "linux",
            "inspect",
            "--tls-verify=false",
            `${base}/multi/arch:1.0`,
          ),
        ));
        // skopeo reports the digest of the reference (the index) and the picked child's contents.
        assert.equal(inspected.Digest, index.index.desc.digest);
        assert.equal(inspected.Architecture, "arm64");
        assert.deepEqual(inspected.Layers, index.images[1].layers.map((l) => l.desc.digest));

        const catalog = await (await fetch(`http://${registry.host}/v2/_catalog`)).json();
        assert.deepEqual(catalog.repositories, ["library/app", "multi/arch"]);
        const tags = await (await fetch(`http://${registry.host}/v2/library/app/tags/list`)).json();
        assert.deepEqual(tags.tags, ["1.0"]);

        // skopeo copy fetches and verifies every blob of every platform, keeping the digests.
        await skopeo(
          "copy",
          "--all",
          "--preserve-digests",
          "--src-tls-verify=false",
          `${base}/multi/arch:1.0`,
          `oci:${tmp}/out-multi:x`,
        );
        const outIndex = JSON.parse(await Deno.readTextFile(`${tmp}/out-multi/index.json`));
        assert.equal(outIndex.manifests[0].digest, index.index.desc.digest);
        for (const b of index.images.flatMap(allBlobs)) {
          const copied = await Deno.readFile(
            `${tmp}/out-multi/blobs/sha256/${b.desc.digest.slice(7)}`,
          );
          assert.equal(await sha256(copied), b.desc.digest);
        }
        await skopeo(
          "copy",
          "--preserve-digests",
          "--src-tls-verify=false",
          `${base}/library/app:1.0`,
          `oci:${tmp}/out-app:x`,
        );
        const outApp = JSON.parse(await Deno.readTextFile(`${tmp}/out-app/index.json`));
        assert.equal(outApp.manifests[0].digest, image.manifest.desc.digest);
      } finally {
        await registry.stop();
      }
    });
  },
});

Deno.test({
  name: "ferry reads what docker-registry wrote, and writes the identical tree itself",
  ignore,
  sanitizeResources: false,
  async fn() {
    requirePeers();
    await withTemp(async (tmp) => {
      const image = makeImage();
      const index = makeIndex();
      await writeOciLayout(`${tmp}/layout`, image, index);

      const root2 = `${tmp}/by-registry`;
      await Deno.mkdir(root2);
      const registry = await startRegistry(root2, tmp);
      try {
        const base = `docker://${registry.host}`;
        await skopeo(
          "copy",
          "--preserve-digests",
          "--dest-tls-verify=false",
          `oci:${tmp}/layout:1.0`,
          `${base}/library/app:1.0`,
        );
        await skopeo(
          "copy",
          "--all",
          "--preserve-digests",
          "--dest-tls-verify=false",
          `oci:${tmp}/layout:multi`,
          `${base}/multi/arch:1.0`,
        );
      } finally {
        await registry.stop();
      }

      // Reader compatibility.
      const read = await RegistryDir.open(root2, { readOnly: true });
      assert.deepEqual(await read.repositories(), ["library/app", "multi/arch"]);
      const app = read.repository("library/app");
      const multi = read.repository("multi/arch");
      assert.deepEqual(await app.tags(), ["1.0"]);
      assert.deepEqual(await app.resolve("1.0"), image.manifest.desc);
      assert.deepEqual(await multi.resolve("1.0"), index.index.desc);
      const check = async (repo: typeof app, b: TestBlob) => {
        assert.equal(await repo.exists(b.desc), true, `${repo.name} has ${b.desc.digest}`);
        const bytes = await readAll(await repo.fetch(b.desc), 1 << 20, b.desc.digest);
        assert.equal(await sha256(bytes), b.desc.digest);
      };
      for (const b of allBlobs(image)) await check(app, b);
      for (const b of [index.index, ...index.images.flatMap(allBlobs)]) await check(multi, b);
      for (const child of index.images) {
        assert.deepEqual(await multi.resolve(child.manifest.desc.digest), child.manifest.desc);
      }
      await read.close();

      // Writer parity: the same content written by ferry gives the same files and links.
      const root3 = `${tmp}/by-ferry`;
      const dir = await RegistryDir.open(root3);
      await pushImage(dir.repository("library/app"), image, "1.0");
      await pushIndex(dir.repository("multi/arch"), index, "1.0");
      await dir.close();
      const theirs = await comparableTree(root2);
      const ours = await comparableTree(root3);
      assert.deepEqual([...ours.keys()], [...theirs.keys()]);
      assert.deepEqual(ours, theirs);
      const links = [...ours.keys()].filter((p) => p.endsWith("/link"));
      // library/app: 3 layer links, 1 revision, 2 tag links; multi/arch: 5, 3 and 2.
      assert.equal(links.length, 3 + 1 + 2 + 5 + 3 + 2);
      assert.deepEqual(
        (await Array.fromAsync(Deno.readDir(root3))).map((e) => e.name),
        ["docker"],
      );
    });
  },
});
