/**
 * The registry client against registries that misbehave on purpose (issue 9): redirects to local
 * files and to other schemes, challenges from origins other than the registry, pagination links and
 * upload locations on other hosts, plain-HTTP token realms and redirects from an HTTPS registry,
 * blob bodies longer than their descriptors, and indexes nested without end. Each hostile registry
 * is a small server on 127.0.0.1 scripted by the test and recording what ferry sent it.
 */
import { digestOf } from "./support/digest.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Authenticator } from "../src/auth/mod.ts";
import { type Digest, sha256 } from "../src/digest.ts";
import { FerryError } from "../src/errors.ts";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST } from "../src/media_types.ts";
import { RegistryClient } from "../src/remote/mod.ts";
import { bytesSource } from "../src/store.ts";
import {
  makeImage,
  makeLayout,
  peerTest,
  type SeenRequest,
  selfSignedCert,
  startHostileRegistry,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import { ferry } from "./ferry_cli.ts";

const encoder = new TextEncoder();
const USER = "alice";
const PASSWORD = "pa55-w0rd-never-elsewhere";
const BASIC = `Basic ${btoa(`${USER}:${PASSWORD}`)}`;

interface Blob {
  digest: Digest;
  size: number;
  bytes: Uint8Array;
}

function blob(bytes: Uint8Array | string): Blob {
  const b = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  return { digest: digestOf(b), size: b.byteLength, bytes: b };
}

/** An image manifest over a config and one layer descriptor (whose bytes the test serves). */
function imageManifest(layer: { digest: Digest; size: number }): { config: Blob; manifest: Blob } {
  const config = blob(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: {} }));
  const manifest = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
    layers: [{ mediaType: OCI_LAYER_TAR, digest: layer.digest, size: layer.size }],
  }));
  return { config, manifest };
}

/**
 * The ordinary part of a registry: manifests by tag or digest, blobs by digest (in every repository
 * but `dst`, which starts empty), and uploads that are accepted and kept in `uploads`. Returns undefined for what it does not serve.
 */
function registryRoutes(
  manifests: Map<string, Blob & { mediaType: string }>,
  blobs: Map<string, Blob>,
  uploads: { digest: string | null; body: Uint8Array }[],
) {
  for (const m of [...manifests.values()]) manifests.set(m.digest, m);
  return (req: SeenRequest): Response | undefined => {
    const path = req.url.pathname;
    let m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (m && (req.method === "GET" || req.method === "HEAD")) {
      const found = m[1] === "dst" ? undefined : manifests.get(m[2]);
      if (!found) return new Response(null, { status: 404 });
      return new Response(req.method === "HEAD" ? null : found.bytes as Uint8Array<ArrayBuffer>, {
        headers: {
          "content-type": found.mediaType,
          "docker-content-digest": found.digest,
          "content-length": String(found.size),
        },
      });
    }
    if (m && req.method === "PUT") return new Response(null, { status: 201 });
    m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path);
    if (m && (req.method === "GET" || req.method === "HEAD")) {
      const found = m[1] === "dst" ? undefined : blobs.get(m[2]);
      if (!found) return new Response(null, { status: 404 });
      return new Response(req.method === "HEAD" ? null : found.bytes as Uint8Array<ArrayBuffer>, {
        headers: { "content-length": String(found.size) },
      });
    }
    if (/\/blobs\/uploads\/$/.test(path) && req.method === "POST") {
      return new Response(null, { status: 202, headers: { location: "/upload/1" } });
    }
    if (path.startsWith("/upload/") && req.method === "PUT") {
      uploads.push({ digest: req.url.searchParams.get("digest"), body: req.body });
      return new Response(null, { status: 201 });
    }
    return undefined;
  };
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** A client with `alice`'s password for every registry. */
function clientWithPassword(options: { caCerts?: string[]; tlsVerify?: boolean } = {}) {
  const auth = new Authenticator({
    credentials: () => Promise.resolve({ kind: "basic", username: USER, password: PASSWORD }),
  });
  return new RegistryClient({
    auth,
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
    ...options,
  });
}

/** Answers 401 Basic to any request without alice's password. */
function requireBasic(req: SeenRequest): Response | undefined {
  if (req.authorization === BASIC) return undefined;
  return new Response(null, {
    status: 401,
    headers: { "www-authenticate": 'Basic realm="hostile"' },
  });
}

Deno.test("a blob redirect to a file:, data: or other non-HTTP URL is refused; the destination gets no byte of it", async (t) => {
  await using dir = await tempDir();
  const secret = encoder.encode("root:x:0:0:the-local-secret-file:/root:/bin/sh\n".repeat(8));
  const secretPath = join(dir.path, "passwd");
  await Deno.writeFile(secretPath, secret);
  for (
    const target of [
      `file://${secretPath}`,
      `data:application/octet-stream;base64,${btoa(String.fromCharCode(...secret))}`,
      `ftp://127.0.0.1/passwd`,
    ]
  ) {
    await t.step(target.slice(0, target.indexOf(":")), async () => {
      // The layer's descriptor has the secret's size, so its bytes would pass every size check.
      const layer = { digest: await sha256("what the layer should be"), size: secret.byteLength };
      const { config, manifest } = imageManifest(layer);
      const uploads: { digest: string | null; body: Uint8Array }[] = [];
      const routes = registryRoutes(
        new Map([["1", { ...manifest, mediaType: OCI_MANIFEST }]]),
        new Map([[config.digest, config]]),
        uploads,
      );
      await using reg = startHostileRegistry((req) => {
        if (req.url.pathname === `/v2/src/blobs/${layer.digest}` && req.method === "GET") {
          return new Response(null, { status: 307, headers: { location: target } });
        }
        return routes(req);
      });
      const run = await ferry(["copy", `docker://${reg.host}/src:1`, `docker://${reg.host}/dst:1`]);
      for (const { body } of uploads) assert.ok(!contains(body, secret.subarray(0, 32)), "leaked");
      assert.deepEqual(uploads.filter((u) => u.digest === layer.digest), []);
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr.trim().split("\n").at(-1)!,
        /^ferry: .*only http\(s\) URLs are followed$/,
      );
    });
  }
});

Deno.test("a blob redirect target that challenges gets neither the password nor the registry's token", async () => {
  const layer = blob("layer bytes behind a redirect");
  const { config, manifest } = imageManifest(layer);
  const registryToken = "registry-token-for-alice";
  // The redirect target: another origin with a Bearer challenge and a token endpoint of its own.
  await using cdn = startHostileRegistry((req) => {
    if (req.url.pathname === "/token") return Response.json({ token: "cdn-token" });
    return new Response(null, {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="http://${cdn.host}/token",service="cdn"` },
    });
  });
  const routes = registryRoutes(
    new Map([["1", { ...manifest, mediaType: OCI_MANIFEST }]]),
    new Map([[config.digest, config]]),
    [],
  );
  await using reg = startHostileRegistry((req) => {
    if (req.url.pathname === "/token") {
      return req.authorization === BASIC
        ? Response.json({ token: registryToken })
        : new Response(null, { status: 401 });
    }
    if (req.authorization !== `Bearer ${registryToken}`) {
      return new Response(null, {
        status: 401,
        headers: {
          "www-authenticate": `Bearer realm="http://${reg.host}/token",service="reg"`,
        },
      });
    }
    if (req.url.pathname === `/v2/app/blobs/${layer.digest}`) {
      return new Response(null, {
        status: 307,
        headers: { location: `http://${cdn.host}/blob/${layer.digest}` },
      });
    }
    return routes(req);
  });
  await using dir = await tempDir();
  const run = await ferry([
    "copy",
    "--src-creds",
    `${USER}:${PASSWORD}`,
    `docker://${reg.host}/app:1`,
    `oci:${dir.join("out")}:app`,
  ]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /asks for credentials; they are sent to the registry only/);
  assert.ok(cdn.requests.length > 0, "the redirect was not followed at all");
  for (const r of cdn.requests) {
    assert.equal(r.authorization, null, `${r.method} ${r.url.pathname} got ${r.authorization}`);
    assert.ok(!r.url.search.includes(PASSWORD));
  }
  assert.ok(!cdn.requests.some((r) => r.url.pathname === "/token"), "the CDN's realm was asked");
});

Deno.test("a tags page Link to another origin is refused, and that origin gets no Authorization", async () => {
  await using other = startHostileRegistry(() => Response.json({ name: "app", tags: ["evil"] }));
  await using reg = startHostileRegistry((req) => {
    const denied = requireBasic(req);
    if (denied) return denied;
    if (req.url.pathname === "/v2/app/tags/list") {
      return Response.json({ name: "app", tags: ["1"] }, {
        headers: { link: `<http://${other.host}/v2/app/tags/list?last=1>; rel="next"` },
      });
    }
  });
  const client = clientWithPassword();
  try {
    await assert.rejects(
      client.registry(reg.host).repository("app").tags(),
      (err: Error) => err instanceof FerryError && /another origin/.test(err.message),
    );
  } finally {
    await client.close();
  }
  assert.ok(reg.requests.some((r) => r.authorization === BASIC), "the registry got no password");
  for (const r of other.requests) assert.equal(r.authorization, null);
});

Deno.test("an upload Location on another origin gets no Authorization", async () => {
  const uploads: SeenRequest[] = [];
  await using other = startHostileRegistry((req) => {
    uploads.push(req);
    return new Response(null, { status: 201 });
  });
  await using reg = startHostileRegistry((req) => {
    const denied = requireBasic(req);
    if (denied) return denied;
    if (req.method === "HEAD") return new Response(null, { status: 404 });
    if (req.method === "POST") {
      return new Response(null, {
        status: 202,
        headers: { location: `http://${other.host}/upload/1?state=x` },
      });
    }
  });
  const content = blob("a blob pushed to a hostile registry");
  const client = clientWithPassword();
  try {
    await client.registry(reg.host).repository("app").push(
      { mediaType: OCI_LAYER_TAR, digest: content.digest, size: content.size },
      bytesSource(content.bytes),
    );
  } finally {
    await client.close();
  }
  assert.equal(uploads.length, 1);
  assert.equal(uploads[0].authorization, null);
  assert.ok(reg.requests.some((r) => r.method === "POST" && r.authorization === BASIC));
});

peerTest(
  "an HTTPS registry's plain-HTTP token realm or redirect is refused unless --tls-verify=false",
  ["openssl"],
  async () => {
    await using dir = await tempDir();
    const tls = await selfSignedCert(dir.path);
    const layer = blob("layer served over plain HTTP");
    await using plain = startHostileRegistry((req) => {
      if (req.url.pathname === "/token") return Response.json({ token: "plain-token" });
      return new Response(layer.bytes as Uint8Array<ArrayBuffer>);
    });
    const tokenRealm = `http://${plain.host}/token`;
    await using reg = startHostileRegistry((req) => {
      if (req.url.pathname.startsWith("/v2/app/blobs/")) {
        return new Response(null, {
          status: 302,
          headers: { location: `http://${plain.host}/blob` },
        });
      }
      if (req.authorization === "Bearer plain-token") return undefined;
      return new Response(null, {
        status: 401,
        headers: { "www-authenticate": `Bearer realm="${tokenRealm}",service="${reg.host}"` },
      });
    }, { tls });

    const strict = clientWithPassword({ caCerts: [tls.pem] });
    try {
      await assert.rejects(
        strict.registry(reg.host).ping(),
        (err: Error) =>
          /token realm names plain-HTTP .*refused without --tls-verify=false/.test(err.message),
      );
      assert.equal(plain.requests.length, 0, "the plain-HTTP realm was asked");
      await assert.rejects(
        strict.registry(reg.host).repository("app").fetch({
          mediaType: OCI_LAYER_TAR,
          digest: layer.digest,
          size: layer.size,
        }),
        /redirect .* names plain-HTTP/,
      );
      assert.equal(plain.requests.length, 0, "followed an https→http redirect");
    } finally {
      await strict.close();
    }

    // --tls-verify=false is the user's say-so: then both are followed.
    const lax = clientWithPassword({ caCerts: [tls.pem], tlsVerify: false });
    try {
      await lax.registry(reg.host).ping();
      const body = await new Response(
        await lax.registry(reg.host).repository("app").fetch({
          mediaType: OCI_LAYER_TAR,
          digest: layer.digest,
          size: layer.size,
        }),
      ).bytes();
      assert.equal(await sha256(body), layer.digest);
    } finally {
      await lax.close();
    }
    assert.equal(plain.requests[0].url.pathname, "/token");
    assert.equal(plain.requests[0].authorization, BASIC);
  },
);

Deno.test("a blob body longer than its descriptor fails, and the destination is never sent more than its size", async () => {
  const layer = blob("exactly the layer's bytes");
  const { config, manifest } = imageManifest(layer);
  const extra = encoder.encode("-and-then-some-bytes-the-descriptor-never-promised".repeat(2000));
  const uploads: { digest: string | null; body: Uint8Array }[] = [];
  const routes = registryRoutes(
    new Map([["1", { ...manifest, mediaType: OCI_MANIFEST }]]),
    new Map([[config.digest, config]]),
    uploads,
  );
  await using reg = startHostileRegistry((req) => {
    if (req.url.pathname === `/v2/src/blobs/${layer.digest}` && req.method === "GET") {
      // No Content-Length: the body just runs on past the blob.
      return new Response(
        new Blob([layer.bytes as Uint8Array<ArrayBuffer>, extra as Uint8Array<ArrayBuffer>])
          .stream(),
      );
    }
    return routes(req);
  });
  const run = await ferry(["copy", `docker://${reg.host}/src:1`, `docker://${reg.host}/dst:1`]);
  for (const { digest, body } of uploads) {
    if (digest === layer.digest) {
      assert.ok(body.byteLength <= layer.size, `${body.byteLength} bytes`);
    }
    assert.ok(!contains(body, extra.subarray(0, 32)), "bytes past the blob were forwarded");
  }
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /more than the blob's \d+ bytes|longer than its descriptor/);
});

/** A chain of `depth` indexes, each listing the next; the last lists a missing image. */
function indexChain(depth: number): Map<string, Blob & { mediaType: string }> {
  const out = new Map<string, Blob & { mediaType: string }>();
  let child = { mediaType: OCI_MANIFEST, digest: digestOf("missing image"), size: 100 };
  let top: Blob | undefined;
  for (let i = 0; i < depth; i++) {
    top = blob(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...child, platform: { os: "linux", architecture: "amd64" } }],
    }));
    out.set(top.digest, { ...top, mediaType: OCI_INDEX });
    child = { mediaType: OCI_INDEX, digest: top.digest, size: top.size };
  }
  out.set("1", { ...top!, mediaType: OCI_INDEX });
  return out;
}

Deno.test("an index chain nested too deep, or an index with too many children, fails fast", async () => {
  const manifests = indexChain(300);
  const wide = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: Array.from({ length: 1001 }, (_, i) => ({
      mediaType: OCI_MANIFEST,
      digest: digestOf(`child ${i}`),
      size: 100,
      platform: { os: "linux", architecture: "amd64" },
    })),
  }));
  manifests.set("wide", { ...wide, mediaType: OCI_INDEX });
  await using reg = startHostileRegistry(registryRoutes(manifests, new Map(), []));
  await using dir = await tempDir();

  const deep = await ferry(["copy", `docker://${reg.host}/chain:1`, `oci:${dir.join("out")}:x`]);
  assert.equal(deep.code, 1, deep.stderr);
  assert.match(deep.stderr.trim().split("\n").at(-1)!, /^ferry: .*nested more than 8 levels deep$/);
  const gets = reg.requests.filter((r) =>
    r.method === "GET" && r.url.pathname.includes("/manifests/")
  );
  assert.ok(gets.length <= 12, `${gets.length} manifests fetched`);

  const before = reg.requests.length;
  const fan = await ferry(["copy", `docker://${reg.host}/chain:wide`, `oci:${dir.join("out")}:y`]);
  assert.equal(fan.code, 1, fan.stderr);
  assert.match(fan.stderr, /lists 1001 manifests \(at most 1000\)/);
  const children = reg.requests.slice(before).filter((r) =>
    /\/manifests\/sha256:/.test(r.url.pathname) && !r.url.pathname.endsWith(wide.digest)
  );
  assert.equal(children.length, 0, "children were fetched");
});

peerTest(
  "copy with --cert-dir exits 0 when it succeeds and reports the real error when it fails",
  ["docker-registry", "openssl"],
  async () => {
    await using dir = await tempDir();
    const tls = await selfSignedCert(dir.path);
    await using reg = await startRegistry({ tls });
    const layout = dir.join("layout");
    const [img] = await makeLayout(layout, [{
      name: "app",
      layers: [{ seed: "tls", size: 5000 }],
    }]);
    const certDir = ["--cert-dir", tls.certDir];
    const push = await ferry([
      "copy",
      ...certDir,
      `oci:${layout}:app`,
      `docker://${reg.host}/lib/app:1`,
    ]);
    assert.equal(push.code, 0, push.stderr);
    const copy = await ferry([
      "copy",
      ...certDir,
      `docker://${reg.host}/lib/app:1`,
      `docker://${reg.host}/lib/copy:1`,
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    const pulled = await ferry([
      "copy",
      ...certDir,
      `docker://${reg.host}/lib/copy:1`,
      `oci:${dir.join("out")}:app`,
    ]);
    assert.equal(pulled.code, 0, pulled.stderr);
    const index = JSON.parse(await Deno.readTextFile(dir.join("out", "index.json")));
    assert.equal(index.manifests[0].digest, img.digest);

    const missing = await ferry([
      "copy",
      ...certDir,
      `docker://${reg.host}/lib/missing:1`,
      `docker://${reg.host}/lib/x:1`,
    ]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /lib\/missing:1: manifest unknown/);
    assert.doesNotMatch(missing.stderr, /Bad resource/);
    assert.equal(missing.stderr.trim().split("\n").length, 1, missing.stderr);

    // TLS is really on: without the certificate the registry is not trusted.
    const untrusted = await ferry([
      "copy",
      `docker://${reg.host}/lib/app:1`,
      `oci:${dir.join("o2")}:a`,
    ]);
    assert.equal(untrusted.code, 1);
    // (HTTPS fails; the loopback registry's plain-HTTP fallback is answered 400 by its TLS port.)
    assert.match(untrusted.stderr, /certificate|400 Bad Request/i);
  },
);

Deno.test("a tags page announcing more than the bound is refused at its headers, without waiting for its body", async () => {
  // The page says 4 KiB and sends 100 bytes, then stalls: a reader that waits for the bound to be
  // passed waits here until the connection times out.
  let stalled: ReadableStreamDefaultController<Uint8Array> | undefined;
  await using reg = startHostileRegistry((req) => {
    if (req.url.pathname !== "/v2/app/tags/list") return undefined;
    return new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          stalled = controller;
          controller.enqueue(encoder.encode(`{"name":"app","tags":["${"a".repeat(70)}"`));
        },
      }),
      { headers: { "content-type": "application/json", "content-length": "4096" } },
    );
  });
  const client = new RegistryClient({
    auth: new Authenticator({ credentials: () => Promise.resolve(undefined) }),
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
    // Far longer than the refusal takes; the old reader fails here instead, with a network error.
    timeoutMs: 20_000,
  });
  try {
    await assert.rejects(
      client.registry(reg.host).repository("app").tags({ maxBytes: 1024 }),
      (err: Error) => err instanceof FerryError && err.code === "too_large",
    );
  } finally {
    await client.close();
    try {
      stalled?.close();
    } catch {
      // Cancelled by the refusal already.
    }
  }
});

Deno.test("two requests refused with one token: the second retries with the token the first renewed, not a third", async () => {
  const img = makeImage();
  let issued = 0;
  let renewedSeen!: () => void;
  const renewedUsed = new Promise<void>((resolve) => renewedSeen = resolve);
  let refusals = 0;
  await using reg = startHostileRegistry(async (req) => {
    const challenge = {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="http://${reg.host}/token",service="reg"` },
    };
    if (req.url.pathname === "/token") return Response.json({ token: `tok-${issued++}` });
    // The first token is stale; the second is good.
    if (req.authorization !== "Bearer tok-1") {
      // The second refusal is held until the first request came back with the renewed token, so
      // it arrives once that token is known.
      if (req.url.pathname !== "/v2/" && ++refusals === 2) await renewedUsed;
      return new Response(null, challenge);
    }
    renewedSeen();
    if (req.url.pathname === "/v2/app/tags/list") {
      return Response.json({ name: "app", tags: ["1"] });
    }
    if (req.url.pathname === "/v2/app/manifests/1") {
      return new Response(
        req.method === "HEAD" ? null : img.manifest.bytes as Uint8Array<ArrayBuffer>,
        {
          headers: {
            "content-type": img.manifest.desc.mediaType,
            "content-length": String(img.manifest.desc.size),
            "docker-content-digest": img.manifest.desc.digest,
          },
        },
      );
    }
  });
  const client = new RegistryClient({
    auth: new Authenticator({ credentials: () => Promise.resolve(undefined) }),
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
  });
  try {
    const repo = client.registry(reg.host).repository("app");
    const [desc, tags] = await Promise.all([repo.resolve("1"), repo.tags()]);
    assert.equal(desc.digest, img.manifest.desc.digest);
    assert.deepEqual(tags, ["1"]);
  } finally {
    await client.close();
  }
  assert.equal(reg.requests.filter((r) => r.url.pathname === "/token").length, 2);
});

Deno.test("a registry's error message cannot drive the terminal or add lines: it prints inert, on one line", async () => {
  await using dir = await tempDir();
  const message =
    "\u001b]0;owned\u0007\u001b[2J\u001b[31mred\u009b1m\u202egnirts\nferry: a line the registry wrote";
  await using reg = startHostileRegistry((req) =>
    req.url.pathname === "/v2/" ? undefined : new Response(
      JSON.stringify({ errors: [{ code: "DENIED", message: message + "x".repeat(5000) }] }),
      { status: 403, headers: { "content-type": "application/json" } },
    )
  );
  const run = await ferry([
    "registry",
    "save",
    "--images",
    `${reg.host}/app:1`,
    "--registry-dir",
    join(dir.path, "registry"),
  ]);
  assert.notEqual(run.code, 0);
  const lines = run.stderr.trimEnd().split("\n").filter((l) => l.startsWith("ferry:"));
  assert.equal(lines.length, 1, run.stderr);
  // deno-lint-ignore no-control-regex -- control characters are what must not get through
  assert.doesNotMatch(run.stderr, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/, run.stderr);
  assert.match(lines[0], /access denied \(DENIED: \\x1b\]0;owned\\x07\\x1b\[2J/);
  assert.match(lines[0], /\\u202egnirts\\nferry: a line the registry wrote/);
  // A page of the registry's words is cut, not printed whole.
  assert.ok(lines[0].length < 1000, `${lines[0].length} characters`);
});

Deno.test("registry sync asks nothing of names a catalog or tag list holds that are no names, and fails them", async () => {
  await using dir = await tempDir();
  await using reg = startHostileRegistry((req) => {
    const path = req.url.pathname;
    if (path === "/v2/") return undefined;
    if (path === "/v2/_catalog") {
      return Response.json({ repositories: ["../../../etc", "ok/../../x", "UPPER", "good"] });
    }
    if (path === "/v2/good/tags/list") return Response.json({ name: "good", tags: ["../../t"] });
    return new Response(JSON.stringify({ errors: [{ code: "NAME_UNKNOWN", message: "no" }] }), {
      status: 404,
    });
  });
  const run = await ferry([
    "registry",
    "sync",
    "--tls-verify=false",
    reg.host,
    join(dir.path, "registry"),
  ]);
  assert.notEqual(run.code, 0);
  // Only the catalog and the one valid repository's tags were asked for.
  const asked = reg.requests.map((r) => r.url.pathname).filter((p) => p !== "/v2/");
  assert.deepEqual(asked, ["/v2/_catalog", "/v2/good/tags/list"]);
  assert.match(run.stderr, /4 of 4 images failed/);
  assert.match(run.stderr, /"\.\.\/\.\.\/\.\.\/etc": the source lists this as a repository/);
  assert.match(run.stderr, /good:"\.\.\/\.\.\/t": the source lists this as a tag/);
});
