/**
 * The registry client in process, against ferry's own registry handler over a memory store with a
 * fault wrapper in front: 401 challenges (Basic, Bearer with scopes), redirects to another origin,
 * cross-repository mounts, 429 with `Retry-After`, 5xx retries and `Range` resume.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FerryError } from "../../src/errors.ts";
import { readAll } from "../../src/streams.ts";
import { bytesSource, type ContentSource } from "../../src/store.ts";
import { blob, makeImage, pushImage, randomBytes } from "../support/images.ts";
import { OCI_LAYER_TAR } from "../../src/media_types.ts";
import {
  BLOB_PATH,
  type FaultRule,
  MANIFEST_PATH,
  type MemoryRegistryAuth,
  memoryRegistryClient,
  type MemoryRegistryClientOptions,
  startMemoryRegistry,
} from "../support/memory_registry.ts";

const USER = { username: "alice", password: "s3cret" };
const BASIC = `Basic ${btoa("alice:s3cret")}`;

/** Pushes one image into the registry's store and reads it back through a client. */
async function pullThrough(
  auth: MemoryRegistryAuth | undefined,
  faults: FaultRule[],
  client: MemoryRegistryClientOptions = {},
) {
  const reg = await startMemoryRegistry({ auth });
  const image = makeImage({ layerSizes: [200_000] });
  await pushImage(reg.store.repository("lib/app"), image, "1.0");
  reg.setFaults(faults);
  const c = memoryRegistryClient(client);
  try {
    const repo = c.registry(reg.host).repository("lib/app");
    const root = await repo.resolve("1.0");
    const layer = image.layers[0];
    const bytes = await readAll(await repo.fetch(layer.desc), layer.desc.size, "layer");
    return { reg, image, root, bytes, layer };
  } finally {
    await c.close();
    await reg.stop();
  }
}

Deno.test("client: Basic challenge answered with the user's credentials, then sent up front", async () => {
  const { reg, root, image, bytes, layer } = await pullThrough({ basic: USER }, [], {
    credentials: USER,
  });
  assert.equal(root.digest, image.manifest.desc.digest);
  assert.deepEqual(bytes, layer.bytes);
  const answered = reg.log.filter((e) => e.origin === "registry" && e.status !== 401);
  const refused = reg.log.filter((e) => e.status === 401);
  assert.ok(refused.length >= 1, "the registry never challenged");
  assert.ok(answered.length >= 2);
  for (const e of answered.filter((e) => e.path !== "/v2/")) assert.equal(e.authorization, BASIC);
});

Deno.test("client: a wrong Basic password ends in one unauthorized error, not retries", async () => {
  const err = await pullThrough({ basic: USER }, [], {
    credentials: { username: "alice", password: "wrong" },
  }).then(() => undefined, (e) => e);
  assert.ok(err instanceof FerryError, String(err));
  assert.equal(err.code, "unauthorized");
});

for (const omitScope of [false, true]) {
  const how = omitScope ? "a challenge without a scope" : "a challenge naming the scope";
  Deno.test(`client: Bearer, ${how}: the realm is asked for the repository's pull scope`, async () => {
    const { reg, bytes, layer } = await pullThrough({ bearer: { ...USER, omitScope } }, [], {
      credentials: USER,
    });
    assert.deepEqual(bytes, layer.bytes);
    const tokenRequests = reg.log.filter((e) => e.origin === "token");
    assert.ok(tokenRequests.length >= 1);
    for (const t of tokenRequests) assert.equal(t.authorization, BASIC);
    assert.ok(
      reg.tokenScopes.some((s) => s.includes("repository:lib/app:pull")),
      `scopes asked: ${JSON.stringify(reg.tokenScopes)}`,
    );
    const reads = reg.log.filter((e) => e.origin === "registry" && e.path.startsWith("/v2/lib/"));
    assert.ok(reads.some((e) => e.authorization?.startsWith("Bearer ") && e.status === 200));
  });
}

Deno.test("client: a blob redirected to another origin is fetched there without Authorization", async () => {
  for (const auth of [{ basic: USER }, { bearer: USER }]) {
    const { reg, bytes, layer } = await pullThrough(auth, [
      { method: "GET", path: BLOB_PATH, fault: { redirect: "cdn" } },
    ], { credentials: USER });
    assert.deepEqual(bytes, layer.bytes);
    const cdn = reg.log.filter((e) => e.origin === "cdn");
    assert.ok(cdn.length >= 1, "nothing reached the CDN");
    for (const e of cdn) {
      assert.equal(e.authorization, null, `${Object.keys(auth)[0]}: credentials sent to the CDN`);
    }
  }
});

Deno.test("client: 429 with Retry-After waits the time the registry asks, then succeeds", async () => {
  const warnings: string[] = [];
  const started = performance.now();
  const { reg, bytes, layer } = await pullThrough(undefined, [
    { method: "GET", path: BLOB_PATH, times: 1, fault: { status: 429, retryAfter: "1" } },
  ], { warn: (line) => warnings.push(line) });
  const elapsed = performance.now() - started;
  assert.deepEqual(bytes, layer.bytes);
  assert.ok(elapsed >= 990, `retried after ${elapsed} ms, before the 1 s asked`);
  assert.ok(warnings.some((w) => /rate limited; waiting 1000 ms/.test(w)), warnings.join("\n"));
  const gets = reg.log.filter((e) => e.method === "GET" && BLOB_PATH.test(e.path));
  assert.deepEqual(gets.map((e) => e.status), [429, 200]);
});

// Transient server errors are retried until the policy's retries run out.
const SERVER_ERRORS: { status: number; times: number; retries: number; ok: boolean }[] = [
  { status: 500, times: 2, retries: 5, ok: true },
  { status: 502, times: 1, retries: 5, ok: true },
  { status: 503, times: 3, retries: 5, ok: true },
  { status: 504, times: 1, retries: 5, ok: true },
  { status: 503, times: 3, retries: 2, ok: false },
];
for (const row of SERVER_ERRORS) {
  Deno.test(`client: ${row.times}× ${row.status} on a manifest with ${row.retries} retries ${row.ok ? "succeeds" : "fails"}`, async () => {
    const faults: FaultRule[] = [
      { method: "HEAD", path: MANIFEST_PATH, times: row.times, fault: { status: row.status } },
    ];
    const retry = { retries: row.retries, baseDelayMs: 1, maxDelayMs: 10 };
    if (!row.ok) {
      await assert.rejects(
        pullThrough(undefined, faults, { retry }),
        (err: Error) =>
          err instanceof FerryError &&
          new RegExp(`registry answered ${row.status}`).test(err.message),
      );
      return;
    }
    const { reg } = await pullThrough(undefined, faults, { retry });
    const heads = reg.log.filter((e) => e.method === "HEAD" && MANIFEST_PATH.test(e.path));
    assert.deepEqual(heads.map((e) => e.status), [...Array(row.times).fill(row.status), 200]);
  });
}

Deno.test("client: a registry that does not answer in time is asked again", async () => {
  const { reg, root, image } = await pullThrough(undefined, [
    { method: "HEAD", path: MANIFEST_PATH, times: 1, fault: { delayMs: 60_000 } },
  ], { timeoutMs: 1000 });
  assert.equal(root.digest, image.manifest.desc.digest);
  const heads = reg.log.filter((e) => e.method === "HEAD" && MANIFEST_PATH.test(e.path));
  assert.equal(heads.length, 2);
  assert.deepEqual(heads[0].fault, { delayMs: 60_000 });
  assert.equal(heads[1].status, 200);
});

Deno.test("client: a blob slower to arrive than the answer timeout is read whole, in one request", async () => {
  // 200,000 bytes in 25,000-byte pieces 150 ms apart: about 1.2 s, against a 500 ms timeout for
  // the answer. The body's own bound is the idle watchdog (no data for 60 s), not the timeout.
  const { reg, bytes, layer } = await pullThrough(undefined, [
    { method: "GET", path: BLOB_PATH, times: 1, fault: { slow: { chunk: 25_000, everyMs: 150 } } },
  ], { timeoutMs: 500, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
  assert.deepEqual(bytes, layer.bytes);
  const gets = reg.log.filter((e) => e.method === "GET" && BLOB_PATH.test(e.path));
  assert.equal(gets.length, 1, JSON.stringify(gets));
});

/** `bytes` as a source yielding `chunk` bytes every `everyMs` (a slow source registry in a copy). */
function slowSource(bytes: Uint8Array, chunk: number, everyMs: number): ContentSource {
  return (offset) => {
    let at = offset;
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (at >= bytes.byteLength) return controller.close();
          await new Promise((resolve) => setTimeout(resolve, everyMs));
          controller.enqueue(bytes.slice(at, at + chunk));
          at += chunk;
        },
      }),
    );
  };
}

Deno.test("client: a blob whose source takes longer than the answer timeout is pushed, in one upload", async () => {
  // 200,000 bytes in 25,000-byte pieces 150 ms apart (about 1.2 s) against a 500 ms timeout:
  // only a pause longer than the timeout would end it.
  await using reg = await startMemoryRegistry();
  const layer = blob(OCI_LAYER_TAR, randomBytes(200_000));
  const client = memoryRegistryClient({
    timeoutMs: 500,
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
  });
  try {
    const repo = client.registry(reg.host).repository("lib/app");
    await repo.push(layer.desc, slowSource(layer.bytes, 25_000, 150));
    assert.ok(await repo.exists(layer.desc));
  } finally {
    await client.close();
  }
  const puts = reg.log.filter((e) => e.method === "PUT");
  assert.equal(puts.length, 1, JSON.stringify(reg.log));
});

Deno.test("client: an upload whose source stalls past the timeout fails, saying so", async () => {
  await using reg = await startMemoryRegistry();
  const layer = blob(OCI_LAYER_TAR, randomBytes(50_000));
  const client = memoryRegistryClient({
    timeoutMs: 300,
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
  });
  try {
    const repo = client.registry(reg.host).repository("lib/app");
    await assert.rejects(
      repo.push(layer.desc, slowSource(layer.bytes, 25_000, 1000)),
      (err: Error) => err instanceof FerryError && /no answer within 0\.3 s/.test(err.message),
    );
  } finally {
    await client.close();
  }
});

Deno.test("client: a manifest body that trickles is given up at the timeout", async () => {
  const { reg } = await (async () => {
    const reg = await startMemoryRegistry();
    const image = makeImage({ layerSizes: [100] });
    await pushImage(reg.store.repository("lib/app"), image, "1.0");
    reg.setFaults([
      { method: "GET", path: MANIFEST_PATH, fault: { slow: { chunk: 1, everyMs: 200 } } },
    ]);
    const c = memoryRegistryClient({
      timeoutMs: 500,
      retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
    });
    try {
      const started = Date.now();
      await assert.rejects(
        c.registry(reg.host).repository("lib/app").manifestBytes(image.manifest.desc),
        (err: Error) => err instanceof FerryError,
      );
      assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
    } finally {
      await c.close();
      await reg.stop();
    }
    return { reg };
  })();
  assert.ok(reg.log.some((e) => e.method === "GET"));
});

Deno.test("client: a blob body cut mid-way is resumed with Range from the bytes received", async () => {
  const { reg, bytes, layer } = await pullThrough(undefined, [
    { method: "GET", path: BLOB_PATH, times: 1, fault: { cutAfter: 65_536 } },
  ]);
  assert.deepEqual(bytes, layer.bytes);
  const gets = reg.log.filter((e) => e.method === "GET" && BLOB_PATH.test(e.path));
  assert.equal(gets.length, 2, JSON.stringify(gets));
  assert.equal(gets[0].range, null);
  const from = Number(/^bytes=(\d+)-$/.exec(gets[1].range ?? "")?.[1]);
  assert.ok(from > 0 && from <= 65_536, `resumed with ${gets[1].range}`);
});

Deno.test("client: a blob pushed from another repository of the registry is mounted, not uploaded", async () => {
  // Challenges name no scope: the client itself must ask for push here and pull there.
  await using reg = await startMemoryRegistry({ auth: { bearer: { ...USER, omitScope: true } } });
  const layer = blob(OCI_LAYER_TAR, randomBytes(50_000));
  await reg.store.repository("lib/base").push(layer.desc, bytesSource(layer.bytes));
  const client = memoryRegistryClient({ credentials: USER });
  try {
    const registry = client.registry(reg.host);
    const from = registry.repository("lib/base");
    await registry.repository("lib/app").push(layer.desc, () => {
      throw new Error("the source was read: the blob was uploaded, not mounted");
    }, { from });
  } finally {
    await client.close();
  }
  assert.ok(await reg.store.repository("lib/app").exists(layer.desc));
  const posts = reg.log.filter((e) => e.method === "POST" && e.status !== 401);
  assert.equal(posts.length, 1);
  assert.match(posts[0].path, /\?mount=sha256%3A[0-9a-f]{64}&from=lib%2Fbase$/);
  assert.equal(posts[0].status, 201);
  assert.equal(reg.log.filter((e) => e.method === "PUT" || e.method === "PATCH").length, 0);
  assert.ok(
    reg.tokenScopes.some((s) =>
      s.includes("repository:lib/app:pull,push") && s.includes("repository:lib/base:pull")
    ),
    `scopes asked: ${JSON.stringify(reg.tokenScopes)}`,
  );
});

Deno.test("client: a plain-HTTP registry on this machine is asked over HTTP only, with no TLS handshake", async () => {
  // A bare socket server, so that the first bytes of every connection can be seen: a TLS
  // handshake starts with a handshake record (0x16), an HTTP request with its method.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const firstBytes: number[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf).catch(() => null);
        if (n) {
          firstBytes.push(buf[0]);
          const head = new TextDecoder().decode(buf.subarray(0, n));
          const body = head.startsWith("GET /v2/ ") ? "{}" : "";
          const status = body ? "200 OK" : "404 Not Found";
          await conn.write(new TextEncoder().encode(
            `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\n` +
              `Docker-Distribution-API-Version: registry/2.0\r\nContent-Length: ${body.length}\r\n` +
              `Connection: close\r\n\r\n${body}`,
          )).catch(() => {});
        }
        conn.close();
      })();
    }
  })();
  const host = `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const c = memoryRegistryClient({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
  try {
    await assert.rejects(c.registry(host).repository("lib/app").resolve("1.0"));
    assert.ok(firstBytes.length >= 2, `connections: ${firstBytes.length}`);
    assert.deepEqual(firstBytes.filter((b) => b === 0x16), [], "a TLS handshake was attempted");
  } finally {
    await c.close();
    listener.close();
    await serving.catch(() => {});
  }
});
