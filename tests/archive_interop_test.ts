/**
 * Interop of ferry's OCI layout and archive stores with real skopeo and umoci: each side reads
 * what the other writes. A missing peer fails the test when CI=true and skips it otherwise.
 */
import assert from "node:assert/strict";
import { type Digest, sha256 } from "../src/digest.ts";
import { type Descriptor, parseManifest } from "../src/manifest.ts";
import { DOCKER_MANIFEST, MAX_MANIFEST_SIZE, OCI_MANIFEST } from "../src/media_types.ts";
import type { Target } from "../src/store.ts";
import { readAll } from "../src/streams.ts";
import { OciLayout } from "../src/oci_layout/mod.ts";
import { drain, makeTarImage, pushImage, type TestImage } from "./support/images.ts";
import {
  ArchiveWriter,
  DockerArchiveReader,
  OciArchiveReader,
  openArchive,
} from "../src/archive/mod.ts";

function havePeer(cmd: string): boolean {
  try {
    return new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** A test that needs `peers` installed (see the module doc). */
function peerTest(name: string, peers: string[], fn: (dir: string) => Promise<void>): void {
  const missing = peers.filter((p) => !havePeer(p));
  const ci = Deno.env.get("CI") === "true";
  Deno.test({
    name,
    ignore: missing.length > 0 && !ci,
    fn: async () => {
      if (missing.length > 0) throw new Error(`missing peer(s): ${missing.join(", ")}`);
      const dir = await Deno.makeTempDir({ prefix: "ferry-interop-" });
      try {
        await fn(dir);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${text.decode(out.stderr)}`);
  }
  return text.decode(out.stdout);
}

function skopeo(...args: string[]): Promise<string> {
  return run("skopeo", "--insecure-policy", ...args);
}

async function rawManifestDigest(ref: string): Promise<Digest> {
  const out = await new Deno.Command("skopeo", {
    args: ["--insecure-policy", "inspect", "--raw", ref],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return await sha256(out.stdout);
}

async function configOf(ref: string): Promise<Record<string, unknown>> {
  return JSON.parse(await skopeo("inspect", "--config", "--raw", ref));
}

async function readJson(target: Target, desc: Descriptor): Promise<Uint8Array> {
  return await readAll(await target.fetch(desc), MAX_MANIFEST_SIZE, target.location);
}

/** Copies one single-platform image between targets (blobs, manifest, tag). */
async function copyImage(src: Target, ref: string, dst: Target, tag: string): Promise<Descriptor> {
  const desc = await src.resolve(ref);
  const manifest = parseManifest(await readJson(src, desc), desc.mediaType, src.location);
  assert.equal(manifest.kind, "manifest");
  if (manifest.kind !== "manifest") throw new Error("unreachable");
  for (const blob of [manifest.config, ...manifest.layers]) {
    await dst.push(blob, (offset) => src.fetch(blob, { offset }));
  }
  await dst.push(desc, (offset) => src.fetch(desc, { offset }));
  await dst.tag(desc, tag);
  return desc;
}

async function layoutWith(dir: string, image: TestImage, refName: string): Promise<string> {
  const root = `${dir}/layout`;
  const layout = await OciLayout.open(root);
  await pushImage(layout.repository(""), image, refName);
  await layout.close();
  return root;
}

function twoLayerImage(): Promise<TestImage> {
  return makeTarImage({
    files: [{ "etc/hello": "hello from ferry\n" }, { "usr/share/ferry/v": "1\n" }],
  });
}

peerTest("skopeo and umoci read an OCI layout ferry wrote", ["skopeo", "umoci"], async (dir) => {
  const image = await twoLayerImage();
  const root = await layoutWith(dir, image, "localhost/app:1.0");
  // Two tags through the repository view, so umoci lists more than one.
  const layout = await OciLayout.open(root);
  await layout.repository("localhost/app").tag(image.manifest.desc, "latest");
  await layout.close();

  const inspect = JSON.parse(await skopeo("inspect", `oci:${root}:localhost/app:1.0`));
  assert.equal(inspect.Digest, image.manifest.desc.digest);
  assert.deepEqual(inspect.Layers, image.layers.map((l) => l.desc.digest));

  const listed = (await run("umoci", "ls", "--layout", root)).trim().split("\n").sort();
  assert.deepEqual(listed, ["localhost/app:1.0", "localhost/app:latest"]);

  const bundle = `${dir}/bundle`;
  await run("umoci", "unpack", "--rootless", "--image", `${root}:localhost/app:1.0`, bundle);
  assert.equal(await Deno.readTextFile(`${bundle}/rootfs/etc/hello`), "hello from ferry\n");
  assert.equal(await Deno.readTextFile(`${bundle}/rootfs/usr/share/ferry/v`), "1\n");

  // umoci's own garbage collection leaves ferry's files and every tagged blob alone.
  await run("umoci", "gc", "--layout", root);
  const again = await OciLayout.open(root, { create: false });
  assert.equal((await again.repository("localhost/app").resolve("1.0")).digest, inspect.Digest);
  await again.close();
  assert.ok(
    (await Deno.stat(`${root}/blobs/sha256/${image.layers[1].desc.digest.slice(7)}`)).isFile,
  );
});

peerTest("ferry and skopeo share one layout", ["skopeo", "umoci"], async (dir) => {
  const ours = await twoLayerImage();
  const root = await layoutWith(dir, ours, "localhost/ours:1");
  // skopeo adds an image to ferry's layout; umoci creates another layout ferry then reads.
  const other = `${dir}/umoci`;
  await run("umoci", "init", "--layout", other);
  await run("umoci", "new", "--image", `${other}:base`);
  await skopeo("copy", `oci:${other}:base`, `oci:${root}:localhost/theirs:2`);

  const layout = await OciLayout.open(root, { create: false });
  try {
    assert.deepEqual(await layout.refNames(), ["localhost/ours:1", "localhost/theirs:2"]);
    const theirs = await layout.repository("localhost/theirs").resolve("2");
    assert.equal(theirs.digest, await rawManifestDigest(`oci:${other}:base`));
    // ferry's own edits keep skopeo's entry.
    await layout.repository("localhost/ours").tag(ours.manifest.desc, "again");
    assert.equal((await layout.repository("").resolve("localhost/theirs:2")).digest, theirs.digest);
    // An image written by umoci is readable through ferry's layout view.
    const umociLayout = await OciLayout.open(other, { create: false });
    const desc = await umociLayout.repository("").resolve("base");
    const manifest = parseManifest(
      await readJson(umociLayout.repository(""), desc),
      desc.mediaType,
      other,
    );
    assert.equal(manifest.kind, "manifest");
    await umociLayout.close();
    // ferry's gc sees skopeo's entry as a root: nothing of either image goes.
    assert.deepEqual((await layout.gc()).removed, []);
  } finally {
    await layout.close();
  }
  assert.equal(
    await rawManifestDigest(`oci:${root}:localhost/theirs:2`),
    await rawManifestDigest(`oci:${other}:base`),
  );
  assert.equal(
    await rawManifestDigest(`oci:${root}:localhost/ours:again`),
    ours.manifest.desc.digest,
  );
});

peerTest("skopeo reads ferry's oci-archive with identical digests", ["skopeo"], async (dir) => {
  const image = await twoLayerImage();
  const file = `${dir}/app.tar`;
  const writer = await ArchiveWriter.create(file, { format: "oci-archive" });
  await pushImage(writer.repository("localhost/app"), image, "1.0");
  await writer.close();

  assert.equal(
    await rawManifestDigest(`oci-archive:${file}:localhost/app:1.0`),
    image.manifest.desc.digest,
  );
  await skopeo("copy", `oci-archive:${file}:localhost/app:1.0`, `oci:${dir}/out:x`);
  const out = JSON.parse(await Deno.readTextFile(`${dir}/out/index.json`));
  assert.equal(out.manifests[0].digest, image.manifest.desc.digest);
});

peerTest(
  "skopeo reads ferry's docker-archive (gzip layers under blobs/)",
  ["skopeo"],
  async (dir) => {
    const image = await twoLayerImage();
    const file = `${dir}/app.tar`;
    const writer = await ArchiveWriter.create(file, { format: "docker-archive" });
    await pushImage(writer.repository("localhost/app"), image, "1.0");
    await writer.close();

    // skopeo re-creates the manifest (docker-archive has none); the config and the diff IDs of the
    // (decompressed) layers must be ours.
    await skopeo("copy", `docker-archive:${file}`, `dir:${dir}/dir`);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/dir/manifest.json`));
    assert.equal(manifest.config.digest, image.config.desc.digest);
    assert.deepEqual(
      manifest.layers.map((l: Descriptor) => l.digest),
      image.layers.map((l) => l.diffId),
    );
    await skopeo("copy", `docker-archive:${file}:localhost/app:1.0`, `oci:${dir}/oci:x`);
    const config = await configOf(`oci:${dir}/oci:x`);
    assert.deepEqual(
      (config.rootfs as { diff_ids: string[] }).diff_ids,
      image.layers.map((l) => l.diffId),
    );
    assert.equal(config.architecture, "amd64");
  },
);

peerTest(
  "ferry reads skopeo's oci-archive and docker-archive",
  ["skopeo", "umoci"],
  async (dir) => {
    const image = await twoLayerImage();
    const root = await layoutWith(dir, image, "src");
    const ociFile = `${dir}/o.tar`;
    const dockerFile = `${dir}/d.tar`;
    await skopeo("copy", `oci:${root}:src`, `oci-archive:${ociFile}:localhost/app:1.0`);
    await skopeo("copy", `oci:${root}:src`, `docker-archive:${dockerFile}:localhost/app:1.0`);

    const oci = await OciArchiveReader.open(ociFile);
    try {
      const desc = await oci.repository("localhost/app").resolve("1.0");
      assert.equal(desc.digest, image.manifest.desc.digest);
      for (const b of [image.manifest, image.config, ...image.layers]) {
        assert.deepEqual(await drain(await oci.repository("").fetch(b.desc)), b.bytes);
      }
    } finally {
      await oci.close();
    }

    const docker = await openArchive(dockerFile);
    try {
      assert.ok(docker instanceof DockerArchiveReader);
      assert.deepEqual(await docker.repository("").tags(), ["localhost/app:1.0"]);
      const desc = await docker.repository("localhost/app").resolve("1.0");
      assert.equal(desc.mediaType, DOCKER_MANIFEST);
      const manifest = parseManifest(
        await readJson(docker.repository(""), desc),
        desc.mediaType,
        "d",
      );
      assert.ok(manifest.kind === "manifest");
      assert.equal(manifest.config.digest, image.config.desc.digest);
      assert.deepEqual(manifest.layers.map((l) => l.digest), image.layers.map((l) => l.diffId));
    } finally {
      await docker.close();
    }

    // Loaded into an OCI layout with an OCI manifest, the image is complete for skopeo and umoci
    // (skopeo 1.9 and umoci skip index.json entries with Docker media types).
    const asOci = await openArchive(dockerFile, { synthesize: "oci" });
    const loaded = `${dir}/loaded`;
    const layout = await OciLayout.open(loaded);
    try {
      const desc = await copyImage(
        asOci.repository(""),
        "localhost/app:1.0",
        layout.repository("localhost/app"),
        "1.0",
      );
      assert.equal(desc.mediaType, OCI_MANIFEST);
    } finally {
      await asOci.close();
      await layout.close();
    }
    const inspect = JSON.parse(await skopeo("inspect", `oci:${loaded}:localhost/app:1.0`));
    assert.deepEqual(inspect.Layers, image.layers.map((l) => l.diffId));
    await run(
      "umoci",
      "unpack",
      "--rootless",
      "--image",
      `${loaded}:localhost/app:1.0`,
      `${dir}/b`,
    );
    assert.equal(await Deno.readTextFile(`${dir}/b/rootfs/etc/hello`), "hello from ferry\n");
  },
);

peerTest(
  "an image copied layout → oci-archive → layout keeps its digest",
  ["skopeo"],
  async (dir) => {
    const image = await makeTarImage();
    const src = await OciLayout.open(`${dir}/src`);
    await pushImage(src.repository(""), image, "localhost/app:1");
    const file = `${dir}/a.tar`;
    const writer = await ArchiveWriter.create(file, { format: "oci-archive" });
    await copyImage(
      src.repository(""),
      "localhost/app:1",
      writer.repository(""),
      "localhost/app:1",
    );
    await writer.close();
    await src.close();
    const reader = await OciArchiveReader.open(file);
    const dst = await OciLayout.open(`${dir}/dst`);
    try {
      const desc = await copyImage(
        reader.repository(""),
        "localhost/app:1",
        dst.repository(""),
        "localhost/app:1",
      );
      assert.equal(desc.digest, image.manifest.desc.digest);
    } finally {
      await reader.close();
      await dst.close();
    }
    assert.equal(
      await rawManifestDigest(`oci:${dir}/dst:localhost/app:1`),
      image.manifest.desc.digest,
    );
  },
);
