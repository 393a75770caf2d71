/**
 * Signatures and SBOMs travel with their images through every transport, against the real
 * registry: skopeo pushes a signed multi-platform image, a signed image and an SBOM'd image (an
 * OCI 1.1 artifact with `subject`, listed by its fallback tag) into docker-registry 2.8, which has
 * no referrers API. ferry then takes them `registry save` → a registry directory (served again by
 * docker-registry, which must find the cosign and fallback tags, and by ferry's server, whose
 * referrers API must list the SBOM), `copy --all` registry → registry, and `pull` → `save` →
 * `load` → `push`. At every destination each image's signatures and referrers equal the
 * source's, as skopeo reads them; `--no-referrers` leaves them out.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Digest } from "../src/digest.ts";
import type { Descriptor } from "../src/manifest.ts";
import { OciLayout } from "../src/oci_layout/mod.ts";
import { RegistryDir } from "../src/registry_dir/mod.ts";
import { serveRegistry } from "../src/server/mod.ts";
import {
  copy,
  inspectRaw,
  makeImage,
  makeIndex,
  peerTest,
  pushImage,
  pushIndex,
  requirePeer,
  run,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import {
  cosignTag,
  fallbackTagOf,
  makeArtifact,
  makeReferrersIndex,
  makeSignature,
  SPDX,
} from "./support/referrers.ts";
import { ferry, ok } from "./ferry_cli.ts";
import { bytesSource } from "../src/store.ts";

/** For each image: its repository, and for each manifest of it what belongs to that manifest. */
interface Expected {
  repo: string;
  held: Map<Digest, Digest[]>;
}

/**
 * Builds the three images and what belongs to them in an OCI layout at `dir`, and pushes them with
 * skopeo into `host` (a docker-registry): `lib/multi:1` (a two-platform index; signatures on the
 * index and its amd64 image), `lib/single:1` (signed), `lib/sbomd:1` (an SBOM listed under the
 * fallback tag, as clients write it for a registry without the referrers API).
 */
async function seed(dir: string, host: string): Promise<Expected[]> {
  const layout = await OciLayout.open(dir);
  const t = layout.repository("");
  const pushes: [string, string][] = [];
  const multi = makeIndex();
  await pushIndex(t, multi, "multi");
  pushes.push(["multi", "lib/multi:1"]);
  const [amd, arm] = multi.images.map((i) => i.manifest.desc);
  const sigIndex = makeSignature(multi.index.desc);
  await pushImage(t, sigIndex, "sig-multi");
  pushes.push(["sig-multi", `lib/multi:${cosignTag(multi.index.desc.digest, ".sig")}`]);
  const sigAmd = makeSignature(amd);
  await pushImage(t, sigAmd, "sig-amd");
  pushes.push(["sig-amd", `lib/multi:${cosignTag(amd.digest, ".sig")}`]);

  const single = makeImage();
  await pushImage(t, single, "single");
  pushes.push(["single", "lib/single:1"]);
  const sigSingle = makeSignature(single.manifest.desc);
  await pushImage(t, sigSingle, "sig-single");
  pushes.push(["sig-single", `lib/single:${cosignTag(single.manifest.desc.digest, ".sig")}`]);

  const sbomd = makeImage();
  await pushImage(t, sbomd, "sbomd");
  pushes.push(["sbomd", "lib/sbomd:1"]);
  const sbom = makeArtifact(sbomd.manifest.desc);
  await pushImage(t, sbom);
  const list = makeReferrersIndex([{ ...sbom.manifest.desc, artifactType: SPDX }]);
  await t.push(list.desc, bytesSource(list.bytes));
  await t.tag(list.desc, "fallback-sbomd");
  // With --all, the index's child (the SBOM itself) goes first.
  pushes.push(["fallback-sbomd", `lib/sbomd:${fallbackTagOf(sbomd.manifest.desc.digest)}`]);
  await layout.close();

  for (const [ref, dest] of pushes) {
    // skopeo rewrites the fallback index (its entries' digests stay): only it may change.
    await copy(`oci:${dir}:${ref}`, `docker://${host}/${dest}`, {
      all: true,
      preserveDigests: ref !== "fallback-sbomd",
    });
  }
  return [
    {
      repo: "lib/multi",
      held: new Map([
        [multi.index.desc.digest, [sigIndex.manifest.desc.digest]],
        [amd.digest, [sigAmd.manifest.desc.digest]],
        [arm.digest, []],
      ]),
    },
    {
      repo: "lib/single",
      held: new Map([[single.manifest.desc.digest, [sigSingle.manifest.desc.digest]]]),
    },
    {
      repo: "lib/sbomd",
      held: new Map([[sbomd.manifest.desc.digest, [sbom.manifest.desc.digest]]]),
    },
  ];
}

/** The tags of `host/repo`, as skopeo lists them. */
async function tagsOf(host: string, repo: string): Promise<string[]> {
  const { stdout } = await run(requirePeer("skopeo"), [
    "list-tags",
    "--tls-verify=false",
    `docker://${host}/${repo}`,
  ]);
  return (JSON.parse(stdout).Tags as string[] | null) ?? [];
}

/**
 * What a registry without the referrers API holds for `subject`, the ways clients find it, read
 * by skopeo: the manifests its cosign tags name and those its fallback tag's index lists.
 */
async function heldAt(host: string, repo: string, subject: Digest): Promise<Digest[]> {
  const tags = await tagsOf(host, repo);
  const found = new Set<Digest>();
  for (const suffix of [".sig", ".att", ".sbom"] as const) {
    const tag = cosignTag(subject, suffix);
    if (tags.includes(tag)) found.add((await inspectRaw(`${host}/${repo}:${tag}`)).digest);
  }
  if (tags.includes(fallbackTagOf(subject))) {
    const index = await inspectRaw(`${host}/${repo}:${fallbackTagOf(subject)}`);
    for (const m of index.json.manifests as Descriptor[]) {
      // Each listed manifest is really there.
      assert.equal((await inspectRaw(`${host}/${repo}@${m.digest}`)).digest, m.digest);
      found.add(m.digest);
    }
  }
  return [...found].sort();
}

/** Every image at `host` holds for each of its manifests what the source held. */
async function assertSame(host: string, expected: Expected[], repoPrefix = "") {
  for (const image of expected) {
    for (const [subject, held] of image.held) {
      assert.deepEqual(
        await heldAt(host, `${repoPrefix}${image.repo}`, subject),
        [...held].sort(),
        `${image.repo} ${subject}`,
      );
    }
  }
}

const TLS = "--tls-verify=false";

peerTest(
  "referrers: registry save keeps every signature and SBOM, served by docker-registry and by ferry's referrers API",
  ["docker-registry", "skopeo"],
  async () => {
    await using dir = await tempDir("ferry-referrers-");
    await using source = await startRegistry();
    const expected = await seed(dir.join("layout"), source.host);
    await assertSame(source.host, expected);

    const reg = dir.join("registry");
    const images = expected.map((e) => `${source.host}/${e.repo}:1`).join(",");
    const saved = ok(
      await ferry([
        "registry",
        "save",
        TLS,
        "--all",
        "--json",
        "--images",
        images,
        "--registry-dir",
        reg,
      ]),
    );
    const result = JSON.parse(saved.stdout.trimEnd().split("\n").at(-1)!);
    // Results are sorted by source: lib/multi (2 signatures), lib/sbomd (1 SBOM), lib/single.
    assert.deepEqual(
      result.images.map((i: { referrers: { kind: string }[] }) =>
        i.referrers.map((r) => r.kind).sort()
      ),
      [["signature", "signature"], ["sbom"], ["signature"]],
    );

    // docker-registry 2.8 serves the directory: cosign tags and the fallback tag are there.
    await using served = await startRegistry({ root: reg, readOnly: true });
    await assertSame(served.host, expected);

    // ferry's server answers the referrers API from the same directory.
    const server = await serveRegistry({
      store: await RegistryDir.open(reg, { readOnly: true }),
      port: 0,
    });
    try {
      const [sbomd] = expected[2].held.entries();
      const res = await fetch(
        `http://127.0.0.1:${server.addr.port}/v2/lib/sbomd/referrers/${sbomd[0]}`,
      );
      assert.equal(res.status, 200);
      const listed = (await res.json()).manifests as Descriptor[];
      assert.deepEqual(listed.map((m) => [m.digest, m.artifactType]), [[sbomd[1][0], SPDX]]);
    } finally {
      await server.shutdown();
    }

    // --no-referrers leaves them out: only the images' own tags.
    const bare = dir.join("bare");
    ok(
      await ferry([
        "registry",
        "save",
        TLS,
        "--all",
        "--no-referrers",
        "--images",
        images,
        "--registry-dir",
        bare,
      ]),
    );
    await using bareServed = await startRegistry({ root: bare, readOnly: true });
    for (const e of expected) assert.deepEqual(await tagsOf(bareServed.host, e.repo), ["1"]);
  },
);

peerTest(
  "referrers: copy --all registry to registry, and pull → save → load → push, keep every signature and SBOM",
  ["docker-registry", "skopeo"],
  async () => {
    await using dir = await tempDir("ferry-referrers-");
    await using source = await startRegistry();
    const expected = await seed(dir.join("layout"), source.host);

    await using copied = await startRegistry();
    for (const e of expected) {
      ok(
        await ferry([
          "copy",
          TLS,
          "--all",
          `docker://${source.host}/${e.repo}:1`,
          `docker://${copied.host}/${e.repo}:1`,
        ]),
      );
    }
    await assertSame(copied.host, expected);

    const s1 = ["--root", dir.join("store1")];
    const s2 = ["--root", dir.join("store2")];
    const names = expected.map((e) => `${source.host}/${e.repo}:1`);
    for (const name of names) ok(await ferry(["pull", TLS, "--all", ...s1, name]));
    const archive = join(dir.path, "images.tar");
    ok(await ferry(["save", ...s1, "-o", archive, ...names]));
    ok(await ferry(["load", ...s2, "-i", archive]));
    // What belongs to the images is not listed as images of its own.
    const listed = JSON.parse(ok(await ferry(["images", "--json", ...s2])).stdout);
    assert.deepEqual(
      listed.images.map((i: { name?: string }) => i.name).sort(),
      [...names].sort(),
    );
    const inspected = ok(await ferry(["inspect", ...s2, "--no-registry", names[0]])).stdout;
    assert.match(inspected, /^Signed: +2 signatures$/m);

    await using pushed = await startRegistry();
    for (const e of expected) {
      ok(
        await ferry([
          "push",
          TLS,
          ...s2,
          `${source.host}/${e.repo}:1`,
          `${pushed.host}/${e.repo}:1`,
        ]),
      );
    }
    await assertSame(pushed.host, expected);
  },
);

peerTest(
  "referrers: registry sync copies what belongs to each image with it, not as images of their own",
  ["docker-registry", "skopeo"],
  async () => {
    await using dir = await tempDir("ferry-referrers-");
    await using source = await startRegistry();
    const expected = await seed(dir.join("layout"), source.host);
    await using synced = await startRegistry();
    const run = ok(await ferry(["registry", "sync", "--json", TLS, source.host, synced.host]));
    const result = JSON.parse(run.stdout.trimEnd().split("\n").at(-1)!);
    assert.deepEqual([result.copied, result.failed], [3, []]);
    await assertSame(synced.host, expected);
  },
);
