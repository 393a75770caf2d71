import { digestOf } from "../../tests/support/digest.ts";
import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import { OCI_LAYER_GZIP } from "../media_types.ts";
import { bytesSource, type ContentSource } from "../store.ts";
import {
  drain,
  makeIndex,
  makeTarImage,
  pushImage,
  type TestImage,
} from "../../tests/support/images.ts";
import { REF_NAME_ANNOTATION } from "../oci_layout/mod.ts";
import { ArchiveWriter, DockerArchiveReader, OciArchiveReader, openArchive } from "./mod.ts";
import { unpackWithGnuTar } from "../tar/_test_tar.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-archive-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function entries(path: string) {
  // Read back by GNU tar, as modern-tar's entries were: `header.name`, `data` of regular files.
  return (await unpackWithGnuTar(await Deno.readFile(path))).map((e) => ({
    header: { name: e.name, type: e.type },
    data: e.data,
  }));
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

function blobDesc(bytes: Uint8Array): Descriptor {
  return { mediaType: OCI_LAYER_GZIP, digest: digestOf(bytes), size: bytes.byteLength };
}

/** Streams being read right now, and the most at once (shows whether pushes overlap). */
const active = { now: 0, max: 0 };

function slowSource(bytes: Uint8Array, chunk = 50_000): ContentSource {
  return (offset) => {
    let at = offset;
    active.max = Math.max(active.max, ++active.now);
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((r) => setTimeout(r, 2));
          if (at >= bytes.byteLength) {
            active.now--;
            return controller.close();
          }
          controller.enqueue(bytes.slice(at, at + chunk));
          at += chunk;
        },
      }),
    );
  };
}

async function assertImageReadable(
  reader: OciArchiveReader | DockerArchiveReader,
  image: TestImage,
): Promise<void> {
  const target = reader.repository("");
  for (const b of [image.manifest, image.config, ...image.layers]) {
    assert.ok(await target.exists(b.desc), `exists ${b.desc.digest}`);
    assert.deepEqual(await drain(await target.fetch(b.desc)), b.bytes);
  }
}

Deno.test("oci-archive: written, renamed on close, and read back", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/out.tar`;
    const writer = await ArchiveWriter.create(path, { format: "oci-archive" });
    const one = await makeTarImage();
    const two = await makeTarImage();
    await pushImage(writer.repository("localhost/app"), one, "1.0");
    await pushImage(writer.repository(""), two, "localhost/other:2");
    // The same blob pushed again is written once.
    await writer.repository("").push(one.layers[0].desc, bytesSource(one.layers[0].bytes));
    assert.deepEqual(await writer.repositories(), ["localhost/app", "localhost/other"]);
    assert.equal(
      (await writer.repository("localhost/app").resolve("1.0")).digest,
      one.manifest.desc.digest,
    );
    assert.equal(await Deno.stat(path).then(() => true, () => false), false);
    await writer.close();
    assert.equal(await Deno.stat(`${path}.partial`).then(() => true, () => false), false);

    const names = (await entries(path)).map((e) => e.header.name);
    assert.equal(names.filter((n) => n.endsWith(one.layers[0].desc.digest.slice(7))).length, 1);
    assert.deepEqual(names.slice(-2), ["oci-layout", "index.json"]);
    assert.ok(!names.includes("manifest.json"));

    const reader = await OciArchiveReader.open(path);
    try {
      assert.deepEqual(await reader.repository("").tags(), [
        "localhost/app:1.0",
        "localhost/other:2",
      ]);
      assert.deepEqual(await reader.repository("localhost/app").tags(), ["1.0"]);
      assert.deepEqual(await reader.repositories(), ["localhost/app", "localhost/other"]);
      const desc = await reader.repository("localhost/app").resolve("1.0");
      assert.equal(desc.digest, one.manifest.desc.digest);
      assert.equal(desc.annotations?.[REF_NAME_ANNOTATION], "localhost/app:1.0");
      await assertImageReadable(reader, one);
      await assertImageReadable(reader, two);
      const images = await reader.images();
      assert.deepEqual(images.map((i) => i.names), [["localhost/app:1.0"], ["localhost/other:2"]]);
      await assert.rejects(
        reader.repository("").push(one.config.desc, bytesSource(one.config.bytes)),
        (e) => isFerryError(e, "unsupported"),
      );
    } finally {
      await reader.close();
    }
  });
});

Deno.test("a failed push leaves the archive as it was", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/out.tar`;
    const writer = await ArchiveWriter.create(path, { format: "oci-archive", spool: false });
    const image = await makeTarImage();
    const good = randomBytes(300_000);
    const desc = blobDesc(good);
    await assert.rejects(
      writer.repository("").push(desc, bytesSource(randomBytes(300_000))),
      (e) => isFerryError(e, "digest_mismatch"),
    );
    await assert.rejects(
      writer.repository("").push(desc, bytesSource(randomBytes(300_001))),
      (e) => isFerryError(e, "size_mismatch"),
    );
    assert.equal(await writer.repository("").exists(desc), false);
    await writer.repository("").push(desc, bytesSource(good));
    await pushImage(writer.repository("x"), image, "1");
    await writer.close();
    const all = await entries(path);
    const blobs = all.filter((e) => e.header.name.startsWith("blobs/sha256/") && e.data);
    assert.equal(blobs.length, 4);
    for (const e of blobs) assert.equal(await sha256(e.data!), `sha256:${e.header.name.slice(13)}`);
  });
});

Deno.test("parallel pushes are spooled and all land in the archive", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/out.tar`;
    const writer = await ArchiveWriter.create(path, { format: "oci-archive" });
    const blobs = Array.from({ length: 5 }, () => randomBytes(400_000));
    const bad = randomBytes(400_000);
    const results = await Promise.allSettled([
      ...blobs.map((b) => writer.repository("").push(blobDesc(b), slowSource(b))),
      writer.repository("").push(blobDesc(randomBytes(400_000)), slowSource(bad)),
    ]);
    assert.deepEqual(results.map((r) => r.status), [...blobs.map(() => "fulfilled"), "rejected"]);
    assert.equal(active.max, 6, "all six downloads ran at once");
    for (const b of blobs) {
      assert.deepEqual(await drain(await writer.repository("").fetch(blobDesc(b))), b);
    }
    await writer.close();
    const written = (await entries(path)).filter((e) =>
      e.header.name.startsWith("blobs/sha256/") && e.data
    );
    assert.deepEqual(
      written.map((e) => `sha256:${e.header.name.slice(13)}`).sort(),
      (await Promise.all(blobs.map((b) => sha256(b)))).sort(),
    );
    for (const e of written) {
      assert.equal(await sha256(e.data!), `sha256:${e.header.name.slice(13)}`);
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.tar"]);
  });
});

Deno.test("untagged root manifests are listed in index.json without a name", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/out.tar`;
    const writer = await ArchiveWriter.create(path, { format: "oci-archive" });
    const amd = await makeTarImage();
    const arm = await makeTarImage({ architecture: "arm64" });
    const index = makeIndex([amd, arm]).index;
    const loose = await makeTarImage();
    await pushImage(writer.repository(""), amd);
    await pushImage(writer.repository(""), arm);
    await writer.repository("").push(index.desc, bytesSource(index.bytes));
    await writer.repository("a").tag(index.desc, "multi");
    await pushImage(writer.repository(""), loose);
    await writer.close();
    const reader = await OciArchiveReader.open(path);
    try {
      const images = await reader.images();
      assert.deepEqual(
        images.map((i) => [i.descriptor.digest, i.names]),
        [[index.desc.digest, ["a:multi"]], [loose.manifest.desc.digest, []]],
      );
      assert.deepEqual(
        await reader.repository("").resolve(arm.manifest.desc.digest),
        arm.manifest.desc,
      );
    } finally {
      await reader.close();
    }
  });
});

Deno.test("docker-archive: manifest.json, refusal of indexes and bare names, round trip", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/d.tar`;
    const writer = await ArchiveWriter.create(path, { format: "docker-archive" });
    const image = await makeTarImage({ files: [{ "a": "1" }, { "b": "2" }] });
    await pushImage(writer.repository("localhost/app"), image, "1.0");
    await writer.repository("").tag(image.manifest.desc, "localhost/app:latest");
    await assert.rejects(
      writer.repository("").tag(image.manifest.desc, "latest"),
      (e) => isFerryError(e, "invalid_reference"),
    );
    const amd = await makeTarImage();
    const index = makeIndex([amd]).index;
    await pushImage(writer.repository(""), amd);
    await assert.rejects(
      writer.repository("").push(index.desc, bytesSource(index.bytes)),
      (e) => isFerryError(e, "unsupported") && /--platform/.test(e.message),
    );
    await writer.close();

    const all = await entries(path);
    const manifestJson = JSON.parse(
      new TextDecoder().decode(all.find((e) => e.header.name === "manifest.json")!.data),
    );
    const blob = (d: Descriptor) => `blobs/sha256/${d.digest.slice(7)}`;
    assert.deepEqual(manifestJson, [
      {
        Config: blob(image.config.desc),
        RepoTags: ["localhost/app:1.0", "localhost/app:latest"],
        Layers: image.layers.map((l) => blob(l.desc)),
      },
      { Config: blob(amd.config.desc), RepoTags: null, Layers: [blob(amd.layers[0].desc)] },
    ]);

    const reader = await openArchive(path);
    try {
      assert.ok(reader instanceof DockerArchiveReader);
      // The archive is also an OCI layout: the original manifest is served, digests unchanged.
      const desc = await reader.repository("localhost/app").resolve("1.0");
      assert.deepEqual(desc, image.manifest.desc);
      assert.deepEqual(await reader.repository("").resolve("@1"), amd.manifest.desc);
      await assertImageReadable(reader, image);
    } finally {
      await reader.close();
    }
    const asOci = await openArchive(path, { format: "oci-archive" });
    try {
      assert.ok(asOci instanceof OciArchiveReader);
      assert.deepEqual(await asOci.repository("").tags(), [
        "localhost/app:1.0",
        "localhost/app:latest",
      ]);
    } finally {
      await asOci.close();
    }
  });
});

Deno.test("abort removes the partial file; a second writer of the same file is refused", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/out.tar`;
    const writer = await ArchiveWriter.create(path, { format: "oci-archive" });
    await assert.rejects(
      ArchiveWriter.create(path, { format: "docker-archive" }),
      (e) => isFerryError(e, "conflict"),
    );
    const b = randomBytes(1000);
    await writer.repository("").push(blobDesc(b), bytesSource(b));
    await writer.abort();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    await assert.rejects(
      writer.repository("").push(blobDesc(randomBytes(5)), bytesSource(randomBytes(5))),
      (e) => isFerryError(e, "usage"),
    );
  });
});
