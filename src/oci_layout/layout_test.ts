import { digestOf } from "../../tests/support/digest.ts";
import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import { OCI_LAYER_GZIP, OCI_MANIFEST } from "../media_types.ts";
import { bytesSource, type ContentSource } from "../store.ts";
import { drain, makeIndex, makeTarImage, pushImage } from "../../tests/support/images.ts";
import { OciLayout, REF_NAME_ANNOTATION } from "./mod.ts";

async function withLayout(fn: (layout: OciLayout, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ferry-layout-test-" });
  const layout = await OciLayout.open(root);
  try {
    await fn(layout, root);
  } finally {
    await layout.close();
    await Deno.remove(root, { recursive: true });
  }
}

async function readIndex(root: string): Promise<{ manifests: Descriptor[] }> {
  return JSON.parse(await Deno.readTextFile(`${root}/index.json`));
}

function blobFile(root: string, desc: Descriptor): string {
  return `${root}/blobs/sha256/${desc.digest.slice(7)}`;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

function layerDesc(bytes: Uint8Array): Descriptor {
  return { mediaType: OCI_LAYER_GZIP, digest: digestOf(bytes), size: bytes.byteLength };
}

Deno.test("open creates an empty layout and refuses a missing one without create", async () => {
  await withLayout(async (_layout, root) => {
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${root}/oci-layout`)), {
      imageLayoutVersion: "1.0.0",
    });
    assert.deepEqual((await readIndex(root)).manifests, []);
    assert.ok((await Deno.stat(`${root}/blobs/sha256`)).isDirectory);
    await assert.rejects(
      OciLayout.open(`${root}/nothing`, { create: false }),
      (e) => isFerryError(e, "not_found"),
    );
    await Deno.mkdir(`${root}/bad`);
    await Deno.writeTextFile(`${root}/bad/oci-layout`, '{"imageLayoutVersion":"2.0.0"}');
    await assert.rejects(OciLayout.open(`${root}/bad`), (e) => isFerryError(e, "unsupported"));
  });
});

Deno.test("push, tag, resolve and fetch round-trip through both name views", async () => {
  await withLayout(async (layout, root) => {
    const image = await makeTarImage();
    const repo = layout.repository("localhost/app");
    await pushImage(repo, image, "1.0");

    const whole = layout.repository("");
    assert.deepEqual(await whole.tags(), ["localhost/app:1.0"]);
    assert.deepEqual(await repo.tags(), ["1.0"]);
    assert.deepEqual(await layout.repository("localhost").tags(), []);
    assert.deepEqual(await layout.repositories(), ["localhost/app"]);

    const desc = await whole.resolve("localhost/app:1.0");
    assert.equal(desc.digest, image.manifest.desc.digest);
    assert.equal(desc.mediaType, OCI_MANIFEST);
    assert.deepEqual(await repo.resolve("1.0"), desc);
    assert.deepEqual(await repo.resolve(image.manifest.desc.digest), desc);

    const entry = (await readIndex(root)).manifests[0];
    assert.equal(entry.annotations?.[REF_NAME_ANNOTATION], "localhost/app:1.0");

    for (const b of [image.manifest, image.config, ...image.layers]) {
      assert.ok(await repo.exists(b.desc));
      assert.deepEqual(await drain(await repo.fetch(b.desc)), b.bytes);
      assert.deepEqual(await Deno.readFile(blobFile(root, b.desc)), b.bytes);
    }
    const layer = image.layers[0];
    assert.deepEqual(
      await drain(await repo.fetch(layer.desc, { offset: 10 })),
      layer.bytes.subarray(10),
    );
    await assert.rejects(repo.resolve("2.0"), (e) => isFerryError(e, "not_found"));
    await assert.rejects(repo.resolve(layer.desc.digest), (e) => isFerryError(e, "not_found"));
    await assert.rejects(
      repo.fetch({ ...layer.desc, digest: await sha256("missing") }),
      (e) => isFerryError(e, "not_found"),
    );
    await assert.rejects(repo.tag(desc, "bad tag"), (e) => isFerryError(e, "invalid_reference"));
  });
});

Deno.test("a blob already present is not fetched again", async () => {
  await withLayout(async (layout) => {
    const bytes = randomBytes(1000);
    const repo = layout.repository("");
    await repo.push(layerDesc(bytes), bytesSource(bytes));
    let calls = 0;
    await repo.push(layerDesc(bytes), (offset) => {
      calls++;
      return bytesSource(bytes)(offset);
    });
    assert.equal(calls, 0);
  });
});

Deno.test("a digest or size mismatch leaves neither blob nor staging file", async () => {
  await withLayout(async (layout, root) => {
    const repo = layout.repository("");
    const good = randomBytes(5000);
    const bad = randomBytes(5000);
    const desc = layerDesc(good);
    await assert.rejects(
      repo.push(desc, bytesSource(bad)),
      (e) => isFerryError(e, "digest_mismatch"),
    );
    await assert.rejects(
      repo.push(desc, bytesSource(randomBytes(6000))),
      (e) => isFerryError(e, "size_mismatch"),
    );
    assert.equal(await exists(blobFile(root, desc)), false);
    assert.equal(await repo.exists(desc), false);
    assert.deepEqual([...Deno.readDirSync(`${root}/.ferry/tmp`)], []);
    await repo.push(desc, bytesSource(good));
    assert.deepEqual(await Deno.readFile(blobFile(root, desc)), good);
  });
});

Deno.test("a source that breaks off is reopened at the byte reached", async () => {
  await withLayout(async (layout, root) => {
    const bytes = randomBytes(300_000);
    const offsets: number[] = [];
    const flaky: ContentSource = (offset) => {
      offsets.push(offset);
      let sent = false;
      return Promise.resolve(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (!sent && offsets.length < 3) {
              sent = true;
              controller.enqueue(bytes.slice(offset, offset + 100_000));
              return;
            }
            if (offsets.length < 3) {
              controller.error(new FerryError("network", "connection reset", { retryable: true }));
              return;
            }
            controller.enqueue(bytes.slice(offset));
            controller.close();
          },
        }),
      );
    };
    const desc = layerDesc(bytes);
    await layout.repository("").push(desc, flaky);
    assert.deepEqual(offsets, [0, 100_000, 200_000]);
    assert.deepEqual(await Deno.readFile(blobFile(root, desc)), bytes);
  });
});

Deno.test("a staging file left by a crash is resumed, and discarded if wrong", async () => {
  await withLayout(async (layout, root) => {
    const bytes = randomBytes(50_000);
    const desc = layerDesc(bytes);
    await Deno.writeFile(
      `${root}/.ferry/tmp/${desc.digest.slice(7)}.partial`,
      bytes.slice(0, 20_000),
    );
    const offsets: number[] = [];
    const source: ContentSource = (offset) => {
      offsets.push(offset);
      return bytesSource(bytes)(offset);
    };
    await layout.repository("").push(desc, source);
    assert.deepEqual(offsets, [20_000]);
    assert.deepEqual(await Deno.readFile(blobFile(root, desc)), bytes);

    const other = randomBytes(50_000);
    const otherDesc = layerDesc(other);
    await Deno.writeFile(
      `${root}/.ferry/tmp/${otherDesc.digest.slice(7)}.partial`,
      randomBytes(20_000),
    );
    offsets.length = 0;
    await layout.repository("").push(otherDesc, (offset) => {
      offsets.push(offset);
      return bytesSource(other)(offset);
    });
    assert.deepEqual(offsets, [20_000, 0]);
    assert.deepEqual(await Deno.readFile(blobFile(root, otherDesc)), other);
  });
});

Deno.test("two instances pushing the same blob at once both succeed", async () => {
  await withLayout(async (a, root) => {
    const b = await OciLayout.open(root);
    try {
      const bytes = randomBytes(2_000_000);
      const desc = layerDesc(bytes);
      const slow: ContentSource = (offset) => {
        let at = offset;
        return Promise.resolve(
          new ReadableStream<Uint8Array>({
            async pull(controller) {
              await new Promise((r) => setTimeout(r, 1));
              if (at >= bytes.byteLength) return controller.close();
              controller.enqueue(bytes.slice(at, at + 100_000));
              at += 100_000;
            },
          }),
        );
      };
      await Promise.all([a.repository("").push(desc, slow), b.repository("").push(desc, slow)]);
      assert.deepEqual(await Deno.readFile(blobFile(root, desc)), bytes);
      assert.deepEqual([...Deno.readDirSync(`${root}/.ferry/tmp`)].map((e) => e.name), []);
    } finally {
      await b.close();
    }
  });
});

Deno.test("tag replaces the entry with the same ref name and keeps foreign entries", async () => {
  await withLayout(async (layout, root) => {
    const one = await makeTarImage();
    const two = await makeTarImage();
    const repo = layout.repository("localhost/app");
    await pushImage(repo, one, "1.0");
    // Another tool's entry and top-level field must survive ferry's edits.
    const doc = await readIndex(root) as Record<string, unknown> & { manifests: Descriptor[] };
    doc.annotations = { "org.example": "kept" };
    doc.manifests.push({ ...one.manifest.desc, annotations: { [REF_NAME_ANNOTATION]: "other" } });
    await Deno.writeTextFile(`${root}/index.json`, JSON.stringify(doc));

    await pushImage(repo, two, "1.0");
    const after = await readIndex(root) as Record<string, unknown> & { manifests: Descriptor[] };
    const names = after.manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]);
    assert.deepEqual(names.sort(), ["localhost/app:1.0", "other"]);
    assert.deepEqual(after.annotations, { "org.example": "kept" });
    assert.equal((await repo.resolve("1.0")).digest, two.manifest.desc.digest);

    await assert.rejects(
      repo.tag({ ...two.manifest.desc, digest: await sha256("absent") }, "2.0"),
      (e) => isFerryError(e, "not_found"),
    );
    assert.equal(await repo.untag("1.0"), true);
    assert.equal(await repo.untag("1.0"), false);
    assert.deepEqual(await layout.refNames(), ["other"]);
  });
});

Deno.test("children of a tagged index resolve by digest", async () => {
  await withLayout(async (layout) => {
    const amd = await makeTarImage({ architecture: "amd64" });
    const arm = await makeTarImage({ architecture: "arm64" });
    const index = makeIndex([amd, arm]).index;
    const repo = layout.repository("localhost/multi");
    await pushImage(repo, amd);
    await pushImage(repo, arm);
    await repo.push(index.desc, bytesSource(index.bytes));
    await repo.tag(index.desc, "1");
    assert.equal((await repo.resolve("1")).mediaType, index.desc.mediaType);
    const child = await repo.resolve(arm.manifest.desc.digest);
    assert.deepEqual(child, arm.manifest.desc);
  });
});

Deno.test("gc removes exactly the blobs no tag reaches", async () => {
  await withLayout(async (layout, root) => {
    const shared = { "etc/shared": "same in both\n" };
    const keep = await makeTarImage({ files: [shared, { "etc/keep": "k\n" }] });
    const drop = await makeTarImage({ files: [shared, { "etc/drop": "d\n" }] });
    const amd = await makeTarImage();
    const arm = await makeTarImage({ architecture: "arm64" });
    const index = makeIndex([amd, arm]).index;
    const repo = layout.repository("localhost/app");
    await pushImage(repo, keep, "keep");
    await pushImage(repo, drop, "drop");
    await pushImage(repo, amd);
    await pushImage(repo, arm);
    await repo.push(index.desc, bytesSource(index.bytes));
    await repo.tag(index.desc, "multi");
    const stray = randomBytes(100);
    await repo.push(layerDesc(stray), bytesSource(stray));
    // A crashed push's staging file (gc removes only names ferry gives its staging files).
    const leftover = `${root}/.ferry/tmp/${"a".repeat(64)}.partial`;
    await Deno.writeFile(leftover, randomBytes(10));

    await repo.untag("drop");
    // gc needs the write session of this instance to be over (it gives it up itself).
    const result = await layout.gc();
    const expected = [drop.manifest, drop.config, drop.layers[1]].map((b) => b.desc.digest);
    expected.push(layerDesc(stray).digest);
    assert.deepEqual(result.removed, expected.sort());
    assert.ok(result.freedBytes > 0);
    for (const b of [keep.manifest, keep.config, ...keep.layers, index, amd.manifest, arm.config]) {
      assert.ok(await exists(blobFile(root, b.desc)), `kept ${b.desc.digest}`);
    }
    assert.equal(await exists(leftover), false);
    assert.deepEqual((await layout.gc()).removed, []);
  });
});

Deno.test("gc: a referrer does not keep its subject; an unnamed referrer goes with it", async () => {
  await withLayout(async (layout, root) => {
    const repo = layout.repository("localhost/app");
    const signed = await makeTarImage();
    const other = await makeTarImage();
    await pushImage(repo, signed, "signed");
    await pushImage(repo, other, "other");
    /** An artifact manifest about `subject`, stored and listed without a name. */
    const referrer = async (subject: Descriptor) => {
      const payload = randomBytes(64);
      await repo.push(layerDesc(payload), bytesSource(payload));
      const bytes = new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: "application/vnd.example.signature",
        config: {
          mediaType: "application/vnd.oci.empty.v1+json",
          digest: await sha256(EMPTY),
          size: 2,
        },
        layers: [layerDesc(payload)],
        subject,
      }));
      const desc = { mediaType: OCI_MANIFEST, digest: await sha256(bytes), size: bytes.byteLength };
      await repo.push(desc, bytesSource(bytes));
      return { desc, payload: layerDesc(payload) };
    };
    const EMPTY = new TextEncoder().encode("{}");
    await repo.push(
      { mediaType: "application/vnd.oci.empty.v1+json", digest: await sha256(EMPTY), size: 2 },
      bytesSource(EMPTY),
    );
    const sig = await referrer(signed.manifest.desc);
    const sigOfSig = await referrer(sig.desc);
    // Listed as other tools list referrers in a layout: entries without a ref name.
    const index = JSON.parse(await Deno.readTextFile(`${root}/index.json`));
    index.manifests.push(sig.desc, sigOfSig.desc);
    await Deno.writeTextFile(`${root}/index.json`, JSON.stringify(index));

    assert.deepEqual((await layout.gc()).removed, [], "the signed image is there: all kept");
    await repo.untag("signed");
    const result = await layout.gc();
    const gone = [signed.manifest, signed.config, ...signed.layers].map((b) => b.desc.digest);
    gone.push(sig.desc.digest, sig.payload.digest, sigOfSig.desc.digest, sigOfSig.payload.digest);
    gone.push(await sha256(EMPTY));
    assert.deepEqual(result.removed, gone.sort());
    assert.deepEqual(
      (await readIndex(root)).manifests.map((m) => m.digest),
      [other.manifest.desc.digest],
    );
    for (const b of [other.manifest, other.config, ...other.layers]) {
      assert.ok(await exists(blobFile(root, b.desc)), `kept ${b.desc.digest}`);
    }
  });
});

Deno.test("gc refuses to run while another instance writes", async () => {
  await withLayout(async (layout, root) => {
    const writer = await OciLayout.open(root);
    const bytes = randomBytes(10);
    await writer.repository("").push(layerDesc(bytes), bytesSource(bytes));
    await assert.rejects(layout.gc(), (e) => isFerryError(e, "conflict"));
    await writer.close();
    assert.deepEqual((await layout.gc()).removed, [layerDesc(bytes).digest]);
  });
});

Deno.test("concurrent tags from two processes keep every entry", async () => {
  await withLayout(async (layout, root) => {
    const image = await makeTarImage();
    await pushImage(layout.repository(""), image);
    await layout.close();
    const mod = new URL("./mod.ts", import.meta.url).href;
    const script = (who: string) => `
      import { OciLayout } from ${JSON.stringify(mod)};
      const layout = await OciLayout.open(${JSON.stringify(root)});
      const desc = ${JSON.stringify(image.manifest.desc)};
      await Promise.all(Array.from({ length: 15 }, (_, i) =>
        layout.repository("localhost/${who}").tag(desc, "v" + i)));
      await layout.close();
    `;
    const run = (who: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-lock", script(who)],
        stdout: "inherit",
        stderr: "inherit",
      }).output();
    const results = await Promise.all([run("a"), run("b")]);
    assert.deepEqual(results.map((r) => r.code), [0, 0]);
    const reopened = await OciLayout.open(root, { create: false });
    try {
      assert.equal((await reopened.refNames()).length, 30);
      assert.deepEqual(await reopened.repositories(), ["localhost/a", "localhost/b"]);
    } finally {
      await reopened.close();
    }
  });
});

/**
 * Runs `open` against a layout whose `name` is a FIFO. Where ferry would wait for a writer
 * forever, the FIFO is opened for writing (after a while) to let it go on.
 */
async function withFifo(name: string, open: (root: string) => Promise<unknown>): Promise<unknown> {
  const root = await Deno.makeTempDir({ prefix: "ferry-layout-fifo-" });
  try {
    await Deno.writeTextFile(`${root}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
    await Deno.writeTextFile(`${root}/index.json`, '{"manifests":[]}');
    await Deno.remove(`${root}/${name}`);
    const made = await new Deno.Command("mkfifo", { args: [`${root}/${name}`] }).output();
    assert.ok(made.success, "mkfifo");
    const outcome = open(root).then(() => undefined, (err) => err);
    const timer = new Promise((r) => setTimeout(() => r("waiting"), 3000));
    if (await Promise.race([outcome, timer]) === "waiting") {
      const writer = await Deno.open(`${root}/${name}`, { write: true });
      writer.close();
    }
    return await outcome;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("a FIFO for index.json or oci-layout is refused, not waited on", async () => {
  for (const name of ["oci-layout", "index.json"]) {
    const err = await withFifo(name, async (root) => {
      const layout = await OciLayout.open(root, { create: false });
      try {
        await layout.entries();
      } finally {
        await layout.close();
      }
    });
    assert.ok(
      isFerryError(err, "invalid_input") && err.message.endsWith(`/${name}: not a regular file`),
      `${name}: ${err}`,
    );
  }
});

Deno.test("an index.json larger than 64 MiB is refused before it is read", async () => {
  await withLayout(async (layout, root) => {
    await Deno.truncate(`${root}/index.json`, 64 * 1024 * 1024 + 1); // sparse: nothing written
    await assert.rejects(
      layout.entries(),
      (e) => isFerryError(e, "too_large") && /index\.json: 67108865 bytes/.test(e.message),
    );
  });
});
