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
import { RegistryClient, SMALL_TRANSFER_BYTES } from "../src/remote/registry.ts";
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

/** `promise`, or a failure saying `what` when it takes longer than `ms`. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("remote: a small blob (a signature's payload) does not wait for a layer's transfer slot", async () => {
  await using registry = await startMemoryRegistry();
  const repo = registry.store.repository("lib/app");
  const big = makeImage({
    layerSizes: [SMALL_TRANSFER_BYTES + 1, SMALL_TRANSFER_BYTES + 2],
  });
  await pushImage(repo, big, "1");
  const sig = makeSignature(big.manifest.desc);
  await pushImage(repo, sig);
  const client = new RegistryClient({
    auth: new Authenticator({ credentials: () => Promise.resolve(undefined) }),
    maxTransfersPerHost: 1,
    maxSmallTransfersPerHost: 1,
  });
  try {
    const src = client.registry(registry.host).repository("lib/app");
    const [first, second] = big.layers.map((l) => l.desc);
    const [payload, config] = [sig.layers[0].desc, sig.config.desc];
    // The one layer slot is held by the first layer's body until it is read.
    const holding = await src.fetch(first);
    let layerStarted = false;
    const layer = src.fetch(second).then((s) => (layerStarted = true, s));
    // The payload gets the one small slot while the layers' slot is held…
    const body = await within(2000, src.fetch(payload), "the payload waited for a layer's slot");
    assert.equal(layerStarted, false);
    // …and holds it: the config waits for the payload's body, not for a layer.
    let configStarted = false;
    const next = src.fetch(config).then((s) => (configStarted = true, s));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(configStarted, false);
    assert.equal((await new Response(body).arrayBuffer()).byteLength, payload.size);
    assert.equal((await new Response(await next).arrayBuffer()).byteLength, sig.config.desc.size);
    assert.equal(layerStarted, false);
    await new Response(holding).arrayBuffer();
    assert.equal((await new Response(await layer).arrayBuffer()).byteLength, second.size);
  } finally {
    await client.close();
  }
});
