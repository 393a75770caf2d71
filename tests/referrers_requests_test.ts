/**
 * What looking for signatures costs in requests: against docker-registry 2.8 (no referrers API)
 * a save asks each source repository for its tag list once, reads only the cosign and fallback
 * tags that list holds, and sends no lookup that is answered 404; a hostile tag list (endless
 * pages, a page past the byte bound, a refusal) is read no further than its bounds, and the
 * signature is then found tag by tag.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MAX_TAG_LIST_BYTES, MAX_TAG_LIST_PAGES } from "../src/copy/referrers.ts";
import { RegistryDir } from "../src/registry_dir/mod.ts";
import { defaultRegistryClient } from "../src/remote/mod.ts";
import { bytesSource } from "../src/store.ts";
import { saveImages } from "../src/transfer/save.ts";
import { startFaultProxy } from "./support/fault_proxy.ts";
import { type SeenRequest, startHostileRegistry } from "./support/hostile_registry.ts";
import { makeImage, peerTest, pushImage, startRegistry, tempDir } from "./support/mod.ts";
import { memoryRegistryClient, startMemoryRegistry } from "./support/memory_registry.ts";
import {
  cosignTag,
  fallbackTagOf,
  makeArtifact,
  makeReferrersIndex,
  makeSignature,
} from "./support/referrers.ts";

const REFERRER_TAG = /\/manifests\/sha256-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

peerTest(
  "registry save from docker-registry: one tag list per repository, and only the referrer tags it holds are read",
  ["docker-registry"],
  async () => {
    await using source = await startRegistry();
    await using proxy = await startFaultProxy({ upstream: source.url });
    await using tmp = await tempDir();
    const client = await defaultRegistryClient({ tlsVerify: false });
    try {
      const seed = client.registry(source.host);
      // Two unsigned images in one repository, one unsigned alone, one signed with an SBOM.
      await pushImage(seed.repository("lib/two"), makeImage(), "1");
      await pushImage(seed.repository("lib/two"), makeImage(), "2");
      await pushImage(seed.repository("lib/plain"), makeImage(), "1");
      const signed = makeImage();
      const repo = seed.repository("lib/signed");
      await pushImage(repo, signed, "1");
      const subject = signed.manifest.desc;
      const sig = makeSignature(subject);
      await pushImage(repo, sig, cosignTag(subject.digest, ".sig"));
      const sbom = makeArtifact(subject);
      await pushImage(repo, sbom);
      const list = makeReferrersIndex([sbom.manifest.desc]);
      await repo.push(list.desc, bytesSource(list.bytes));
      await repo.tag(list.desc, fallbackTagOf(subject.digest));

      const images = ["lib/two:1", "lib/two:2", "lib/plain:1", "lib/signed:1"];
      await saveImages({
        registryDir: tmp.path,
        images: images.map((i) => `${proxy.host}/${i}`),
        platforms: [],
        client,
      });

      const log = proxy.log;
      const tagLists = log.filter((e) => /^\/v2\/.+\/tags\/list/.test(e.path));
      assert.deepEqual(
        tagLists.map((e) => e.path.replace(/\/tags\/list.*$/, "")).sort(),
        ["/v2/lib/plain", "/v2/lib/signed", "/v2/lib/two"],
        "one tag list per repository",
      );
      // docker-registry has no referrers API: asked once for the whole save.
      assert.equal(log.filter((e) => e.path.includes("/referrers/")).length, 1);
      // Of the referrer tags only the two that exist are read, once each, with the one GET
      // that also brings the manifest; no lookup of a tag that is not there.
      const lookups = log.filter((e) => REFERRER_TAG.test(e.path));
      assert.deepEqual(
        lookups.map((e) => `${e.method} ${e.status} ${e.path}`).sort(),
        [
          `GET 200 /v2/lib/signed/manifests/${cosignTag(subject.digest, ".sig")}`,
          `GET 200 /v2/lib/signed/manifests/${fallbackTagOf(subject.digest)}`,
        ].sort(),
      );

      // And what was found arrived.
      const dir = await RegistryDir.open(tmp.path, { readOnly: true });
      try {
        const saved = dir.repository("lib/signed");
        assert.equal(
          (await saved.resolve(cosignTag(subject.digest, ".sig"))).digest,
          sig.manifest.desc.digest,
        );
        assert.ok(await saved.exists(sbom.manifest.desc));
        assert.ok((await saved.tags()).includes(fallbackTagOf(subject.digest)));
      } finally {
        await dir.close();
      }
    } finally {
      await client.close();
    }
  },
);

/**
 * A registry whose tag list `tags` answers, everything else coming from a ferry registry that
 * holds a signed image `lib/app:1` (cosign tag only; the referrers API lists nothing for it).
 */
async function withHostileTags(
  tags: (req: SeenRequest) => Response,
  check: (ctx: { requests: SeenRequest[]; found: boolean }) => void,
): Promise<void> {
  await using upstream = await startMemoryRegistry();
  const image = makeImage();
  const repo = upstream.store.repository("lib/app");
  await pushImage(repo, image, "1");
  const sig = makeSignature(image.manifest.desc);
  await pushImage(repo, sig, cosignTag(image.manifest.desc.digest, ".sig"));
  await using hostile = startHostileRegistry(async (req) => {
    if (req.url.pathname === "/v2/lib/app/tags/list") return tags(req);
    if (req.url.pathname === "/v2/") return undefined;
    const res = await fetch(`http://${upstream.host}${req.url.pathname}${req.url.search}`, {
      method: req.method,
      headers: { accept: req.headers.get("accept") ?? "*/*" },
    });
    return new Response(req.method === "HEAD" ? null : res.body, {
      status: res.status,
      headers: res.headers,
    });
  });
  await using tmp = await tempDir();
  const client = memoryRegistryClient();
  try {
    await saveImages({
      registryDir: tmp.path,
      images: [`${hostile.host}/lib/app:1`],
      platforms: [],
      client,
    });
    const dir = await RegistryDir.open(tmp.path, { readOnly: true });
    let found: boolean;
    try {
      found = (await dir.repository("lib/app").tags())
        .includes(cosignTag(image.manifest.desc.digest, ".sig"));
    } finally {
      await dir.close();
    }
    check({ requests: hostile.requests, found });
  } finally {
    await client.close();
  }
}

const tagListRequests = (requests: SeenRequest[]) =>
  requests.filter((r) => r.url.pathname.endsWith("/tags/list")).length;

Deno.test("discovery: an endless tag list is read to its page bound, then each tag is asked for", async () => {
  let page = 0;
  await withHostileTags(
    (req) =>
      new Response(JSON.stringify({ name: "lib/app", tags: [`t${page++}`] }), {
        headers: {
          "content-type": "application/json",
          link: `<${req.url.pathname}?n=1000&last=t${page}>; rel="next"`,
        },
      }),
    ({ requests, found }) => {
      assert.equal(tagListRequests(requests), MAX_TAG_LIST_PAGES);
      assert.ok(found, "the signature was not found by asking for its tag");
    },
  );
});

Deno.test("discovery: a tag list page past the byte bound is not used; each tag is asked for", async () => {
  const many = Array.from({ length: Math.ceil(MAX_TAG_LIST_BYTES / 10) }, (_, i) => `tag-${i}`);
  await withHostileTags(
    () =>
      new Response(JSON.stringify({ name: "lib/app", tags: many }), {
        headers: { "content-type": "application/json" },
      }),
    ({ requests, found }) => {
      assert.equal(tagListRequests(requests), 1);
      assert.ok(found, "the signature was not found by asking for its tag");
    },
  );
});

Deno.test("discovery: a tag list refused (401, 404) or listing nothing: each tag is asked for", async () => {
  for (const status of [401, 404, 200]) {
    await withHostileTags(
      () =>
        status === 200
          ? new Response(JSON.stringify({ name: "lib/app", tags: [] }), {
            headers: { "content-type": "application/json" },
          })
          : new Response(JSON.stringify({ errors: [{ code: "DENIED", message: "no" }] }), {
            status,
            headers: { "content-type": "application/json" },
          }),
      ({ requests, found }) => {
        assert.equal(tagListRequests(requests), 1, `status ${status}`);
        assert.ok(found, `status ${status}: the signature was not found`);
      },
    );
  }
});
