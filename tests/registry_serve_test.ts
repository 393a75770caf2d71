/**
 * `ferry registry serve` against real clients and the real registry: skopeo pushes and pulls
 * (plain, htpasswd, TLS), docker-registry serves what ferry received and ferry serves what
 * docker-registry wrote, load, hostile requests, and the CLI's signals and pid file.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { Sha256, sha256 } from "../src/digest.ts";
import { MemoryStore } from "../src/memory_store/mod.ts";
import { OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST } from "../src/media_types.ts";
import { RegistryDir } from "../src/registry_dir/mod.ts";
import { Htpasswd, type RunningRegistryServer, serveRegistry } from "../src/server/mod.ts";
import type { Store } from "../src/store.ts";
import {
  type BuiltImage,
  type BuiltIndex,
  copy,
  inspectRaw,
  makeLayout,
  peerTest,
  pushToRegistry,
  requirePeer,
  run,
  selfSignedCert,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import { listFiles, spawnFerry } from "./ferry_cli.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serves `store` in-process on a free 127.0.0.1 port; dispose to stop (the store is closed too). */
async function serve(
  store: Store,
  options: Partial<Parameters<typeof serveRegistry>[0]> = {},
): Promise<RunningRegistryServer & { host: string } & AsyncDisposable> {
  const server = await serveRegistry({ store, port: 0, ...options });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await server.shutdown();
      await store.close();
    })();
  return Object.assign(server, {
    host: `127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: stop,
  });
}

/** Three images: a two-platform index sharing a base layer, an OCI image, a Docker image. */
async function seedLayout(dir: string) {
  const built = await makeLayout(dir, [
    {
      name: "multi",
      children: [
        {
          platform: AMD64,
          layers: [{ seed: "base", size: 300_000 }, { seed: "m-amd", size: 5000 }],
        },
        {
          platform: ARM64,
          layers: [{ seed: "base", size: 300_000 }, { seed: "m-arm", size: 6000 }],
        },
      ],
    },
    { name: "app", layers: [{ seed: "app", size: 1_200_000 }] },
    { name: "dock", format: "docker", layers: [{ seed: "dock", size: 40_000 }] },
  ]);
  const [multi, app, dock] = built as [BuiltIndex, BuiltImage, BuiltImage];
  return { multi, app, dock };
}

type Seeded = Awaited<ReturnType<typeof seedLayout>>;

/** Pushes the seeded images with skopeo; the registry must report the layout's digests. */
async function pushSeeded(layout: string, host: string, seeded: Seeded, creds?: string) {
  const pushed = [
    await pushToRegistry(layout, "multi", `${host}/multi/arch:1.0`, { creds }),
    await pushToRegistry(layout, "app", `${host}/library/app:2`, { creds }),
    await pushToRegistry(layout, "dock", `${host}/dock/er:3`, { creds }),
  ];
  assert.deepEqual(pushed, [seeded.multi.digest, seeded.app.digest, seeded.dock.digest]);
}

/** Reads every seeded image back through `host` with skopeo: same digests, all children. */
async function assertServes(host: string, seeded: Seeded, out: string, creds?: string) {
  const opts = { creds };
  assert.equal((await inspectRaw(`${host}/multi/arch:1.0`, opts)).digest, seeded.multi.digest);
  for (const child of seeded.multi.children) {
    const raw = await inspectRaw(`${host}/multi/arch@${child.digest}`, opts);
    assert.equal(raw.digest, child.digest);
  }
  assert.equal((await inspectRaw(`${host}/library/app:2`, opts)).digest, seeded.app.digest);
  assert.equal((await inspectRaw(`${host}/dock/er:3`, opts)).digest, seeded.dock.digest);
  // Pull everything (every blob of every child, verified by skopeo) into a fresh layout.
  const pulled = await copy(`${host}/multi/arch:1.0`, `oci:${out}:multi`, {
    all: true,
    srcCreds: creds,
    preserveDigests: true,
  });
  assert.equal(pulled.digest, seeded.multi.digest);
  const app = await copy(`${host}/library/app:2`, `oci:${out}:app`, {
    srcCreds: creds,
    preserveDigests: true,
  });
  assert.equal(app.digest, seeded.app.digest);
  for (const child of seeded.multi.children) {
    for (const layer of child.layers) {
      const bytes = await Deno.readFile(`${out}/blobs/sha256/${layer.digest.slice(7)}`);
      assert.equal(await sha256(bytes), layer.digest);
    }
  }
}

peerTest(
  "serve filesystem: skopeo push and pull keep digests; docker-registry serves the result",
  ["skopeo", "docker-registry"],
  async () => {
    await using dir = await tempDir();
    const layout = dir.join("layout");
    const seeded = await seedLayout(layout);
    const root = dir.join("registry");
    {
      await using server = await serve(await RegistryDir.open(root));
      await pushSeeded(layout, server.host, seeded);
      await assertServes(server.host, seeded, dir.join("pulled-ferry"));
      const catalog = await (await fetch(`${server.url}/v2/_catalog`)).json();
      assert.deepEqual(catalog.repositories, ["dock/er", "library/app", "multi/arch"]);
    }
    // Nothing of the uploads is left behind.
    const files = await listFiles(root);
    assert.deepEqual(
      files.filter((f) => f.includes("/_uploads/") || f.startsWith(".ferry-tmp")),
      [],
    );
    await using registry = await startRegistry({ root });
    await assertServes(registry.host, seeded, dir.join("pulled-registry"));
  },
);

peerTest(
  "serve filesystem: ferry serves a directory docker-registry wrote",
  ["skopeo", "docker-registry"],
  async () => {
    await using dir = await tempDir();
    const layout = dir.join("layout");
    const seeded = await seedLayout(layout);
    const root = dir.join("registry");
    {
      await using registry = await startRegistry({ root });
      await pushSeeded(layout, registry.host, seeded);
    }
    await using server = await serve(await RegistryDir.open(root, { readOnly: true }));
    await assertServes(server.host, seeded, dir.join("pulled"));
    const tags = await (await fetch(`${server.url}/v2/multi/arch/tags/list`)).json();
    assert.deepEqual(tags, { name: "multi/arch", tags: ["1.0"] });
    const push = await fetch(`${server.url}/v2/x/blobs/uploads/`, { method: "POST" });
    assert.equal(push.status, 405);
    assert.equal((await push.json()).errors[0].code, "UNSUPPORTED");
  },
);

peerTest(
  "serve inmem: skopeo push and pull behind htpasswd (htpasswd -B)",
  ["skopeo", "htpasswd"],
  async () => {
    await using dir = await tempDir();
    const layout = dir.join("layout");
    const seeded = await seedLayout(layout);
    const line = (await run(requirePeer("htpasswd"), ["-nbB", "-C", "5", "pusher", "pa55word"]))
      .stdout.trim();
    assert.match(line, /^pusher:\$2y\$/);
    const htpasswd = Htpasswd.parse(line, "htpasswd");
    await using server = await serve(new MemoryStore(), { htpasswd });
    await assert.rejects(
      pushToRegistry(layout, "app", `${server.host}/library/app:2`),
      /401|unauthorized|authentication required/i,
    );
    await assert.rejects(
      pushToRegistry(layout, "app", `${server.host}/library/app:2`, { creds: "pusher:wrong" }),
      /401|unauthorized|authentication required/i,
    );
    await pushSeeded(layout, server.host, seeded, "pusher:pa55word");
    await assertServes(server.host, seeded, dir.join("pulled"), "pusher:pa55word");
    await assert.rejects(inspectRaw(`${server.host}/library/app:2`), /unauthorized|401/i);
  },
);

/** `ferry registry serve …` as a child process, with its URL from the first stdout line. */
async function startCli(args: string[]) {
  const child = spawnFerry(["registry", "serve", ...args]);
  let stderr = "";
  const drainErr = (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  let stdout = "";
  const lines = child.stdout.getReader();
  const deadline = Date.now() + 15_000;
  let url: string | undefined;
  while (url === undefined && Date.now() < deadline) {
    const { done, value } = await lines.read();
    if (done) break;
    stdout += decoder.decode(value, { stream: true });
    url = stdout.match(/Listening on (https?:\/\/[\d.]+:\d+)/)?.[1];
  }
  const drainOut = (async () => {
    for (;;) {
      const { done } = await lines.read();
      if (done) return;
    }
  })();
  const status = (async () => {
    const s = await child.status;
    await Promise.all([drainErr, drainOut]);
    return s;
  })();
  if (url === undefined) {
    child.kill("SIGKILL");
    await status;
    throw new Error(`ferry registry serve did not start:\n${stdout}\n${stderr}`);
  }
  return { child, url, status, stderr: () => stderr };
}

peerTest(
  "serve CLI: TLS with a self-signed certificate, htpasswd, pid file; SIGTERM finishes requests in flight",
  ["skopeo", "openssl", "htpasswd"],
  async () => {
    await using dir = await tempDir();
    const { cert, key, certDir } = await selfSignedCert(dir.path);
    const htpasswdPath = dir.join("htpasswd");
    await run(requirePeer("htpasswd"), ["-cbB", "-C", "5", htpasswdPath, "alice", "s3cret-pw"]);
    const layout = dir.join("layout");
    const [big] = await makeLayout(layout, [
      { name: "big", layers: [{ seed: "big", size: 24 << 20 }] },
    ]) as BuiltImage[];
    const pidFile = dir.join("serve.pid");
    const root = dir.join("registry");
    const server = await startCli([
      "filesystem",
      root,
      "--port",
      "0",
      "--tls-cert",
      cert,
      "--tls-key",
      key,
      "--htpasswd",
      htpasswdPath,
      "--pid-file",
      pidFile,
    ]);
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await Deno.readTextFile(pidFile)).trim(), String(server.child.pid));
      const host = server.url.slice("https://".length);
      const skopeo = requirePeer("skopeo");
      // TLS verified against the certificate given as ca.crt.
      await run(skopeo, [
        "--insecure-policy",
        "copy",
        `--dest-cert-dir=${certDir}`,
        "--dest-creds=alice:s3cret-pw",
        `oci:${layout}:big`,
        `docker://${host}/big/image:1`,
      ], { display: "skopeo copy (TLS push)" });
      const inspected = await run(skopeo, [
        "inspect",
        "--raw",
        `--cert-dir=${certDir}`,
        "--creds=alice:s3cret-pw",
        `docker://${host}/big/image:1`,
      ], { display: "skopeo inspect (TLS)" });
      assert.equal(await sha256(inspected.stdoutBytes), big.digest);
      const unverified = await inspectRaw(`${host}/big/image:1`, {
        creds: "alice:s3cret-pw",
        tlsVerify: false,
      });
      assert.equal(unverified.digest, big.digest);
      // Without the certificate the server is not trusted: TLS is really on.
      await assert.rejects(
        run(skopeo, [
          "inspect",
          "--raw",
          "--tls-verify=true",
          "--creds=alice:s3cret-pw",
          `docker://${host}/big/image:1`,
        ], { display: "skopeo inspect (untrusted)" }),
        /certificate|x509/i,
      );

      // A 24 MiB blob read slowly is in flight when SIGTERM arrives; it still completes.
      const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(cert)] });
      try {
        const layer = big.layers[0];
        const res = await fetch(`${server.url}/v2/big/image/blobs/${layer.digest}`, {
          client,
          headers: { Authorization: `Basic ${btoa("alice:s3cret-pw")}` },
        });
        assert.equal(res.status, 200);
        const reader = res.body!.getReader();
        const hasher = await Sha256.create();
        const first = await reader.read();
        hasher.update(first.value!);
        server.child.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 300));
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          hasher.update(value);
        }
        assert.equal(hasher.size, layer.size);
        assert.equal(hasher.digest(), layer.digest);
      } finally {
        client.close();
      }
      const status = await server.status;
      assert.equal(status.code, 0, server.stderr());
      await assert.rejects(Deno.stat(pidFile), Deno.errors.NotFound);
      const log = server.stderr();
      assert.match(log, /"GET \/v2\/big\/image\/blobs\/sha256:[a-f0-9]{64}" 200 /);
      assert.match(log, /"alice"/);
      assert.doesNotMatch(log, /s3cret|YWxpY2U|Basic /);
    } finally {
      try {
        server.child.kill("SIGKILL");
      } catch {
        // exited
      }
      await server.status;
    }
  },
);

Deno.test("serve CLI: inmem with --disable-logging=true; SIGINT exits 0", async () => {
  const server = await startCli(["inmem", "-p", "0", "--disable-logging=true"]);
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/v2/_catalog`);
    assert.deepEqual(await res.json(), { repositories: [] });
    assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
    server.child.kill("SIGINT");
    const status = await server.status;
    assert.equal(status.code, 0, server.stderr());
    assert.doesNotMatch(server.stderr(), /_catalog/);
  } finally {
    try {
      server.child.kill("SIGKILL");
    } catch {
      // exited
    }
    await server.status;
  }
});

Deno.test("serve CLI: --max-connections closes connections past it and says so; --body-timeout cuts off a stalled body", async () => {
  const server = await startCli([
    "inmem",
    "-p",
    "0",
    "--max-connections",
    "2",
    "--body-timeout",
    "0.3",
  ]);
  const port = Number(new URL(server.url).port);
  const open: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) open.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    // A head that promises a body and never sends it: answered 408 and closed.
    await writeAllTo(
      open[0],
      "PUT /v2/x/manifests/t HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
    );
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    open.push(extra);
    assert.equal(await extra.read(new Uint8Array(64)).catch(() => null), null);
    const stalled = await readUntilClosed(open[0]);
    assert.match(stalled, /^HTTP\/1\.1 408 /);
    // The connection within the limit is served.
    await writeAllTo(open[1], "GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.match(await readUntilClosed(open[1]), /^HTTP\/1\.1 200 /);
    server.child.kill("SIGINT");
    assert.equal((await server.status).code, 0, server.stderr());
    assert.match(
      server.stderr(),
      /^warn: connection limit reached \(2 open, --max-connections\)/m,
    );
  } finally {
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // closed
      }
    }
    try {
      server.child.kill("SIGKILL");
    } catch {
      // exited
    }
    await server.status;
  }
});

async function writeAllTo(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
}

/** What the server sends on `conn` until it closes it (bounded: a hang fails the test). */
async function readUntilClosed(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return text;
    text += decoder.decode(buf.subarray(0, n));
  }
  throw new Error(`still open after 20 s: ${text}`);
}

// --- load ----------------------------------------------------------------------------------------

/** Pushes a blob with POST + PATCH chunks + PUT, or in one POST when `chunks` is 0. */
async function pushBlob(base: string, name: string, bytes: Uint8Array, chunks: number) {
  const digest = await sha256(bytes);
  if (chunks === 0) {
    const res = await fetch(`${base}/v2/${name}/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    await res.body?.cancel();
    assert.equal(res.status, 201);
    return digest;
  }
  const start = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: "POST" });
  assert.equal(start.status, 202);
  let location = new URL(start.headers.get("location")!, base).href;
  const size = Math.ceil(bytes.byteLength / chunks);
  for (let at = 0; at < bytes.byteLength; at += size) {
    const chunk = bytes.subarray(at, Math.min(bytes.byteLength, at + size));
    const res = await fetch(location, {
      method: "PATCH",
      body: chunk as Uint8Array<ArrayBuffer>,
      headers: { "Content-Range": `${at}-${at + chunk.byteLength - 1}` },
    });
    assert.equal(res.status, 202);
    location = new URL(res.headers.get("location")!, base).href;
  }
  const done = await fetch(`${location}?digest=${digest}`, { method: "PUT" });
  assert.equal(done.status, 201);
  return digest;
}

function random(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(out.subarray(at, Math.min(size, at + 65536)));
  }
  return out;
}

Deno.test("serve: 20 concurrent pushes and 200 concurrent blob reads", async () => {
  await using dir = await tempDir();
  await using server = await serve(await RegistryDir.open(dir.join("registry")));
  const base = server.url;
  const shared = random(1 << 20);
  const images = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const name = `load/app-${i}`;
    const own = random(300_000 + i * 1000);
    const layers = [
      { bytes: shared, digest: await pushBlob(base, name, shared, i % 3) },
      { bytes: own, digest: await pushBlob(base, name, own, (i % 4) + 1) },
    ];
    const config = encoder.encode(JSON.stringify({ architecture: "amd64", os: "linux", n: i }));
    const configDigest = await pushBlob(base, name, config, 0);
    const manifest = encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.byteLength },
      layers: layers.map((l) => ({
        mediaType: OCI_LAYER_TAR,
        digest: l.digest,
        size: l.bytes.byteLength,
      })),
    }));
    const put = await fetch(`${base}/v2/${name}/manifests/v${i}`, {
      method: "PUT",
      body: manifest,
      headers: { "Content-Type": OCI_MANIFEST },
    });
    await put.body?.cancel();
    assert.equal(put.status, 201);
    assert.equal(put.headers.get("docker-content-digest"), await sha256(manifest));
    return { name, tag: `v${i}`, manifest: await sha256(manifest), layers };
  }));
  for (const image of images) {
    const res = await fetch(`${base}/v2/${image.name}/manifests/${image.tag}`);
    assert.equal(await sha256(new Uint8Array(await res.arrayBuffer())), image.manifest);
  }
  const reads = Array.from({ length: 200 }, async (_, i) => {
    const image = images[i % images.length];
    const layer = image.layers[i % 2];
    const res = await fetch(`${base}/v2/${image.name}/blobs/${layer.digest}`);
    assert.equal(res.status, 200);
    const body = new Uint8Array(await res.arrayBuffer());
    assert.equal(await sha256(body), layer.digest);
  });
  await Promise.all(reads);
});

// --- hostile input -------------------------------------------------------------------------------

interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * Sends bytes as they are (fetch would normalise `..` away) and reads one response. With
 * `halfClose`, the sending side is shut after the bytes (a client that stops mid-body).
 */
async function raw(
  port: number,
  request: string | Uint8Array,
  halfClose = false,
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const bytes = typeof request === "string" ? encoder.encode(request) : request;
    for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
    if (halfClose) await conn.closeWrite();
    let text = "";
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const length = Number(text.slice(0, end).match(/content-length: *(\d+)/i)?.[1] ?? -1);
        if (length >= 0 && encoder.encode(text.slice(end + 4)).byteLength >= length) break;
      }
    }
    const end = text.indexOf("\r\n\r\n");
    const [statusLine, ...headerLines] = text.slice(0, end).split("\r\n");
    const headers = new Headers();
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return { status: Number(statusLine.split(" ")[1]), headers, body: text.slice(end + 4) };
  } finally {
    conn.close();
  }
}

function assertError(
  res: RawResponse | { status: number; body: string },
  status: number,
  code: string,
) {
  assert.equal(res.status, status, res.body);
  assert.equal(JSON.parse(res.body).errors[0].code, code, res.body);
}

Deno.test("serve: hostile requests get the spec's status and code; nothing lands outside DIR", async () => {
  await using dir = await tempDir();
  const root = dir.join("registry");
  const users = Htpasswd.parse(
    `alice:${bcrypt.hashSync("pw", 4)}`,
    "htpasswd",
  );
  await using server = await serve(await RegistryDir.open(root), { htpasswd: users });
  const port = server.addr.port;
  const auth = `Basic ${btoa("alice:pw")}`;
  const req = (line: string, headers: Record<string, string> = {}, body = "") =>
    `${line} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: ${auth}\r\n` +
    Object.entries({ "Content-Length": String(encoder.encode(body).byteLength), ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`).join("") +
    `\r\n${body}`;
  const blob = encoder.encode("hello, registry");
  const digest = await sha256(blob);

  // Dot segments and encodings in names.
  for (
    const line of [
      `POST /v2/../../evil/blobs/uploads/`,
      `POST /v2/%2e%2e/%2e%2e/evil/blobs/uploads/`,
      `POST /v2/ok/%2E%2e/%2e%2E/evil/blobs/uploads/`,
      `GET /v2/a/..%2f..%2fevil/manifests/latest`,
      `PUT /v2/ok/../../../evil/manifests/latest`,
      `GET /v2/Evil/tags/list`,
    ]
  ) {
    assertError(await raw(port, req(line)), 400, "NAME_INVALID");
  }
  // Malformed digests.
  assertError(await raw(port, req(`GET /v2/ok/blobs/sha256:zz`)), 400, "DIGEST_INVALID");
  assertError(
    await raw(port, req(`GET /v2/ok/manifests/sha256:${"a".repeat(63)}`)),
    400,
    "DIGEST_INVALID",
  );
  assertError(
    await raw(port, req(`POST /v2/ok/blobs/uploads/?digest=sha256:../../x`, {}, "x")),
    400,
    "DIGEST_INVALID",
  );
  // A Content-Length that lies: fewer bytes than announced, then the client stops sending.
  const lying = await raw(
    port,
    `POST /v2/ok/blobs/uploads/?digest=${digest} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\n` +
      `Content-Length: 1000\r\n\r\nhello`,
    true,
  );
  assertError(lying, 400, "SIZE_INVALID");
  // More bytes than announced: only the announced ones count, and they do not match the digest.
  const longer = await raw(
    port,
    req(
      `POST /v2/ok/blobs/uploads/?digest=${digest}`,
      { "Content-Length": "5" },
      "hello, registry",
    ),
  );
  assertError(longer, 400, "DIGEST_INVALID");
  const head = await fetch(`${server.url}/v2/ok/blobs/${digest}`, {
    method: "HEAD",
    headers: { Authorization: auth },
  });
  assert.equal(head.status, 404);

  // Unauthenticated push.
  const anonymous = await fetch(`${server.url}/v2/ok/blobs/uploads/?digest=${digest}`, {
    method: "POST",
    body: blob,
  });
  assertError({ status: anonymous.status, body: await anonymous.text() }, 401, "UNAUTHORIZED");
  assert.equal(anonymous.headers.get("www-authenticate"), 'Basic realm="ferry"');

  // A real blob, then a range past its end.
  const pushed = await fetch(`${server.url}/v2/ok/blobs/uploads/?digest=${digest}`, {
    method: "POST",
    body: blob,
    headers: { Authorization: auth },
  });
  assert.equal(pushed.status, 201);
  const past = await raw(port, req(`GET /v2/ok/blobs/${digest}`, { Range: "bytes=100-200" }));
  assertError(past, 416, "RANGE_INVALID");
  assert.equal(past.headers.get("content-range"), `bytes */${blob.byteLength}`);

  // A manifest referencing missing blobs; an oversized manifest.
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: await sha256("no config"), size: 9 },
    layers: [{ mediaType: OCI_LAYER_TAR, digest, size: blob.byteLength }],
  });
  const missing = await raw(
    port,
    req(`PUT /v2/ok/manifests/v1`, { "Content-Type": OCI_MANIFEST }, manifest),
  );
  assertError(missing, 400, "MANIFEST_BLOB_UNKNOWN");
  assert.equal(JSON.parse(missing.body).errors.length, 1);
  const oversized = await fetch(`${server.url}/v2/ok/manifests/big`, {
    method: "PUT",
    body: new Uint8Array(5 << 20).fill(0x20),
    headers: { Authorization: auth, "Content-Type": OCI_MANIFEST },
  });
  assertError({ status: oversized.status, body: await oversized.text() }, 413, "MANIFEST_INVALID");

  // Everything written is inside DIR, in the distribution layout, for repository "ok" only.
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["registry"]);
  const files = await listFiles(root);
  for (const file of files) {
    assert.match(
      file,
      /^(docker\/registry\/v2\/(blobs\/sha256\/[a-f0-9]{2}\/[a-f0-9]{64}\/data|repositories\/ok\/_layers\/sha256\/[a-f0-9]{64}\/link)|\.ferry-tmp\/.*)$/,
    );
  }
  const repos = [...Deno.readDirSync(`${root}/docker/registry/v2/repositories`)].map((e) => e.name);
  assert.deepEqual(repos, ["ok"]);
});
