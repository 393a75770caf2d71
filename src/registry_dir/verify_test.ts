import assert from "node:assert/strict";
import { makeImage, makeIndex, pushImage, pushIndex } from "../../tests/support/images.ts";
import { Layout, RegistryDir, type VerifyProblem, verifyRegistryDir } from "./mod.ts";

/** A registry directory holding `app:1.0` (an index of two images) and `web:1` (one image). */
async function withSaved(
  fn: (ctx: {
    dir: RegistryDir;
    layout: Layout;
    index: ReturnType<typeof makeIndex>;
    web: ReturnType<typeof makeImage>;
  }) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-verify-" });
  const dir = await RegistryDir.open(`${tmp}/registry`);
  try {
    const index = makeIndex();
    const web = makeImage({ layerSizes: [3000] });
    await pushIndex(dir.repository("app"), index, "1.0");
    await pushImage(dir.repository("web"), web, "1");
    await fn({ dir, layout: new Layout(dir.root), index, web });
  } finally {
    await dir.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

function summary(problems: VerifyProblem[]): string[] {
  return problems.map((p) => `${p.kind} ${p.digest ?? "-"} ${p.path}`).sort();
}

Deno.test("verify: a directory written by ferry has no problems", async () => {
  await withSaved(async ({ dir, index, web }) => {
    const report = await verifyRegistryDir(dir, { width: 2 });
    assert.deepEqual(report.problems, []);
    // index + 2 × (manifest, config, 2 layers) + web's manifest, config, layer.
    const blobs = new Set([
      index.index.desc.digest,
      ...index.images.flatMap((i) => [i.manifest, i.config, ...i.layers].map((b) => b.desc.digest)),
      ...[web.manifest, web.config, ...web.layers].map((b) => b.desc.digest),
    ]);
    assert.equal(report.blobs, blobs.size);
    assert.equal(report.repositories, 2);
    assert.equal(report.tags, 2);
  });
});

Deno.test("verify: one corrupted byte in a layer names that blob", async () => {
  await withSaved(async ({ dir, layout, web }) => {
    const layer = web.layers[0].desc.digest;
    const path = layout.blobData(layer);
    const bytes = await Deno.readFile(path);
    bytes[100] ^= 0xff;
    await Deno.writeFile(path, bytes);
    const { problems } = await verifyRegistryDir(dir);
    assert.deepEqual(summary(problems), [`corrupt-blob ${layer} ${path}`]);
    assert.match(problems[0].message, /hashes to sha256:[0-9a-f]{64}, not /);
  });
});

Deno.test("verify: a deleted blob is named with the links and manifests that need it", async () => {
  await withSaved(async ({ dir, layout, index }) => {
    const image = index.images[0];
    const config = image.config.desc.digest;
    await Deno.remove(`${layout.blobData(config)}`);
    await Deno.remove(layout.blobDir(config));
    const { problems } = await verifyRegistryDir(dir);
    const missing = problems.filter((p) => p.kind === "missing-blob");
    assert.equal(missing.length, problems.length, JSON.stringify(problems));
    assert.ok(missing.every((p) => p.digest === config));
    // The repository's link to it, and the manifest that needs it.
    assert.ok(missing.some((p) => p.path === layout.layerLink("app", config)));
    assert.ok(missing.some((p) => p.message.includes(`app@${image.manifest.desc.digest} needs`)));
  });
});

Deno.test("verify: a truncated link is named", async () => {
  await withSaved(async ({ dir, layout, web }) => {
    const layer = web.layers[0].desc.digest;
    const link = layout.layerLink("web", layer);
    await Deno.writeTextFile(link, layer.slice(0, 30));
    const { problems } = await verifyRegistryDir(dir);
    assert.deepEqual(summary(problems), [
      `bad-link ${layer} ${link}`,
      // With its link gone the manifest needs a blob web does not link.
      `missing-link ${layer} ${link}`,
    ]);
  });
});

Deno.test("verify: a tag pointing at a missing manifest is named", async () => {
  await withSaved(async ({ dir, layout, web }) => {
    const digest = web.manifest.desc.digest;
    await Deno.remove(layout.revisionLink("web", digest));
    const { problems } = await verifyRegistryDir(dir);
    const tagLink = layout.tagCurrentLink("web", "1");
    assert.ok(
      problems.some((p) =>
        p.kind === "missing-manifest" && p.path === tagLink && p.digest === digest
      ),
      JSON.stringify(problems),
    );
  });
});

Deno.test("verify: a symlinked blob is reported, not followed", async () => {
  await withSaved(async ({ dir, layout, web }) => {
    const layer = web.layers[0].desc.digest;
    const path = layout.blobData(layer);
    const outside = `${dir.root}/../outside`;
    await Deno.rename(path, outside);
    await Deno.symlink(outside, path);
    const { problems } = await verifyRegistryDir(dir);
    assert.ok(
      problems.some((p) => p.kind === "unreadable" && p.path === path),
      JSON.stringify(problems),
    );
  });
});
