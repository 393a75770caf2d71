/**
 * A signed image's signature and SBOM are stored while the image's own blobs still move, and
 * named (cosign tag, fallback tag) only once the image is stored: the copy of what belongs to an
 * image overlaps the image's transfer instead of following it, and a reader never finds a
 * signature tag whose image is not there.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CopyEngine } from "../src/copy/mod.ts";
import type { Descriptor } from "../src/manifest.ts";
import { MemoryStore } from "../src/memory_store/mod.ts";
import { RegistryDir } from "../src/registry_dir/mod.ts";
import { Authenticator } from "../src/auth/mod.ts";
import { RegistryClient, SMALL_BLOB_BYTES } from "../src/remote/registry.ts";
import { startMemoryRegistry } from "./support/memory_registry.ts";
import type { ContentSource, TagRequest, Target } from "../src/store.ts";
import { makeImage, pushImage, tempDir } from "./support/mod.ts";
import { cosignTag, fallbackTagOf, makeArtifact, makeSignature } from "./support/referrers.ts";

/** Long enough for any loaded machine; reached only when the referrers wait for the image. */
const WAIT_MS = 15_000;

Deno.test("copy: a signature and an SBOM are stored while the image's layer moves; their tags land after the image", async () => {
  const source = new MemoryStore();
  const src = source.repository("lib/app");
  const image = makeImage();
  const subject = image.manifest.desc;
  await pushImage(src, image, "1");
  const sig = makeSignature(subject);
  await pushImage(src, sig, cosignTag(subject.digest, ".sig"));
  const sbom = makeArtifact(subject);
  await pushImage(src, sbom);

  await using tmp = await tempDir();
  const dir = await RegistryDir.open(tmp.path);
  try {
    const log: string[] = [];
    const referrerManifests = new Set([sig.manifest.desc.digest, sbom.manifest.desc.digest]);
    let release!: () => void;
    const referrersStored = new Promise<void>((resolve) => release = resolve);
    const inner = dir.repository("lib/app");
    const names = new Map<string, string>([
      [subject.digest, "image"],
      [sig.manifest.desc.digest, "signature"],
      [sbom.manifest.desc.digest, "sbom"],
      [image.layers[0].desc.digest, "layer"],
    ]);
    const logTag = (tag: string) =>
      log.push(`tag ${tag === fallbackTagOf(subject.digest) ? "fallback" : tag.slice(-4)}`);
    // The image's first layer is held until both referrer manifests are stored (or WAIT_MS).
    const overrides: Partial<Target> = {
      push: async (desc: Descriptor, content: ContentSource) => {
        if (desc.digest === image.layers[0].desc.digest) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const waited = await Promise.race([
            referrersStored.then(() => "stored"),
            new Promise<string>((r) => timer = setTimeout(() => r("timed out"), WAIT_MS)),
          ]);
          clearTimeout(timer);
          log.push(`layer held: ${waited}`);
        }
        await inner.push(desc, content);
        const name = names.get(desc.digest);
        if (name) log.push(`push ${name}`);
        referrerManifests.delete(desc.digest);
        if (referrerManifests.size === 0) release();
      },
      tag: async (desc: Descriptor, tag: string) => {
        await inner.tag(desc, tag);
        logTag(tag);
      },
      // Staged tags are pointed by their commit.
      stageTags: async (tags: readonly TagRequest[]) => {
        const staged = await inner.stageTags(tags);
        return {
          commit: async (after?: Promise<void>) => {
            await staged.commit(after);
            for (const { tag } of tags) logTag(tag);
          },
          discard: () => staged.discard(),
        };
      },
    };
    const dst = new Proxy(inner, {
      get: (target, key) => {
        if (key in overrides) return overrides[key as keyof Target];
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as Target;
    const engine = new CopyEngine();
    const result = await engine.copy(src, "1", dst, { platforms: [], tags: ["1"] });
    assert.equal(result.referrers.length, 2);

    const at = (entry: string) => {
      const i = log.indexOf(entry);
      assert.notEqual(i, -1, `${entry} missing from\n${log.join("\n")}`);
      return i;
    };
    // Stored before the image's layer was let through…
    assert.ok(at("push signature") < at("layer held: stored"), log.join("\n"));
    assert.ok(at("push sbom") < at("layer held: stored"), log.join("\n"));
    // …named only after the image itself.
    assert.ok(at("tag .sig") > at("push image"), log.join("\n"));
    assert.ok(at("tag fallback") > at("push image"), log.join("\n"));
    assert.ok(at("tag 1") > at("push image"), log.join("\n"));

    // And the directory reads back whole.
    assert.equal(
      (await inner.resolve(cosignTag(subject.digest, ".sig"))).digest,
      sig.manifest.desc.digest,
    );
    assert.ok((await inner.tags()).includes(fallbackTagOf(subject.digest)));
  } finally {
    await dir.close();
  }
});

Deno.test("remote: a small blob (a signature's payload) takes the next transfer slot before a waiting layer", async () => {
  await using registry = await startMemoryRegistry();
  const repo = registry.store.repository("lib/app");
  const big = makeImage({ layerSizes: [SMALL_BLOB_BYTES + 1, SMALL_BLOB_BYTES + 2] });
  await pushImage(repo, big, "1");
  const sig = makeSignature(big.manifest.desc);
  await pushImage(repo, sig);
  const client = new RegistryClient({
    auth: new Authenticator({ credentials: () => Promise.resolve(undefined) }),
    maxTransfersPerHost: 1,
  });
  try {
    const src = client.registry(registry.host).repository("lib/app");
    const [first, second] = big.layers.map((l) => l.desc);
    const small = sig.layers[0].desc;
    // The one slot is held by the first layer's body until it is read.
    const holding = await src.fetch(first);
    const order: string[] = [];
    const layer = src.fetch(second).then((s) => (order.push("layer"), s));
    const payload = src.fetch(small).then((s) => (order.push("payload"), s));
    await new Response(holding).arrayBuffer();
    await Promise.race([layer, payload]);
    // Each body read in the order the slots were given, so the other's slot frees.
    for (const next of order[0] === "payload" ? [payload, layer] : [layer, payload]) {
      await new Response(await next).arrayBuffer();
    }
    assert.deepEqual(order, ["payload", "layer"]);
  } finally {
    await client.close();
  }
});
