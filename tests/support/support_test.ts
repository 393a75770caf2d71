import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256 } from "../../src/digest.ts";
import { readAll } from "../../src/streams.ts";
import {
  type BuiltImage,
  CommandError,
  copy,
  type ImageSpec,
  inspect,
  inspectRaw,
  layerStream,
  layoutBlobPath,
  libtrustKeyId,
  makeLayout,
  missingPeers,
  parseScope,
  peer,
  peerTest,
  pushToRegistry,
  requirePeer,
  startFaultProxy,
  startRegistry,
  startTokenIssuer,
  tempDir,
} from "./mod.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };

/** An index (amd64 + arm64) and two single images, all sharing a base layer. */
const IMAGES: ImageSpec[] = [
  {
    name: "multi",
    children: [
      { platform: AMD64, layers: [{ seed: "base", size: 70_000 }, { seed: "amd", size: 3000 }] },
      { platform: ARM64, layers: [{ seed: "base", size: 70_000 }, { seed: "arm", size: 2000 }] },
    ],
  },
  { name: "one", layers: [{ seed: "base", size: 70_000 }, { seed: "one", size: 1 }] },
  { name: "two", layers: [{ seed: "base", size: 70_000 }, { seed: "two", size: 0 }] },
];

async function gunzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await readAll(stream, 1 << 30, "layer");
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CommandError, `expected a CommandError, got ${err}`);
    assert.match(err.stderr, pattern);
    return true;
  });
}

Deno.test("images: layers are deterministic gzip tars with matching diff_ids", async () => {
  await using a = await tempDir();
  await using b = await tempDir();
  const first = await makeLayout(a.path, IMAGES);
  const second = await makeLayout(b.path, IMAGES);
  assert.deepEqual(
    first.map((i) => i.digest),
    second.map((i) => i.digest),
    "same specs, same digests",
  );

  const [multi, one, two] = first;
  assert.equal(multi.kind, "index");
  assert.equal(one.kind, "manifest");
  assert.equal(two.kind, "manifest");
  const [amd, arm] = multi.children;
  assert.equal(amd.layers[0].digest, arm.layers[0].digest, "base layer shared");
  assert.equal(amd.layers[0].digest, one.layers[0].digest);
  assert.notEqual(amd.layers[1].digest, arm.layers[1].digest);
  assert.notEqual(one.digest, two.digest);

  const layer = await Deno.readFile(layoutBlobPath(a.path, arm.layers[1].digest));
  assert.equal(await sha256(layer), arm.layers[1].digest);
  assert.equal(layer.byteLength, arm.layers[1].size);
  assert.deepEqual(await readAll(layerStream({ seed: "arm", size: 2000 }), 1 << 20, "x"), layer);
  const tar = await gunzip(layer);
  assert.equal(await sha256(tar), arm.diffIds[1], "diff_id is the digest of the uncompressed tar");
  assert.equal(tar.byteLength, 512 + 2048 + 1024, "header, padded data, end blocks");
  assert.equal(new TextDecoder().decode(tar.subarray(257, 262)), "ustar");

  const config = JSON.parse(await Deno.readTextFile(layoutBlobPath(a.path, arm.config.digest)));
  assert.equal(config.architecture, "arm64");
  assert.equal(config.variant, "v8");
  assert.deepEqual(config.rootfs.diff_ids, arm.diffIds);

  const index = JSON.parse(await Deno.readTextFile(join(a.path, "index.json")));
  assert.deepEqual(
    index.manifests.map((d: { annotations: Record<string, string> }) =>
      d.annotations["org.opencontainers.image.ref.name"]
    ),
    ["multi", "one", "two"],
  );
  const rawIndex = await Deno.readFile(layoutBlobPath(a.path, multi.digest));
  assert.deepEqual(
    JSON.parse(new TextDecoder().decode(rawIndex)).manifests.map((m: { digest: string }) =>
      m.digest
    ),
    [amd.digest, arm.digest],
  );
});

Deno.test("token issuer: libtrust key ID and scope parsing", () => {
  // A fixed input: the SPKI bytes do not matter for the format, only for the value.
  const kid = libtrustKeyId(new Uint8Array(32));
  assert.match(kid, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
  assert.equal(kid, libtrustKeyId(new Uint8Array(32)));
  assert.deepEqual(parseScope("repository:library/app:pull,push"), {
    type: "repository",
    name: "library/app",
    actions: ["pull", "push"],
  });
  assert.deepEqual(parseScope("registry:catalog:*"), {
    type: "registry",
    name: "catalog",
    actions: ["*"],
  });
  assert.equal(parseScope("nonsense"), undefined);
});

Deno.test("peers: lookup and the missing-peer message", () => {
  for (const name of ["skopeo", "docker-registry", "openssl"] as const) {
    const path = peer(name);
    if (path !== undefined) {
      assert.ok(Deno.statSync(path).isFile);
      assert.equal(requirePeer(name), path);
      assert.deepEqual(missingPeers([name]), []);
    } else {
      assert.throws(() => requirePeer(name), new RegExp(`missing peer program\\(s\\): ${name}`));
    }
  }
});

peerTest("open registry: skopeo pushes an index and images; digests survive", [
  "docker-registry",
  "skopeo",
], async () => {
  await using dir = await tempDir();
  await using registry = await startRegistry({ root: dir.join("registry") });
  const built = await makeLayout(dir.join("layout"), [
    ...IMAGES,
    {
      name: "dockerlist",
      format: "docker",
      children: [
        { platform: AMD64, layers: [{ seed: "base", size: 70_000 }] },
        { platform: ARM64, layers: [{ seed: "base", size: 70_000 }] },
      ],
    },
  ]);
  for (const image of built) {
    const ref = `${registry.host}/library/${image.name}:1.0`;
    assert.equal(await pushToRegistry(dir.join("layout"), image.name, ref), image.digest);
    const raw = await inspectRaw(ref);
    assert.equal(raw.digest, image.digest, `${image.name}: raw bytes pushed unchanged`);
    assert.equal(raw.json.mediaType, image.mediaType);
    const link = join(
      registry.v2Dir,
      "repositories/library",
      image.name,
      "_manifests/tags/1.0/current/link",
    );
    assert.equal(await Deno.readTextFile(link), image.digest);
  }
  const multi = built[0];
  assert.equal(multi.kind, "index");
  const arm = multi.children[1] as BuiltImage;
  const info = await inspect(`${registry.host}/library/multi:1.0`, { overrideArch: "arm64" });
  assert.equal(info.Architecture, "arm64");
  assert.deepEqual(info.Layers, arm.layers.map((l) => l.digest));
  assert.equal(
    (await inspectRaw(`${registry.host}/library/multi@${arm.digest}`)).digest,
    arm.digest,
  );
  assert.equal(built[3].mediaType, "application/vnd.docker.distribution.manifest.list.v2+json");

  // A second, read-only registry on the same root serves the same tree and refuses pushes.
  await registry.stop();
  await using again = await startRegistry({ root: registry.root, readOnly: true });
  assert.equal((await inspectRaw(`${again.host}/library/one:1.0`)).digest, built[1].digest);
  await rejectsWith(
    pushToRegistry(dir.join("layout"), "two", `${again.host}/library/new:1`),
    /405|Method not allowed/,
  );
});

peerTest("htpasswd registry: refuses anonymous reads, accepts credentials", [
  "docker-registry",
  "skopeo",
], async () => {
  await using dir = await tempDir();
  await using registry = await startRegistry({
    auth: { htpasswd: { users: { alice: "s3cret:with colon", bob: "other" } } },
  });
  const [image] = await makeLayout(dir.path, [IMAGES[1]]);
  const ref = `${registry.host}/private/one:1`;
  await rejectsWith(pushToRegistry(dir.path, "one", ref), /unauthorized|authentication required/);
  await pushToRegistry(dir.path, "one", ref, { creds: "alice:s3cret:with colon" });
  await rejectsWith(inspectRaw(ref), /unauthorized|authentication required/);
  await rejectsWith(inspectRaw(ref, { creds: "bob:wrong" }), /unauthorized|authentication/);
  assert.equal((await inspectRaw(ref, { creds: "bob:other" })).digest, image.digest);
  const res = await fetch(`${registry.url}/v2/`);
  await res.body?.cancel();
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate") ?? "", /^Basic realm="ferry-test"/);
});

peerTest("token registry: grants the intersection of scopes and ACL", [
  "docker-registry",
  "skopeo",
  "openssl",
], async () => {
  await using dir = await tempDir();
  await using issuer = await startTokenIssuer({
    users: { alice: "alice-pw", bob: "bob-pw" },
    anonymous: true,
    acl: (account) => account === "alice" ? ["*"] : ["pull"],
  });
  await using registry = await startRegistry({ auth: { token: issuer } });
  const [image] = await makeLayout(dir.path, [IMAGES[1]]);
  const ref = `${registry.host}/team/one:1`;

  await rejectsWith(pushToRegistry(dir.path, "one", ref), /denied/);
  await rejectsWith(pushToRegistry(dir.path, "one", ref, { creds: "bob:bob-pw" }), /denied/);
  await rejectsWith(inspectRaw(ref, { creds: "alice:nope" }), /wrong user name or password/);
  const before = issuer.requests.length;
  assert.equal(
    await pushToRegistry(dir.path, "one", ref, { creds: "alice:alice-pw" }),
    image.digest,
  );
  const asked = issuer.requests.slice(before);
  const pushGrant = asked.find((r) => r.scopes.includes("repository:team/one:pull,push"));
  assert.ok(pushGrant, `scopes asked: ${JSON.stringify(asked.map((r) => r.scopes))}`);
  assert.equal(pushGrant.account, "alice");
  assert.deepEqual(pushGrant.granted, [
    { type: "repository", name: "team/one", actions: ["pull", "push"] },
  ]);

  assert.equal((await inspectRaw(ref, { creds: "bob:bob-pw" })).digest, image.digest);
  assert.equal((await inspectRaw(ref)).digest, image.digest, "anonymous pull");
  const anonymous = issuer.requests.at(-1)!;
  assert.equal(anonymous.account, undefined);

  const pullToken = issuer.mint([{ type: "repository", name: "team/one", actions: ["pull"] }]);
  assert.equal((await inspectRaw(ref, { registryToken: pullToken })).digest, image.digest);
  const foreign = issuer.mint([{ type: "repository", name: "team/one", actions: ["pull"] }], {
    issuer: "someone-else",
  });
  await rejectsWith(inspectRaw(ref, { registryToken: foreign }), /unauthorized|authentication/);
  const empty = await fetch(`${registry.url}/v2/`, {
    headers: { authorization: `Bearer ${issuer.mint([])}` },
  });
  await empty.body?.cancel();
  assert.equal(empty.status, 200, "a valid token with no access opens /v2/");
});

peerTest("fault proxy: status faults, cut blob downloads, ranges and rewritten uploads", [
  "docker-registry",
  "skopeo",
], async () => {
  await using dir = await tempDir();
  await using registry = await startRegistry();
  const [image] = await makeLayout(dir.path, [IMAGES[1]]);
  assert.equal(image.kind, "manifest");
  await using proxy = await startFaultProxy({ upstream: registry.url });

  // Pushing through the proxy: upload Locations must lead back to the proxy, not the upstream.
  await pushToRegistry(dir.path, "one", `${proxy.host}/lib/one:1`);
  const uploads = proxy.log.filter((e) => e.method === "PUT" && e.path.includes("/uploads/"));
  assert.ok(uploads.length > 0, "uploads finished through the proxy");
  assert.equal((await inspectRaw(`${registry.host}/lib/one:1`)).digest, image.digest);

  // Every 3rd request fails with 500; skopeo 1.9 does not retry blob fetches, so it fails.
  proxy.setFaults({ status500Every: 3 });
  proxy.clearLog();
  await rejectsWith(inspect(`${proxy.host}/lib/one:1`), /500/);
  assert.deepEqual(proxy.log.map((e) => e.status), [200, 200, 500]);
  assert.equal(proxy.log[2].fault, "500");

  proxy.setFaults({ status429Every: 1, retryAfterSeconds: 2, statusPath: /\/manifests\// });
  const limited = await fetch(`${proxy.url}/v2/lib/one/manifests/1`);
  await limited.body?.cancel();
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "2");

  // A cut download errors on the client side; the next GET is whole; a Range GET passes through.
  const blob = image.layers[0];
  const blobUrl = `${proxy.url}/v2/lib/one/blobs/${blob.digest}`;
  proxy.setFaults({ resetAfterBytes: { bytes: 10_000, times: 1 } });
  proxy.clearLog();
  // A body no longer than the cut is delivered whole and does not use up the fault.
  const config = image.config;
  assert.ok(config.size <= 10_000);
  const small = await fetch(`${proxy.url}/v2/lib/one/blobs/${config.digest}`);
  assert.equal(await sha256(new Uint8Array(await small.arrayBuffer())), config.digest);
  const cut = await fetch(blobUrl);
  assert.equal(cut.headers.get("content-length"), String(blob.size));
  let received = 0;
  await assert.rejects(async () => {
    for await (const chunk of cut.body!) received += chunk.byteLength;
  });
  assert.equal(received, 10_000);
  const whole = await fetch(blobUrl);
  assert.equal(await sha256(new Uint8Array(await whole.arrayBuffer())), blob.digest);
  const ranged = await fetch(blobUrl, { headers: { range: `bytes=${received}-` } });
  assert.equal(ranged.status, 206);
  assert.equal((await ranged.arrayBuffer()).byteLength, blob.size - received);
  assert.deepEqual(
    proxy.log.map((e) => [e.method, e.status, e.fault, e.range, e.bytes]),
    [
      ["GET", 200, undefined, undefined, config.size],
      ["GET", 200, "reset", undefined, 10_000],
      ["GET", 200, undefined, undefined, blob.size],
      ["GET", 206, undefined, "bytes=10000-", blob.size - 10_000],
    ],
  );

  // HEAD keeps the upstream's Content-Length.
  const head = await fetch(blobUrl, { method: "HEAD" });
  assert.equal(head.headers.get("content-length"), String(blob.size));

  // And skopeo copying out through a clean proxy gets the same bytes.
  proxy.setFaults({});
  await using out = await tempDir();
  const copied = await copy(`${proxy.host}/lib/one:1`, `oci:${out.path}:one`);
  assert.equal(copied.digest, image.digest);
});
