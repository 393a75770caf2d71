/**
 * What belongs to an image travels with it, in process: a signed two-platform index with an SBOM
 * (itself signed) in one ferry registry (memory store, referrers API) copied by the engine into
 * another registry, a registry directory (fallback tags) and an OCI layout (`index.json`), and
 * back; platform subsets, the switch that leaves them out, and hostile lists.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CopyEngine, type CopyEvent, type CopyOptions } from "../../src/copy/mod.ts";
import {
  fallbackTag,
  MAX_REFERRER_DEPTH,
  MAX_REFERRERS_PER_SUBJECT,
} from "../../src/copy/referrers.ts";
import type { Digest } from "../../src/digest.ts";
import { FerryError } from "../../src/errors.ts";
import type { Descriptor } from "../../src/manifest.ts";
import { OciLayout } from "../../src/oci_layout/mod.ts";
import { linkBatchProbe } from "../../src/registry_dir/fs.ts";
import { RegistryDir } from "../../src/registry_dir/mod.ts";
import { bytesSource, type Target } from "../../src/store.ts";
import { drain, makeIndex, pushImage, pushIndex, type TestIndex } from "../support/images.ts";
import {
  type MemoryRegistry,
  memoryRegistryClient,
  startMemoryRegistry,
} from "../support/memory_registry.ts";
import {
  cosignTag,
  makeArtifact,
  makeReferrersIndex,
  makeSignature,
} from "../support/referrers.ts";
import { tempDir } from "../support/tmp.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };

/** The signed image at the source, and what belongs to each part of it. */
interface Signed {
  index: TestIndex;
  /** Cosign signature of the index (tag `sha256-<index>.sig`). */
  indexSig: Descriptor;
  /** Cosign signature of the amd64 image. */
  amdSig: Descriptor;
  /** SBOM of the index (OCI 1.1 referrer). */
  sbom: Descriptor;
  /** Signature of the SBOM (OCI 1.1 referrer of the referrer). */
  sbomSig: Descriptor;
  /** SBOM of the arm64 image. */
  armSbom: Descriptor;
}

/** Pushes the signed index as `lib/app:1`. */
async function pushSigned(target: Target): Promise<Signed> {
  const index = makeIndex();
  await pushIndex(target, index, "1");
  const [amd, arm] = index.images.map((i) => i.manifest.desc);
  const indexSig = makeSignature(index.index.desc);
  await pushImage(target, indexSig, cosignTag(index.index.desc.digest, ".sig"));
  const amdSig = makeSignature(amd);
  await pushImage(target, amdSig, cosignTag(amd.digest, ".sig"));
  const sbom = makeArtifact(index.index.desc);
  await pushImage(target, sbom);
  const sbomSig = makeSignature(sbom.manifest.desc, { referrer: true });
  await pushImage(target, sbomSig);
  const armSbom = makeArtifact(arm);
  await pushImage(target, armSbom);
  return {
    index,
    indexSig: indexSig.manifest.desc,
    amdSig: amdSig.manifest.desc,
    sbom: sbom.manifest.desc,
    sbomSig: sbomSig.manifest.desc,
    armSbom: armSbom.manifest.desc,
  };
}

/** Digests in the fallback index of `subject` in `target` (empty without the tag). */
async function fallbackList(target: Target, subject: Digest): Promise<Digest[]> {
  let desc: Descriptor;
  try {
    desc = await target.resolve(fallbackTag(subject));
  } catch (err) {
    if (err instanceof FerryError && err.code === "not_found") return [];
    throw err;
  }
  const doc = JSON.parse(new TextDecoder().decode(await drain(await target.fetch(desc))));
  return (doc.manifests as Descriptor[]).map((m) => m.digest).sort();
}

/** What `target` holds for `subject` the three ways: its own list, fallback tag, cosign tags. */
async function heldFor(target: Target, subject: Digest): Promise<Digest[]> {
  const found = new Set<Digest>(await fallbackList(target, subject));
  const subjectDesc = {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: subject,
    size: 0,
  };
  for (const d of (await target.referrers?.(subjectDesc)) ?? []) found.add(d.digest);
  const tags = await target.tags();
  for (const suffix of [".sig", ".att", ".sbom"] as const) {
    const tag = cosignTag(subject, suffix);
    if (tags.includes(tag) || tags.includes(`lib/app:${tag}`)) {
      found.add((await target.resolve(tag)).digest);
    }
  }
  return [...found].sort();
}

const sorted = (...d: Digest[]) => [...d].sort();

/** Checks that `target` holds for each part of `s` exactly what the source held. */
async function assertAllHeld(target: Target, s: Signed): Promise<void> {
  const [amd, arm] = s.index.images.map((i) => i.manifest.desc.digest);
  assert.deepEqual(
    await heldFor(target, s.index.index.desc.digest),
    sorted(s.indexSig.digest, s.sbom.digest),
  );
  assert.deepEqual(await heldFor(target, amd), [s.amdSig.digest]);
  assert.deepEqual(await heldFor(target, arm), [s.armSbom.digest]);
  assert.deepEqual(await heldFor(target, s.sbom.digest), [s.sbomSig.digest]);
  for (const d of [s.indexSig, s.amdSig, s.sbom, s.sbomSig, s.armSbom]) {
    assert.ok(await target.exists(d), `${d.digest} missing`);
  }
}

async function withSource(
  fn: (ctx: {
    src: MemoryRegistry;
    signed: Signed;
    client: ReturnType<typeof memoryRegistryClient>;
    source: Target;
    events: CopyEvent[];
    engine: CopyEngine;
  }) => Promise<void>,
): Promise<void> {
  await using src = await startMemoryRegistry();
  const signed = await pushSigned(src.store.repository("lib/app"));
  const client = memoryRegistryClient();
  const events: CopyEvent[] = [];
  try {
    await fn({
      src,
      signed,
      client,
      source: client.registry(src.host).repository("lib/app"),
      events,
      engine: new CopyEngine({ onEvent: (e) => events.push(e) }),
    });
  } finally {
    await client.close();
  }
}

const ALL: CopyOptions = { platforms: [], all: true, tags: ["1"] };

Deno.test("referrers: registry to registry with the referrers API: every signature and SBOM, no fallback tags", () =>
  withSource(async ({ src, signed, client, source, engine, events }) => {
    await using dst = await startMemoryRegistry();
    const target = client.registry(dst.host).repository("lib/app");
    const result = await engine.copy(source, "1", target, ALL);
    await assertAllHeld(target, signed);
    assert.equal(result.referrers.length, 5);
    assert.deepEqual(
      result.referrers.map((r) => r.kind).sort(),
      ["sbom", "sbom", "signature", "signature", "signature"],
    );
    // The destination indexed them by subject itself: no fallback tag was needed.
    assert.ok(!(await target.tags()).some((t) => /^sha256-[0-9a-f]{64}$/.test(t)));
    assert.equal(events.filter((e) => e.type === "referrer").length, 5);
    // Where the referrers API exists it is asked once per manifest copied (3 of the image, 5
    // belonging to it), and no fallback tag is looked for.
    assert.equal(src.log.filter((e) => e.path.includes("/referrers/")).length, 8);
    assert.ok(!src.log.some((e) => /\/manifests\/sha256-[0-9a-f]{64}$/.test(e.path)));
    // Each referrer lands after its subject (pushed by digest), whatever ran alongside.
    const putAt = (digest: string) =>
      dst.log.findIndex((e) => e.method === "PUT" && e.path.endsWith(`/manifests/${digest}`));
    for (const r of result.referrers) {
      assert.ok(putAt(r.subject) >= 0 && putAt(r.subject) < putAt(r.digest), r.digest);
    }
    // The tag lands last: after the image and everything belonging to it.
    const tagPut = dst.log.findIndex((e) => e.method === "PUT" && e.path.endsWith("/manifests/1"));
    const last = dst.log.findLastIndex((e) => e.method === "PUT" && e.path.includes("/manifests/"));
    assert.equal(tagPut, last);
  }));

Deno.test("referrers: into a registry directory (fallback tags) and back out of it, nothing lost", () =>
  withSource(async ({ signed, client, source, engine }) => {
    await using tmp = await tempDir();
    const dir = await RegistryDir.open(tmp.path);
    try {
      const target = dir.repository("lib/app");
      await engine.copy(source, "1", target, ALL);
      await assertAllHeld(target, signed);
      assert.deepEqual(
        await fallbackList(target, signed.index.index.desc.digest),
        [signed.sbom.digest],
      );
      // A rerun merges into the fallback index instead of replacing it, and adds nothing twice.
      await engine.copy(source, "1", target, ALL);
      assert.deepEqual(
        await fallbackList(target, signed.index.index.desc.digest),
        [signed.sbom.digest],
      );
      // Out again into a registry: read through the fallback and cosign tags.
      await using back = await startMemoryRegistry();
      const again = client.registry(back.host).repository("lib/app");
      const result = await new CopyEngine().copy(target, "1", again, {
        ...ALL,
        skipMissingChildren: true,
      });
      assert.equal(result.referrers.length, 5);
      await assertAllHeld(again, signed);
    } finally {
      await dir.close();
    }
  }));

Deno.test("referrers: into an OCI layout (index.json entries, cosign tags as ref names) and back", () =>
  withSource(async ({ signed, client, source, engine }) => {
    await using tmp = await tempDir();
    const layout = await OciLayout.open(tmp.path);
    try {
      const target = layout.repository("");
      await engine.copy(source, "1", target, { ...ALL, tags: ["ferry.test/lib/app:1"] });
      const entries = await layout.entries();
      for (const d of [signed.sbom, signed.sbomSig, signed.armSbom]) {
        assert.ok(entries.some((e) => e.digest === d.digest && !e.annotations), d.digest);
      }
      const refs = await layout.refNames();
      assert.ok(refs.includes(cosignTag(signed.index.index.desc.digest, ".sig")), refs.join());
      await using back = await startMemoryRegistry();
      const again = client.registry(back.host).repository("lib/app");
      const result = await new CopyEngine().copy(target, "ferry.test/lib/app:1", again, ALL);
      assert.equal(result.referrers.length, 5);
      await assertAllHeld(again, signed);
    } finally {
      await layout.close();
    }
  }));

Deno.test("referrers: referrers: false copies the image alone", () =>
  withSource(async ({ signed, client, source, engine }) => {
    await using dst = await startMemoryRegistry();
    const target = client.registry(dst.host).repository("lib/app");
    const result = await engine.copy(source, "1", target, { ...ALL, referrers: false });
    assert.deepEqual(result.referrers, []);
    assert.deepEqual(await target.tags(), ["1"]);
    for (const d of [signed.indexSig, signed.amdSig, signed.sbom, signed.sbomSig]) {
      assert.equal(await target.exists(d), false);
    }
  }));

Deno.test("referrers: a platform subset takes only what belongs to what is kept", () =>
  withSource(async ({ signed, source, engine, events }) => {
    await using tmp = await tempDir();
    const dir = await RegistryDir.open(tmp.path);
    try {
      // Sparse: the original index is kept, so its signature and SBOM come too.
      const sparse = dir.repository("lib/sparse");
      const r1 = await engine.copy(source, "1", sparse, { platforms: [AMD64] });
      assert.deepEqual(
        r1.referrers.map((r) => r.digest).sort(),
        sorted(
          signed.indexSig.digest,
          signed.amdSig.digest,
          signed.sbom.digest,
          signed.sbomSig.digest,
        ),
      );
      assert.equal(await sparse.exists(signed.armSbom), false);
      // Filtered to one platform: the image replaces the index, whose referrers do not apply.
      const one = dir.repository("lib/one");
      const warnings = () => events.filter((e) => e.type === "warning");
      assert.deepEqual(warnings(), []);
      const r2 = await engine.copy(source, "1", one, { platforms: [ARM64], indexSubset: "filter" });
      assert.deepEqual(r2.referrers.map((r) => r.digest), [signed.armSbom.digest]);
      for (const d of [signed.indexSig, signed.sbom, signed.amdSig]) {
        assert.equal(await one.exists(d), false);
      }
      // ...and that is said, once, not left silent.
      const said = warnings();
      assert.equal(said.length, 1, JSON.stringify(said));
      assert.equal(
        said[0].type === "warning" && said[0].message,
        `1 signature, 1 SBOM of the index ${signed.index.index.desc.digest} left out: only some ` +
          `of its platforms are stored (as ${r2.root.digest}), which they do not name; copy ` +
          `every platform to keep them`,
      );
      // Every platform under "filter": the index is stored unchanged, and keeps them.
      const whole = dir.repository("lib/whole");
      const r3 = await engine.copy(source, "1", whole, { ...ALL, indexSubset: "filter" });
      assert.equal(r3.root.digest, signed.index.index.desc.digest);
      assert.equal(warnings().length, 1);
      await assertAllHeld(whole, signed);
    } finally {
      await dir.close();
    }
  }));

Deno.test("referrers: a listed manifest whose subject is another image is skipped with a warning", async () => {
  await using tmp = await tempDir();
  const dir = await RegistryDir.open(tmp.path);
  await using dst = await startMemoryRegistry();
  const client = memoryRegistryClient();
  try {
    const src = dir.repository("lib/app");
    const index = makeIndex();
    await pushIndex(src, index, "1");
    const other = makeIndex();
    await pushIndex(src, other, "2");
    // A genuine SBOM of the other image, listed under the first image's fallback tag.
    const foreign = makeArtifact(other.index.desc);
    await pushImage(src, foreign);
    const list = makeReferrersIndex([foreign.manifest.desc]);
    await src.push(list.desc, bytesSource(list.bytes));
    await src.tag(list.desc, fallbackTag(index.index.desc.digest));
    const events: CopyEvent[] = [];
    const target = client.registry(dst.host).repository("lib/app");
    const result = await new CopyEngine({ onEvent: (e) => events.push(e) }).copy(
      src,
      "1",
      target,
      ALL,
    );
    assert.deepEqual(result.referrers, []);
    assert.equal(await target.exists(foreign.manifest.desc), false);
    assert.ok(
      events.some((e) => e.type === "warning" && /its subject is sha256:/.test(e.message)),
      JSON.stringify(events.filter((e) => e.type === "warning")),
    );
  } finally {
    await client.close();
    await dir.close();
  }
});

Deno.test("referrers: more than the bound per image fails the image with one line", async () => {
  await using tmp = await tempDir();
  const dir = await RegistryDir.open(tmp.path);
  await using dst = await startMemoryRegistry();
  const client = memoryRegistryClient();
  try {
    const src = dir.repository("lib/app");
    const index = makeIndex();
    await pushIndex(src, index, "1");
    const fake = Array.from({ length: MAX_REFERRERS_PER_SUBJECT + 1 }, (_, i) => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: `sha256:${i.toString(16).padStart(64, "0")}` as Digest,
      size: 100,
    }));
    const list = makeReferrersIndex(fake);
    await src.push(list.desc, bytesSource(list.bytes));
    await src.tag(list.desc, fallbackTag(index.index.desc.digest));
    await assert.rejects(
      new CopyEngine().copy(src, "1", client.registry(dst.host).repository("lib/app"), ALL),
      (err: Error) =>
        err instanceof FerryError && err.code === "too_large" &&
        new RegExp(`at most ${MAX_REFERRERS_PER_SUBJECT}`).test(err.message),
    );
  } finally {
    await client.close();
    await dir.close();
  }
});

Deno.test("referrers: a chain of signatures on signatures stops at the depth bound", () =>
  withSource(async ({ src, signed, client, source }) => {
    // sig(1) on the SBOM is level 2; add levels until one more than the bound.
    let subject = signed.sbomSig;
    const chain: Descriptor[] = [];
    for (let level = 3; level <= MAX_REFERRER_DEPTH + 1; level++) {
      const sig = makeSignature(subject, { referrer: true });
      await pushImage(src.store.repository("lib/app"), sig);
      chain.push(sig.manifest.desc);
      subject = sig.manifest.desc;
    }
    await using dst = await startMemoryRegistry();
    const target = client.registry(dst.host).repository("lib/app");
    await new CopyEngine().copy(source, "1", target, ALL);
    const held = await Promise.all(chain.map((d) => target.exists(d)));
    // Levels 3..MAX are copied; the one past the bound is not.
    assert.deepEqual(held, chain.map((_, i) => i + 3 <= MAX_REFERRER_DEPTH));
  }));

/** Link files of a registry directory as one copy writes them: staged (fsynced), then renamed. */
type LinkStep = { staged: string[] } | { renamed: string };

/** Records the link batches written while `fn` runs; `renaming` may stop one, as a crash would. */
async function recordLinks<T>(
  fn: (steps: LinkStep[]) => Promise<T>,
  renaming?: (path: string, steps: LinkStep[]) => void,
): Promise<T> {
  const steps: LinkStep[] = [];
  linkBatchProbe.staged = (paths) => steps.push({ staged: paths });
  linkBatchProbe.renaming = (path) => {
    renaming?.(path, steps);
    steps.push({ renamed: path });
  };
  try {
    return await fn(steps);
  } finally {
    delete linkBatchProbe.staged;
    delete linkBatchProbe.renaming;
  }
}

/**
 * `source`, whose fetches of `held` digests wait until `open` resolves: the image's layers stay
 * on their way while everything else of the copy goes on.
 */
function holdingBlobs(source: Target, held: Set<string>, open: Promise<void>): Target {
  return {
    name: source.name,
    location: source.location,
    resolve: (reference, options) => source.resolve(reference, options),
    fetch: async (desc, options) => {
      if (held.has(desc.digest)) await open;
      return await source.fetch(desc, options);
    },
    exists: (desc) => source.exists(desc),
    push: (desc, content, options) => source.push(desc, content, options),
    tag: (desc, tag) => source.tag(desc, tag),
    tags: (options) => source.tags(options),
    referrers: (subject) => source.referrers!(subject),
  };
}

const isTagLink = (path: string) => path.includes("/_manifests/tags/");

Deno.test("referrers: into a registry directory, every tag's bytes are on disk before the image lands, and its tag lands last", () =>
  withSource(async ({ signed, source, engine }) => {
    await using tmp = await tempDir();
    const dir = await RegistryDir.open(tmp.path);
    try {
      const target = dir.repository("lib/app");
      const root = signed.index.index.desc.digest;
      // The image's own tag and the five naming what belongs to it: two cosign signatures, and
      // the fallback tags of the index, the SBOM and the arm64 image.
      const tagCount = 6;
      let open!: () => void;
      const opened = new Promise<void>((resolve) => open = resolve);
      // Bounded: on a build that stages nothing early the layers go after a while, and the
      // assertions below say what is wrong.
      const giveUp = setTimeout(open, 10_000);
      const layers = new Set(
        signed.index.images.flatMap((i) => i.layers.map((l) => l.desc.digest)),
      );
      const steps = await recordLinks(async (steps) => {
        linkBatchProbe.staged = (paths) => {
          steps.push({ staged: paths });
          const staged = steps.flatMap((s) => "staged" in s ? s.staged : []);
          if (
            staged.filter((p) => isTagLink(p) && p.endsWith("/current/link")).length >= tagCount
          ) {
            open();
          }
        };
        await engine.copy(holdingBlobs(source, layers, opened), "1", target, ALL);
        return steps;
      }).finally(() => clearTimeout(giveUp));
      const rootLanded = steps.findIndex((s) =>
        "renamed" in s && s.renamed.endsWith(`/_manifests/revisions/sha256/${root.slice(7)}/link`)
      );
      assert.ok(rootLanded >= 0);
      // Once the image is stored, no tag waits for the disk: only renames are left.
      const late = steps.slice(rootLanded).flatMap((s) => "staged" in s ? s.staged : []);
      assert.deepEqual(late.filter(isTagLink), []);
      // Every tag naming what belongs to the image before the image's own, which lands last.
      const renamed = steps.flatMap((s) => "renamed" in s ? [s.renamed] : []).filter(isTagLink);
      assert.equal(renamed.filter((p) => p.endsWith("/current/link")).length, tagCount);
      assert.ok(renamed.at(-1)!.endsWith("/_manifests/tags/1/current/link"), renamed.at(-1));
      assert.ok(renamed.at(-2)!.includes("/_manifests/tags/1/index/"), renamed.at(-2));
      await assertAllHeld(target, signed);
      assert.equal((await target.resolve("1")).digest, root);
    } finally {
      await dir.close();
    }
  }));

Deno.test("referrers: a save stopped at any rename of its tags leaves no tag naming something absent, and the image's tag only with every tag of what belongs to it", async (t) => {
  // The renames of a whole copy, counted once, then the copy again stopped before each of them.
  const total = await withSourceValue(async ({ source, engine }) => {
    await using tmp = await tempDir();
    const dir = await RegistryDir.open(tmp.path);
    try {
      return await recordLinks(async (steps) => {
        await engine.copy(source, "1", dir.repository("lib/app"), ALL);
        return steps.filter((s) => "renamed" in s && isTagLink(s.renamed)).length;
      });
    } finally {
      await dir.close();
    }
  });
  assert.ok(total >= 12, `${total} tag links`);
  for (let stop = 0; stop < total; stop++) {
    await t.step(
      `stopped before tag link ${stop + 1} of ${total}`,
      () =>
        withSource(async ({ signed, source, engine }) => {
          await using tmp = await tempDir();
          const dir = await RegistryDir.open(tmp.path);
          try {
            const target = dir.repository("lib/app");
            let seen = 0;
            const crash = new Error("stopped");
            await assert.rejects(
              recordLinks(
                () => engine.copy(source, "1", target, ALL),
                (path) => {
                  if (isTagLink(path) && seen++ === stop) throw crash;
                },
              ),
              (err) => err === crash || (err as Error).cause === crash,
            );
            // What a reader finds: every tag resolves to a manifest held whole.
            const tags = await target.tags();
            for (const tag of tags) {
              const desc = await target.resolve(tag);
              assert.ok(await target.exists(desc), `${tag} names ${desc.digest}, not held`);
              const doc = JSON.parse(
                new TextDecoder().decode(await drain(await target.fetch(desc))),
              );
              for (const child of (doc.manifests ?? []) as Descriptor[]) {
                assert.ok(await target.exists(child), `${tag} lists ${child.digest}, not held`);
              }
            }
            if (tags.includes("1")) {
              // The image's tag only once everything belonging to it is named.
              await assertAllHeld(target, signed);
            }
          } finally {
            await dir.close();
          }
        }),
    );
  }
});

/** {@link withSource}, resolving to what `fn` resolves to. */
async function withSourceValue<T>(
  fn: Parameters<typeof withSource>[0] extends (ctx: infer C) => Promise<void>
    ? (ctx: C) => Promise<T>
    : never,
): Promise<T> {
  let out!: T;
  await withSource(async (ctx) => {
    out = await fn(ctx);
  });
  return out;
}
