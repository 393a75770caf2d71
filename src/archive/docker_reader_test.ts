import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import { parseManifest } from "../manifest.ts";
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_MANIFEST,
  OCI_INDEX,
  OCI_LAYER_TAR,
  OCI_MANIFEST,
} from "../media_types.ts";
import { drain, makeTarImage, type TestImage } from "../../tests/support/images.ts";
import { packWithGnuTar } from "../tar/_test_tar.ts";
import { sampleArchive, tarFrom, tarMembers } from "../../tests/support/fuzz_archive.ts";
import { recordingOpens } from "../../tests/support/open_spy.ts";
import { DOCKER_LAYER_TAR, DockerArchiveReader, openArchive } from "./mod.ts";

type Files = { name: string; data?: Uint8Array | string; link?: string }[];

async function writeTar(path: string, files: Files): Promise<void> {
  await Deno.writeFile(
    path,
    await packWithGnuTar(files.map((f) => f.link ? { name: f.name, symlink: f.link } : f)),
  );
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(s).arrayBuffer());
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** The files of a pre-25 `docker save` (uncompressed `<id>/layer.tar`) for `image`. */
async function classicFiles(image: TestImage, tags: string[], gzipLayers = false): Promise<Files> {
  const files: Files = [];
  const layerPaths: string[] = [];
  for (const [i, layer] of image.layers.entries()) {
    const id = (await sha256(`v1-${i}-${layer.diffId}`)).slice(7);
    files.push({ name: `${id}/VERSION`, data: "1.0" });
    files.push({ name: `${id}/json`, data: JSON.stringify({ id }) });
    files.push({
      name: `${id}/layer.tar`,
      data: gzipLayers ? layer.bytes : await gunzip(layer.bytes),
    });
    layerPaths.push(`${id}/layer.tar`);
  }
  const configName = `${image.config.desc.digest.slice(7)}.json`;
  files.push({ name: configName, data: image.config.bytes });
  files.push({
    name: "manifest.json",
    data: JSON.stringify([{ Config: configName, RepoTags: tags, Layers: layerPaths }]),
  });
  files.push({ name: "repositories", data: "{}" });
  return files;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-docker-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("classic docker save: a schema 2 manifest is synthesised from diff IDs", async () => {
  await withDir(async (dir) => {
    const image = await makeTarImage({ files: [{ a: "1" }, { b: "2" }] });
    const path = `${dir}/classic.tar`;
    await writeTar(path, await classicFiles(image, ["busybox:latest", "busybox:1.36"]));
    const reader = await DockerArchiveReader.open(path);
    try {
      assert.deepEqual(await reader.repositories(), ["busybox"]);
      assert.deepEqual(await reader.repository("busybox").tags(), ["1.36", "latest"]);
      const desc = await reader.repository("").resolve("busybox:latest");
      assert.equal(desc.mediaType, DOCKER_MANIFEST);
      assert.deepEqual(await reader.repository("busybox").resolve("1.36"), desc);
      assert.deepEqual(await reader.repository("").resolve("@0"), desc);
      assert.deepEqual(await reader.repository("").resolve(desc.digest), desc);
      await assert.rejects(
        reader.repository("").resolve("@1"),
        (e) => isFerryError(e, "not_found"),
      );
      await assert.rejects(
        reader.repository("busybox").resolve("2"),
        (e) => isFerryError(e, "not_found"),
      );

      const bytes = await drain(await reader.repository("").fetch(desc));
      assert.equal(await sha256(bytes), desc.digest);
      const manifest = parseManifest(bytes, undefined, "test");
      assert.equal(manifest.kind, "manifest");
      if (manifest.kind !== "manifest") return;
      assert.deepEqual(manifest.config, {
        mediaType: DOCKER_CONFIG,
        digest: image.config.desc.digest,
        size: image.config.desc.size,
      });
      assert.deepEqual(manifest.layers.map((l) => [l.mediaType, l.digest]), [
        [DOCKER_LAYER_TAR, image.layers[0].diffId],
        [DOCKER_LAYER_TAR, image.layers[1].diffId],
      ]);
      for (const [i, l] of manifest.layers.entries()) {
        const data = await drain(await reader.repository("").fetch(l));
        assert.equal(await sha256(data), l.digest);
        assert.deepEqual(data, await gunzip(image.layers[i].bytes));
      }
      assert.deepEqual(
        await drain(await reader.repository("").fetch(manifest.config)),
        image.config.bytes,
      );
      assert.deepEqual(await reader.images(), [{
        descriptor: desc,
        names: ["busybox:latest", "busybox:1.36"],
      }]);
    } finally {
      await reader.close();
    }
  });
});

Deno.test("synthesize: oci makes an OCI manifest over the same blobs", async () => {
  await withDir(async (dir) => {
    const image = await makeTarImage();
    const path = `${dir}/classic.tar`;
    await writeTar(path, await classicFiles(image, ["app:1"]));
    const reader = await DockerArchiveReader.open(path, { synthesize: "oci" });
    try {
      const desc = await reader.repository("").resolve("app:1");
      assert.equal(desc.mediaType, OCI_MANIFEST);
      const manifest = parseManifest(
        await drain(await reader.repository("").fetch(desc)),
        undefined,
        "t",
      );
      assert.ok(manifest.kind === "manifest");
      assert.deepEqual(manifest.config, image.config.desc);
      assert.deepEqual(manifest.layers.map((l) => [l.mediaType, l.digest]), [
        [OCI_LAYER_TAR, image.layers[0].diffId],
      ]);
    } finally {
      await reader.close();
    }
  });
});

Deno.test("classic archive with gzip layers, gzip-compressed as a whole", async () => {
  await withDir(async (dir) => {
    const image = await makeTarImage();
    const path = `${dir}/classic.tar.gz`;
    await writeTar(`${dir}/plain.tar`, await classicFiles(image, ["app:1"], true));
    await Deno.writeFile(path, await gzip(await Deno.readFile(`${dir}/plain.tar`)));
    const reader = await openArchive(path);
    try {
      const desc = await reader.repository("app").resolve("1");
      const manifest = parseManifest(
        await drain(await reader.repository("").fetch(desc)),
        undefined,
        "test",
      );
      assert.ok(manifest.kind === "manifest");
      // A gzip layer's digest is the file's (hashed), not the diff ID.
      assert.deepEqual(manifest.layers, [{
        ...image.layers[0].desc,
        mediaType: DOCKER_LAYER_GZIP,
      }]);
      assert.deepEqual(
        await drain(await reader.repository("").fetch(manifest.layers[0])),
        image.layers[0].bytes,
      );
    } finally {
      await reader.close();
    }
  });
});

Deno.test("skopeo-style archive: <diffid>.tar files reached through symlinks", async () => {
  await withDir(async (dir) => {
    const image = await makeTarImage();
    const layer = await gunzip(image.layers[0].bytes);
    const diffHex = image.layers[0].diffId.slice(7);
    const configName = `${image.config.desc.digest.slice(7)}.json`;
    const path = `${dir}/skopeo.tar`;
    await writeTar(path, [
      { name: `${diffHex}.tar`, data: layer },
      { name: configName, data: image.config.bytes },
      { name: "legacy/layer.tar", link: `../${diffHex}.tar` },
      {
        name: "manifest.json",
        data: JSON.stringify([{
          Config: configName,
          RepoTags: ["localhost/app:1.0"],
          Layers: ["legacy/layer.tar"],
        }]),
      },
    ]);
    const reader = await DockerArchiveReader.open(path);
    try {
      const desc = await reader.repository("").resolve("localhost/app:1.0");
      const manifest = parseManifest(
        await drain(await reader.repository("").fetch(desc)),
        undefined,
        "t",
      );
      assert.ok(manifest.kind === "manifest");
      assert.equal(manifest.layers[0].digest, image.layers[0].diffId);
      assert.deepEqual(await drain(await reader.repository("").fetch(manifest.layers[0])), layer);
    } finally {
      await reader.close();
    }
  });
});

Deno.test("Docker 25 layout: the original OCI manifest is served, names from RepoTags", async () => {
  await withDir(async (dir) => {
    const image = await makeTarImage();
    // Docker 25 stores uncompressed layers in blobs/ and an OCI manifest naming them.
    const layer = await gunzip(image.layers[0].bytes);
    const layerDesc = {
      mediaType: OCI_LAYER_TAR,
      digest: await sha256(layer),
      size: layer.byteLength,
    };
    const manifestBytes = new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: image.config.desc,
      layers: [layerDesc],
    }));
    const manifestDesc = {
      mediaType: OCI_MANIFEST,
      digest: await sha256(manifestBytes),
      size: manifestBytes.byteLength,
    };
    const blob = (d: string) => `blobs/sha256/${d.slice(7)}`;
    const path = `${dir}/d25.tar`;
    await writeTar(path, [
      { name: blob(layerDesc.digest), data: layer },
      { name: blob(image.config.desc.digest), data: image.config.bytes },
      { name: blob(manifestDesc.digest), data: manifestBytes },
      {
        name: "index.json",
        data: JSON.stringify({
          schemaVersion: 2,
          manifests: [{
            ...manifestDesc,
            annotations: {
              "io.containerd.image.name": "docker.io/library/app:1",
              "org.opencontainers.image.ref.name": "1",
            },
          }],
        }),
      },
      {
        name: "manifest.json",
        data: JSON.stringify([{
          Config: blob(image.config.desc.digest),
          RepoTags: ["app:1"],
          Layers: [blob(layerDesc.digest)],
        }]),
      },
      { name: "oci-layout", data: '{"imageLayoutVersion":"1.0.0"}' },
    ]);
    const reader = await openArchive(path);
    try {
      assert.ok(reader instanceof DockerArchiveReader);
      assert.deepEqual(await reader.repository("app").resolve("1"), manifestDesc);
      assert.deepEqual(
        await drain(await reader.repository("").fetch(manifestDesc)),
        manifestBytes,
      );
      assert.deepEqual(await drain(await reader.repository("").fetch(layerDesc)), layer);
    } finally {
      await reader.close();
    }
  });
});

Deno.test("broken docker archives fail with what is missing", async () => {
  await withDir(async (dir) => {
    const image = await makeTarImage();
    const files = (await classicFiles(image, ["a:1"])).filter((f) => !f.name.endsWith("layer.tar"));
    await writeTar(`${dir}/missing.tar`, files);
    await assert.rejects(
      DockerArchiveReader.open(`${dir}/missing.tar`),
      (e) => isFerryError(e, "invalid_input") && /layer\.tar is not in the archive/.test(e.message),
    );
    await writeTar(`${dir}/none.tar`, [{ name: "hello", data: "x" }]);
    await assert.rejects(openArchive(`${dir}/none.tar`), (e) => isFerryError(e, "invalid_input"));
    await writeTar(`${dir}/badjson.tar`, [{ name: "manifest.json", data: "{" }]);
    await assert.rejects(
      DockerArchiveReader.open(`${dir}/badjson.tar`),
      (e) => isFerryError(e, "invalid_input"),
    );
  });
});

Deno.test("an OCI side listing one index many times reads it once", async () => {
  await withDir(async (dir) => {
    // A docker-archive whose index.json names the same index blob 300 times, and that index
    // names the image's manifest 300 times: each blob is read once, not once per mention.
    const members = await tarMembers(await sampleArchive(dir, "docker-archive"));
    const indexJson = members.find((m) => m.name === "index.json")!;
    const doc = JSON.parse(new TextDecoder().decode(indexJson.data));
    const { mediaType, digest, size } = doc.manifests[0];
    const inner = new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: Array(300).fill({ mediaType, digest, size }),
    }));
    const innerDigest = await sha256(inner);
    members.push({
      name: `blobs/sha256/${innerDigest.slice(7)}`,
      typeflag: "0",
      linkname: "",
      data: inner,
    });
    doc.manifests.push(
      ...Array(300).fill({ mediaType: OCI_INDEX, digest: innerDigest, size: inner.byteLength }),
    );
    indexJson.data = new TextEncoder().encode(JSON.stringify(doc));
    const path = `${dir}/fan-out.tar`;
    await Deno.writeFile(path, tarFrom(members));
    const { result: reader, opened } = await recordingOpens(() => DockerArchiveReader.open(path));
    try {
      assert.equal((await reader.images()).length, 2);
      assert.ok(opened.length < 20, `the archive was opened ${opened.length} times`);
    } finally {
      await reader.close();
    }
  });
});

Deno.test("a member named by many images and layers is read and hashed once", async () => {
  await withDir(async (dir) => {
    // 300 images of manifest.json, each naming one config and, 300 times, one gzip layer that
    // is not at blobs/sha256/<hex> (so its digest must be computed).
    const image = await makeTarImage();
    const layer = image.layers[0].bytes;
    const entry = {
      Config: "config.json",
      RepoTags: ["a:1"],
      Layers: Array(300).fill("layer.tgz"),
    };
    await writeTar(`${dir}/many.tar`, [
      { name: "config.json", data: image.config.bytes },
      { name: "layer.tgz", data: layer },
      { name: "manifest.json", data: JSON.stringify(Array(300).fill(entry)) },
    ]);
    const { result: reader, opened } = await recordingOpens(() =>
      DockerArchiveReader.open(`${dir}/many.tar`)
    );
    try {
      assert.equal((await reader.images()).length, 300);
      assert.ok(opened.length < 20, `the archive was opened ${opened.length} times`);
      assert.ok(await reader.repository("").exists(image.layers[0].desc));
    } finally {
      await reader.close();
    }
  });
});

Deno.test("an image of more layers than a manifest holds is refused before they are read", async () => {
  await withDir(async (dir) => {
    const image = await makeTarImage();
    const entry = { Config: "c.json", RepoTags: [], Layers: Array(50_000).fill("l") };
    await writeTar(`${dir}/layers.tar`, [
      { name: "c.json", data: image.config.bytes },
      { name: "l", data: image.layers[0].bytes },
      { name: "manifest.json", data: JSON.stringify([entry]) },
    ]);
    await assert.rejects(
      DockerArchiveReader.open(`${dir}/layers.tar`),
      (e) =>
        isFerryError(e, "too_large") &&
        e.message.endsWith(
          "manifest.json: image 0 has 50000 layers; its manifest would be larger than 4194304 bytes",
        ),
    );
  });
});
