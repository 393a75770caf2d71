import { digestOf } from "../../tests/support/digest.ts";
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { type Digest, sha256 } from "../digest.ts";
import { MemoryStore } from "../memory_store/mod.ts";
import { DOCKER_MANIFEST, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from "../media_types.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import { makeImage, makeIndex, randomBytes, type TestBlob } from "../../tests/support/images.ts";
import { bytesSource, type Store } from "../store.ts";
import { createRegistryHandler, type RegistryHandler, type RegistryHandlerOptions } from "./mod.ts";
import { BcryptBusyError, BcryptPool } from "./bcrypt_pool.ts";
import { Htpasswd } from "./htpasswd.ts";

const encoder = new TextEncoder();

interface Env {
  handler: RegistryHandler;
  store: Store;
  root?: string;
}

type Kind = "memory" | "dir";

async function withRegistry(
  kind: Kind,
  options: RegistryHandlerOptions & { readOnlyDir?: boolean },
  fn: (env: Env) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-server-" });
  let store: Store;
  if (kind === "memory") {
    store = new MemoryStore();
  } else {
    await RegistryDir.open(`${tmp}/reg`).then((d) => d.close());
    store = await RegistryDir.open(`${tmp}/reg`, { readOnly: options.readOnlyDir });
  }
  const handler = createRegistryHandler(store, options);
  try {
    await fn({ handler, store, root: kind === "dir" ? `${tmp}/reg` : undefined });
  } finally {
    await handler.close();
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Runs `fn` against a memory store and a registry directory. */
function bothTest(
  name: string,
  fn: (env: Env) => Promise<void>,
  options: RegistryHandlerOptions = {},
): void {
  for (const kind of ["memory", "dir"] as const) {
    Deno.test(`handler (${kind}): ${name}`, () => withRegistry(kind, options, fn));
  }
}

interface CallOptions {
  body?: BodyInit | Uint8Array | null;
  headers?: Record<string, string>;
}

async function call(
  handler: RegistryHandler,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<{ res: Response; bytes: Uint8Array; json: () => Record<string, unknown> }> {
  const res = await handler(
    new Request(`http://registry.test${path}`, {
      method,
      body: options.body as BodyInit | null | undefined,
      headers: options.headers,
    }),
  );
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { res, bytes, json: () => JSON.parse(new TextDecoder().decode(bytes)) };
}

function errorCodes(json: Record<string, unknown>): string[] {
  return (json.errors as { code: string }[]).map((e) => e.code);
}

async function expectError(
  handler: RegistryHandler,
  method: string,
  path: string,
  status: number,
  code: string,
  options: CallOptions = {},
): Promise<Response> {
  const { res, json, bytes } = await call(handler, method, path, options);
  assert.equal(res.status, status, `${method} ${path}: ${new TextDecoder().decode(bytes)}`);
  if (method !== "HEAD") assert.deepEqual(errorCodes(json()), [code], `${method} ${path}`);
  assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
  return res;
}

/** Uploads a blob in one POST. */
async function putBlob(handler: RegistryHandler, name: string, blob: TestBlob): Promise<void> {
  const { res } = await call(
    handler,
    "POST",
    `/v2/${name}/blobs/uploads/?digest=${blob.desc.digest}`,
    {
      body: blob.bytes,
    },
  );
  assert.equal(res.status, 201);
}

async function putManifest(
  handler: RegistryHandler,
  name: string,
  reference: string,
  manifest: TestBlob,
): Promise<Response> {
  const { res, bytes } = await call(handler, "PUT", `/v2/${name}/manifests/${reference}`, {
    body: manifest.bytes,
    headers: { "Content-Type": manifest.desc.mediaType },
  });
  assert.equal(res.status, 201, new TextDecoder().decode(bytes));
  return res;
}

async function pushImage(
  handler: RegistryHandler,
  name: string,
  image: ReturnType<typeof makeImage>,
  tag?: string,
): Promise<void> {
  for (const b of [image.config, ...image.layers]) await putBlob(handler, name, b);
  await putManifest(handler, name, tag ?? image.manifest.desc.digest, image.manifest);
}

function bytesBlob(mediaType: string, bytes: Uint8Array): TestBlob {
  return { desc: { mediaType, digest: digestOf(bytes), size: bytes.byteLength }, bytes };
}

function jsonBlob(mediaType: string, value: unknown): TestBlob {
  return bytesBlob(mediaType, encoder.encode(JSON.stringify(value)));
}

bothTest("/v2/ answers with the API version header", async ({ handler }) => {
  const { res, json } = await call(handler, "GET", "/v2/");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
  assert.deepEqual(json(), {});
  const head = await call(handler, "HEAD", "/v2/");
  assert.equal(head.res.status, 200);
  assert.equal(head.bytes.byteLength, 0);
});

bothTest("a monolithic blob push is served with headers and ranges", async ({ handler }) => {
  const bytes = randomBytes(100_000);
  const digest = await sha256(bytes);
  await putBlob(handler, "a/b", bytesBlob("x", bytes));

  const head = await call(handler, "HEAD", `/v2/a/b/blobs/${digest}`);
  assert.equal(head.res.status, 200);
  assert.equal(head.res.headers.get("content-length"), "100000");
  assert.equal(head.res.headers.get("docker-content-digest"), digest);
  assert.equal(head.res.headers.get("content-type"), "application/octet-stream");
  assert.equal(head.bytes.byteLength, 0);

  const get = await call(handler, "GET", `/v2/a/b/blobs/${digest}`);
  assert.equal(get.res.status, 200);
  assert.deepEqual(get.bytes, bytes);

  const part = await call(handler, "GET", `/v2/a/b/blobs/${digest}`, {
    headers: { Range: "bytes=1000-1999" },
  });
  assert.equal(part.res.status, 206);
  assert.equal(part.res.headers.get("content-range"), "bytes 1000-1999/100000");
  assert.equal(part.res.headers.get("content-length"), "1000");
  assert.deepEqual(part.bytes, bytes.subarray(1000, 2000));

  const tail = await call(handler, "GET", `/v2/a/b/blobs/${digest}`, {
    headers: { Range: "bytes=99990-" },
  });
  assert.equal(tail.res.status, 206);
  assert.deepEqual(tail.bytes, bytes.subarray(99990));

  const past = await expectError(handler, "GET", `/v2/a/b/blobs/${digest}`, 416, "RANGE_INVALID", {
    headers: { Range: "bytes=100000-" },
  });
  assert.equal(past.headers.get("content-range"), "bytes */100000");

  // Another repository does not see it; a malformed digest is refused.
  await expectError(handler, "GET", `/v2/other/blobs/${digest}`, 404, "BLOB_UNKNOWN");
  await expectError(handler, "GET", `/v2/a/b/blobs/sha256:xyz`, 400, "DIGEST_INVALID");
  await expectError(handler, "GET", `/v2/a/b/blobs/md5:abc`, 400, "DIGEST_INVALID");
});

bothTest("chunked uploads: order, status, 416, size checks", async ({ handler }) => {
  const bytes = randomBytes(30_000);
  const digest = await sha256(bytes);
  const start = await call(handler, "POST", "/v2/c/blobs/uploads/");
  assert.equal(start.res.status, 202);
  assert.equal(start.res.headers.get("range"), "0-0");
  const location = start.res.headers.get("location")!;
  assert.match(location, /^\/v2\/c\/blobs\/uploads\/[0-9a-f-]{36}$/);
  assert.equal(start.res.headers.get("docker-upload-uuid"), location.split("/").at(-1));

  const chunk = (a: number, b: number, range = `${a}-${b - 1}`) =>
    call(handler, "PATCH", location, {
      body: bytes.slice(a, b),
      headers: { "Content-Range": range },
    });
  assert.equal((await chunk(0, 10_000)).res.status, 202);
  // Out of order: 416 with the current range, and nothing changes.
  const skipped = await chunk(15_000, 20_000);
  assert.equal(skipped.res.status, 416);
  assert.deepEqual(errorCodes(skipped.json()), ["RANGE_INVALID"]);
  assert.equal(skipped.res.headers.get("range"), "0-9999");
  assert.equal(skipped.res.headers.get("location"), location);
  // Malformed Content-Range.
  assert.equal((await chunk(10_000, 20_000, "ten-twenty")).res.status, 416);
  // A body that does not fill its Content-Range.
  const short = await chunk(10_000, 15_000, "10000-19999");
  assert.equal(short.res.status, 400);
  assert.deepEqual(errorCodes(short.json()), ["SIZE_INVALID"]);

  const status = await call(handler, "GET", location);
  assert.equal(status.res.status, 204);
  assert.equal(status.res.headers.get("range"), "0-9999");

  assert.equal((await chunk(10_000, 20_000)).res.status, 202);
  // Streamed chunk without Content-Range.
  const streamed = await call(handler, "PATCH", location, { body: bytes.slice(20_000, 25_000) });
  assert.equal(streamed.res.status, 202);
  assert.equal(streamed.res.headers.get("range"), "0-24999");
  const done = await call(handler, "PUT", `${location}?digest=${digest}`, {
    body: bytes.slice(25_000),
    headers: { "Content-Range": "25000-29999" },
  });
  assert.equal(done.res.status, 201);
  assert.equal(done.res.headers.get("location"), `/v2/c/blobs/${digest}`);
  assert.equal(done.res.headers.get("docker-content-digest"), digest);
  assert.deepEqual((await call(handler, "GET", `/v2/c/blobs/${digest}`)).bytes, bytes);
  // The session is over.
  await expectError(handler, "GET", location, 404, "BLOB_UPLOAD_UNKNOWN");
  await expectError(handler, "PATCH", location, 404, "BLOB_UPLOAD_UNKNOWN", { body: "x" });
});

bothTest("a digest that does not match ends the upload and stores nothing", async ({ handler }) => {
  const bytes = randomBytes(5000);
  const wrong = await sha256("something else");
  const start = await call(handler, "POST", "/v2/d/blobs/uploads/");
  const location = start.res.headers.get("location")!;
  await expectError(handler, "PUT", `${location}?digest=${wrong}`, 400, "DIGEST_INVALID", {
    body: bytes,
  });
  await expectError(handler, "GET", location, 404, "BLOB_UPLOAD_UNKNOWN");
  await expectError(handler, "HEAD", `/v2/d/blobs/${wrong}`, 404, "BLOB_UNKNOWN");
  await expectError(handler, "HEAD", `/v2/d/blobs/${await sha256(bytes)}`, 404, "BLOB_UNKNOWN");
  // Monolithic POST with a wrong digest, and a PUT without digest.
  await expectError(
    handler,
    "POST",
    `/v2/d/blobs/uploads/?digest=${wrong}`,
    400,
    "DIGEST_INVALID",
    {
      body: bytes,
    },
  );
  const again = await call(handler, "POST", "/v2/d/blobs/uploads/");
  await expectError(handler, "PUT", again.res.headers.get("location")!, 400, "DIGEST_INVALID");
  // Cancel.
  const cancelled = await call(handler, "DELETE", again.res.headers.get("location")!);
  assert.equal(cancelled.res.status, 204);
});

bothTest("a chunk that breaks off midway leaves the session as it was", async ({ handler }) => {
  const bytes = randomBytes(20_000);
  const start = await call(handler, "POST", "/v2/e/blobs/uploads/");
  const location = start.res.headers.get("location")!;
  await call(handler, "PATCH", location, { body: bytes.slice(0, 8000) });
  let sent = 0;
  const breaking = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= 3000) return c.error(new Error("connection reset"));
      c.enqueue(bytes.slice(8000 + sent, 8000 + sent + 1000));
      sent += 1000;
    },
  });
  const broken = await call(handler, "PATCH", location, { body: breaking });
  assert.equal(broken.res.status, 400);
  assert.equal((await call(handler, "GET", location)).res.headers.get("range"), "0-7999");
  await call(handler, "PATCH", location, {
    body: bytes.slice(8000),
    headers: { "Content-Range": "8000-19999" },
  });
  const done = await call(handler, "PUT", `${location}?digest=${await sha256(bytes)}`);
  assert.equal(done.res.status, 201);
});

bothTest("cross-repository mount", async ({ handler }) => {
  const blob = bytesBlob("x", randomBytes(3000));
  await putBlob(handler, "src", blob);
  const mounted = await call(
    handler,
    "POST",
    `/v2/dst/blobs/uploads/?mount=${blob.desc.digest}&from=src`,
  );
  assert.equal(mounted.res.status, 201);
  assert.equal(mounted.res.headers.get("location"), `/v2/dst/blobs/${blob.desc.digest}`);
  assert.deepEqual(
    (await call(handler, "GET", `/v2/dst/blobs/${blob.desc.digest}`)).bytes,
    blob.bytes,
  );
  // Not in `from`, malformed, or no `from`: a normal upload session.
  for (
    const query of [
      `mount=${await sha256("nope")}&from=src`,
      `mount=bad&from=src`,
      `mount=${blob.desc.digest}&from=..%2Fsrc`,
      `mount=${blob.desc.digest}`,
    ]
  ) {
    const res = await call(handler, "POST", `/v2/dst2/blobs/uploads/?${query}`);
    assert.equal(res.res.status, 202, query);
  }
});

bothTest(
  "manifests: a pushed index naming children many times gets one error per distinct child, at most 100",
  async ({ handler }) => {
    const child = (i: number) => ({
      mediaType: OCI_MANIFEST,
      digest: `sha256:${i.toString(16).padStart(64, "0")}`,
      size: 10,
    });
    // 20000 descriptors of one missing manifest, then 500 distinct missing ones.
    const manifests = [
      ...Array.from({ length: 20000 }, () => child(0)),
      ...Array.from({ length: 500 }, (_, i) => child(i + 1)),
    ];
    const res = await call(handler, "PUT", "/v2/img/manifests/many", {
      body: encoder.encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })),
      headers: { "Content-Type": OCI_INDEX },
    });
    assert.equal(res.res.status, 400);
    const details = (res.json().errors as { detail: { digest: string } }[]).map((e) =>
      e.detail.digest
    );
    assert.equal(details.length, 100);
    assert.deepEqual(details.slice(0, 3), [child(0).digest, child(1).digest, child(2).digest]);
  },
);

bothTest(
  "manifests: a pushed manifest nesting deeper than 64 levels is refused before it is parsed",
  async ({ handler }) => {
    const image = makeImage();
    for (const b of [image.config, ...image.layers]) await putBlob(handler, "img", b);
    const doc = JSON.parse(new TextDecoder().decode(image.manifest.bytes));
    const put = (value: unknown) =>
      call(handler, "PUT", "/v2/img/manifests/deep", {
        body: encoder.encode(JSON.stringify(value)),
        headers: { "Content-Type": OCI_MANIFEST },
      });
    // An annotation value is not checked by the parser: only the nesting refuses this one.
    const nest = (depth: number) => {
      let v: unknown = "x";
      for (let i = 0; i < depth; i++) v = [v];
      return v;
    };
    const deep = await put({ ...doc, annotations: { a: nest(70) } });
    assert.equal(deep.res.status, 400);
    assert.match(
      String((deep.json().errors as { message: string }[])[0].message),
      /deeper than 64/,
    );
    // Brackets inside strings do not count; 60 levels pass the check.
    const fine = await put({ ...doc, annotations: { a: "[".repeat(200), b: nest(60) } });
    assert.equal(fine.res.status, 201, new TextDecoder().decode(fine.bytes));
  },
);

bothTest("manifests: push by tag and digest, read back, validation", async ({ handler }) => {
  const image = makeImage();
  for (const b of [image.config, ...image.layers]) await putBlob(handler, "img", b);
  const digest = image.manifest.desc.digest;

  // Missing blobs: one error per blob, with its digest.
  const other = makeImage();
  const missing = await call(handler, "PUT", "/v2/img/manifests/m", {
    body: other.manifest.bytes,
    headers: { "Content-Type": OCI_MANIFEST },
  });
  assert.equal(missing.res.status, 400);
  assert.deepEqual(errorCodes(missing.json()), [
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_BLOB_UNKNOWN",
  ]);
  const details = (missing.json().errors as { detail: { digest: string } }[]).map((e) =>
    e.detail.digest
  );
  assert.deepEqual(details, [other.config.desc.digest, ...other.layers.map((l) => l.desc.digest)]);

  const body = image.manifest.bytes;
  await expectError(handler, "PUT", "/v2/img/manifests/t", 400, "MANIFEST_INVALID", {
    body,
    headers: { "Content-Type": DOCKER_MANIFEST },
  });
  await expectError(handler, "PUT", "/v2/img/manifests/t", 400, "MANIFEST_INVALID", {
    body,
    headers: { "Content-Type": "text/plain" },
  });
  await expectError(handler, "PUT", "/v2/img/manifests/t", 400, "MANIFEST_INVALID", {
    body: "{not json",
    headers: { "Content-Type": OCI_MANIFEST },
  });
  await expectError(
    handler,
    "PUT",
    `/v2/img/manifests/${await sha256("x")}`,
    400,
    "DIGEST_INVALID",
    { body, headers: { "Content-Type": OCI_MANIFEST } },
  );
  await expectError(handler, "PUT", "/v2/img/manifests/-bad", 400, "TAG_INVALID", {
    body,
    headers: { "Content-Type": OCI_MANIFEST },
  });
  const big = new Uint8Array(4 * 1024 * 1024 + 1).fill(0x20);
  await expectError(handler, "PUT", "/v2/img/manifests/big", 413, "MANIFEST_INVALID", {
    body: big,
    headers: { "Content-Type": OCI_MANIFEST },
  });
  // Without a Content-Length (streamed), the limit holds while reading.
  await expectError(handler, "PUT", "/v2/img/manifests/big", 413, "MANIFEST_INVALID", {
    body: new Blob([big]).stream(),
    headers: { "Content-Type": OCI_MANIFEST },
  });

  const created = await putManifest(handler, "img", "v1", image.manifest);
  assert.equal(created.headers.get("location"), `/v2/img/manifests/${digest}`);
  assert.equal(created.headers.get("docker-content-digest"), digest);
  assert.equal(created.headers.get("oci-subject"), null);

  for (const ref of ["v1", digest]) {
    const got = await call(handler, "GET", `/v2/img/manifests/${ref}`);
    assert.equal(got.res.status, 200);
    assert.deepEqual(got.bytes, image.manifest.bytes);
    assert.equal(got.res.headers.get("content-type"), OCI_MANIFEST);
    assert.equal(got.res.headers.get("docker-content-digest"), digest);
    const head = await call(handler, "HEAD", `/v2/img/manifests/${ref}`);
    assert.equal(head.res.headers.get("content-length"), String(image.manifest.bytes.byteLength));
    assert.equal(head.bytes.byteLength, 0);
  }
  // Manifests are readable through the blob endpoint too.
  assert.deepEqual(
    (await call(handler, "GET", `/v2/img/blobs/${digest}`)).bytes,
    image.manifest.bytes,
  );
  await expectError(handler, "GET", "/v2/img/manifests/v2", 404, "MANIFEST_UNKNOWN");
  await expectError(handler, "GET", "/v2/other/manifests/v1", 404, "MANIFEST_UNKNOWN");
  await expectError(handler, "HEAD", `/v2/other/manifests/${digest}`, 404, "MANIFEST_UNKNOWN");
  await expectError(handler, "GET", "/v2/img/manifests/sha256:123", 400, "DIGEST_INVALID");
});

bothTest("manifest GET honours the Accept header", async ({ handler }) => {
  const image = makeImage();
  await pushImage(handler, "img", image, "v1");
  const accepted = [
    undefined,
    "",
    OCI_MANIFEST,
    `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.5`,
    "application/*",
    "*/*",
  ];
  for (const accept of accepted) {
    const headers: Record<string, string> = accept === undefined ? {} : { Accept: accept };
    const got = await call(handler, "GET", "/v2/img/manifests/v1", { headers });
    assert.equal(got.res.status, 200, `Accept: ${accept}`);
    assert.deepEqual(got.bytes, image.manifest.bytes);
  }
  for (const method of ["GET", "HEAD"]) {
    await expectError(handler, method, "/v2/img/manifests/v1", 404, "MANIFEST_UNKNOWN", {
      headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_INDEX}` },
    });
  }
});

bothTest("an index needs its child manifests", async ({ handler }) => {
  const index = makeIndex();
  const missing = await call(handler, "PUT", "/v2/multi/manifests/1", {
    body: index.index.bytes,
    headers: { "Content-Type": OCI_INDEX },
  });
  assert.equal(missing.res.status, 400);
  assert.deepEqual(errorCodes(missing.json()), ["MANIFEST_BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"]);
  for (const image of index.images) await pushImage(handler, "multi", image);
  await putManifest(handler, "multi", "1", index.index);
  const got = await call(handler, "GET", "/v2/multi/manifests/1");
  assert.equal(got.res.headers.get("content-type"), OCI_INDEX);
  assert.deepEqual(got.bytes, index.index.bytes);
});

bothTest("tags and catalog paginate with Link", async ({ handler }) => {
  for (const name of ["r/a", "r/b", "r/c"]) {
    const image = makeImage({ layerSizes: [100] });
    await pushImage(handler, name, image, "t0");
    if (name === "r/a") {
      for (const tag of ["t1", "t2", "t3", "t4"]) {
        await putManifest(handler, name, tag, image.manifest);
      }
    }
  }
  const all = await call(handler, "GET", "/v2/r/a/tags/list");
  assert.deepEqual(all.json(), { name: "r/a", tags: ["t0", "t1", "t2", "t3", "t4"] });
  const first = await call(handler, "GET", "/v2/r/a/tags/list?n=2");
  assert.deepEqual(first.json().tags, ["t0", "t1"]);
  assert.equal(first.res.headers.get("link"), '</v2/r/a/tags/list?n=2&last=t1>; rel="next"');
  const second = await call(handler, "GET", "/v2/r/a/tags/list?n=2&last=t1");
  assert.deepEqual(second.json().tags, ["t2", "t3"]);
  const third = await call(handler, "GET", "/v2/r/a/tags/list?n=2&last=t3");
  assert.deepEqual(third.json().tags, ["t4"]);
  assert.equal(third.res.headers.get("link"), null);
  assert.deepEqual((await call(handler, "GET", "/v2/r/a/tags/list?n=0")).json().tags, []);
  await expectError(handler, "GET", "/v2/r/a/tags/list?n=-1", 400, "PAGINATION_NUMBER_INVALID");
  await expectError(handler, "GET", "/v2/r/none/tags/list", 404, "NAME_UNKNOWN");

  const catalog = await call(handler, "GET", "/v2/_catalog?n=2");
  assert.deepEqual(catalog.json(), { repositories: ["r/a", "r/b"] });
  assert.equal(catalog.res.headers.get("link"), '</v2/_catalog?n=2&last=r%2Fb>; rel="next"');
  const rest = await call(handler, "GET", "/v2/_catalog?n=2&last=r%2Fb");
  assert.deepEqual(rest.json(), { repositories: ["r/c"] });
});

bothTest("referrers: subject, OCI-Subject and artifactType filter", async ({ handler, store }) => {
  const image = makeImage();
  await pushImage(handler, "app", image, "1");
  const subject = image.manifest.desc;
  const empty = bytesBlob(OCI_EMPTY, encoder.encode("{}"));
  await putBlob(handler, "app", empty);
  const artifact = (artifactType: string, note: string) =>
    jsonBlob(OCI_MANIFEST, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: empty.desc,
      layers: [empty.desc],
      subject,
      annotations: { note },
    });
  const sbom = artifact("application/spdx+json", "sbom");
  const sig = artifact("application/vnd.example.sig", "sig");

  // Asked before any referrer exists: an empty index, never 404.
  const none = await call(handler, "GET", `/v2/app/referrers/${subject.digest}`);
  assert.equal(none.res.status, 200);
  assert.deepEqual(none.json().manifests, []);

  const pushed = await putManifest(handler, "app", sbom.desc.digest, sbom);
  assert.equal(pushed.headers.get("oci-subject"), subject.digest);
  await putManifest(handler, "app", sig.desc.digest, sig);

  const all = await call(handler, "GET", `/v2/app/referrers/${subject.digest}`);
  assert.equal(all.res.headers.get("content-type"), OCI_INDEX);
  const index = all.json();
  assert.equal(index.mediaType, OCI_INDEX);
  const manifests = index.manifests as Record<string, unknown>[];
  assert.deepEqual(
    manifests.map((m) => [m.digest, m.artifactType, (m.annotations as { note: string }).note])
      .sort(),
    [
      [sbom.desc.digest, "application/spdx+json", "sbom"],
      [sig.desc.digest, "application/vnd.example.sig", "sig"],
    ].sort(),
  );
  assert.equal(all.res.headers.get("oci-filters-applied"), null);

  const filtered = await call(
    handler,
    "GET",
    `/v2/app/referrers/${subject.digest}?artifactType=${
      encodeURIComponent("application/spdx+json")
    }`,
  );
  assert.equal(filtered.res.headers.get("oci-filters-applied"), "artifactType");
  assert.deepEqual((filtered.json().manifests as { digest: Digest }[]).map((m) => m.digest), [
    sbom.desc.digest,
  ]);
  await expectError(handler, "GET", "/v2/app/referrers/sha256:nope", 400, "DIGEST_INVALID");

  // A referrer written into the store behind the server's back (another process) is seen at once.
  const late = artifact("application/vnd.example.late", "late");
  await store.repository("app").push(late.desc, bytesSource(late.bytes));
  const again = await call(handler, "GET", `/v2/app/referrers/${subject.digest}`);
  assert.ok(
    (again.json().manifests as { digest: Digest }[]).some((m) => m.digest === late.desc.digest),
  );
});

bothTest("deletes are refused unless enabled", async ({ handler }) => {
  const image = makeImage();
  await pushImage(handler, "del", image, "1");
  await expectError(handler, "DELETE", "/v2/del/manifests/1", 405, "UNSUPPORTED");
  await expectError(
    handler,
    "DELETE",
    `/v2/del/blobs/${image.layers[0].desc.digest}`,
    405,
    "UNSUPPORTED",
  );
  assert.equal((await call(handler, "GET", "/v2/del/manifests/1")).res.status, 200);
});

bothTest("deletes of tags, manifests and blobs when enabled", async ({ handler }) => {
  const image = makeImage();
  await pushImage(handler, "del", image, "1");
  await putManifest(handler, "del", "2", image.manifest);
  assert.equal((await call(handler, "DELETE", "/v2/del/manifests/1")).res.status, 202);
  await expectError(handler, "GET", "/v2/del/manifests/1", 404, "MANIFEST_UNKNOWN");
  const digest = image.manifest.desc.digest;
  assert.equal((await call(handler, "DELETE", `/v2/del/manifests/${digest}`)).res.status, 202);
  await expectError(handler, "GET", `/v2/del/manifests/${digest}`, 404, "MANIFEST_UNKNOWN");
  await expectError(handler, "GET", "/v2/del/manifests/2", 404, "MANIFEST_UNKNOWN");
  const layer = image.layers[0].desc.digest;
  assert.equal((await call(handler, "DELETE", `/v2/del/blobs/${layer}`)).res.status, 202);
  await expectError(handler, "GET", `/v2/del/blobs/${layer}`, 404, "BLOB_UNKNOWN");
  await expectError(handler, "DELETE", `/v2/del/blobs/${layer}`, 404, "BLOB_UNKNOWN");
}, { allowDelete: true });

bothTest("read-only: every write is 405 UNSUPPORTED", async ({ handler }) => {
  await expectError(handler, "POST", "/v2/x/blobs/uploads/", 405, "UNSUPPORTED");
  await expectError(handler, "PUT", "/v2/x/manifests/t", 405, "UNSUPPORTED", { body: "{}" });
  await expectError(handler, "DELETE", "/v2/x/manifests/t", 405, "UNSUPPORTED");
  assert.equal((await call(handler, "GET", "/v2/")).res.status, 200);
}, { readOnly: true });

Deno.test("handler (dir): a read-only directory refuses writes", async () => {
  await withRegistry("dir", { readOnlyDir: true }, async ({ handler }) => {
    await expectError(handler, "POST", "/v2/x/blobs/uploads/", 405, "UNSUPPORTED");
  });
});

bothTest(
  "GET and HEAD of a manifest by a name that is not a tag: 404 MANIFEST_UNKNOWN",
  async ({ handler }) => {
    // The spec's answer for a manifest that does not exist, whatever its reference looks like.
    for (const reference of [".INVALID_MANIFEST_NAME", "-bad", "a".repeat(129)]) {
      for (const method of ["GET", "HEAD"]) {
        await expectError(handler, method, `/v2/x/manifests/${reference}`, 404, "MANIFEST_UNKNOWN");
      }
    }
  },
);

Deno.test("htpasswd: an unknown user costs the same bcrypt comparison as a wrong password", async () => {
  const hashes = { alice: bcrypt.hashSync("s3cret", 4), bob: bcrypt.hashSync("other", 5) };
  const compared: string[] = [];
  const htpasswd = Htpasswd.parse(
    `alice:${hashes.alice}\nbob:${hashes.bob}\n`,
    "test",
    {
      compare: (password, hash) => {
        compared.push(hash);
        return Promise.resolve(bcrypt.compareSync(password, hash));
      },
    },
  );
  const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;
  assert.equal(await htpasswd.verify(basic("alice", "wrong")), undefined);
  assert.deepEqual(compared, [hashes.alice]);
  // Not in the file: compared against the file's costliest hash, and refused even if it matches.
  assert.equal(await htpasswd.verify(basic("mallory", "guess")), undefined);
  assert.equal(await htpasswd.verify(basic("mallory", "other")), undefined);
  assert.deepEqual(compared, [hashes.alice, hashes.bob, hashes.bob]);
  assert.equal(await htpasswd.verify(basic("alice", "s3cret")), "alice");
  assert.equal(await htpasswd.verify(basic("alice", "s3cret")), "alice");
  assert.equal(compared.length, 4, "a verified header is remembered");
});

Deno.test("htpasswd: password checks run on worker threads behind a bounded queue (429 past it)", async () => {
  const pool = new BcryptPool({ threads: 1, maxQueue: 2 });
  try {
    const hash = bcrypt.hashSync("pw", 4);
    const checks = [pool.compare("pw", hash), pool.compare("no", hash), pool.compare("pw", hash)];
    // One on the thread, two waiting: the fourth is refused at once.
    await assert.rejects(pool.compare("pw", hash), BcryptBusyError);
    assert.deepEqual(await Promise.all(checks), [true, false, true]);
  } finally {
    pool.close();
  }
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const htpasswd = Htpasswd.parse(`alice:${bcrypt.hashSync("s3cret", 4)}\n`, "test", {
    compare: async () => {
      await gate;
      throw new BcryptBusyError();
    },
  });
  await withRegistry("memory", { htpasswd }, async ({ handler }) => {
    const pending = expectError(handler, "GET", "/v2/", 429, "TOOMANYREQUESTS", {
      headers: { Authorization: `Basic ${btoa("alice:s3cret")}` },
    });
    release();
    assert.equal((await pending).headers.get("retry-after"), "1");
  });
});

Deno.test("handler: htpasswd basic auth", async () => {
  const htpasswd = Htpasswd.parse(`alice:${bcrypt.hashSync("s3cret", 4)}\n`, "test");
  await withRegistry("memory", { htpasswd, realm: "test-realm" }, async ({ handler }) => {
    const denied = await expectError(handler, "GET", "/v2/", 401, "UNAUTHORIZED");
    assert.equal(denied.headers.get("www-authenticate"), 'Basic realm="test-realm"');
    const basic = (user: string, password: string) => ({
      Authorization: `Basic ${btoa(`${user}:${password}`)}`,
    });
    await expectError(handler, "GET", "/v2/", 401, "UNAUTHORIZED", {
      headers: basic("alice", "wrong"),
    });
    await expectError(handler, "GET", "/v2/", 401, "UNAUTHORIZED", {
      headers: basic("bob", "s3cret"),
    });
    await expectError(handler, "POST", "/v2/x/blobs/uploads/", 401, "UNAUTHORIZED");
    await expectError(handler, "GET", "/v2/", 401, "UNAUTHORIZED", {
      headers: { Authorization: "Bearer abc" },
    });
    for (let i = 0; i < 3; i++) {
      const ok = await call(handler, "GET", "/v2/", { headers: basic("alice", "s3cret") });
      assert.equal(ok.res.status, 200);
    }
  });
});

Deno.test("handler: access log lines never carry credentials", async () => {
  const htpasswd = Htpasswd.parse(`alice:${bcrypt.hashSync("s3cret", 4)}\n`, "test");
  const lines: string[] = [];
  await withRegistry(
    "memory",
    { htpasswd, accessLog: (l) => lines.push(l) },
    async ({ handler }) => {
      const auth = `Basic ${btoa("alice:s3cret")}`;
      await call(handler, "GET", "/v2/_catalog?n=1", { headers: { Authorization: auth } });
      await call(handler, "GET", "/v2/", {
        headers: { Authorization: `Basic ${btoa("alice:no")}` },
      });
    },
  );
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^- "alice" \[.+\] "GET \/v2\/_catalog\?n=1" 200 \d+ [\d.]+ms -$/);
  assert.match(lines[1], /"GET \/v2\/" 401 /);
  for (const line of lines) {
    assert.doesNotMatch(line, /s3cret|YWxpY2|Basic/);
  }
});

Deno.test("htpasswd: bcrypt only, errors name the line", () => {
  assert.throws(() => Htpasswd.parse("alice:{SHA}abc\n", "pw"), /pw:1: user "alice" has no bcrypt/);
  assert.throws(() => Htpasswd.parse("\n# c\nbob\n", "pw"), /pw:3: expected user:hash/);
  assert.throws(() => Htpasswd.parse("", "pw"), /no users/);
  const h = Htpasswd.parse(
    `# users\nalice:${bcrypt.hashSync("x", 4).replace("$2b$", "$2y$")}\n`,
    "pw",
  );
  assert.equal(h.size, 1);
});

Deno.test("handler (dir): upload sessions live in _uploads and survive a restart", async () => {
  await withRegistry("dir", {}, async ({ handler, store, root }) => {
    const bytes = randomBytes(50_000);
    const start = await call(handler, "POST", "/v2/keep/blobs/uploads/");
    const location = start.res.headers.get("location")!;
    const id = location.split("/").at(-1)!;
    await call(handler, "PATCH", location, { body: bytes.slice(0, 20_000) });
    const sessionDir = `${root}/docker/registry/v2/repositories/keep/_uploads/${id}`;
    assert.equal((await Deno.stat(`${sessionDir}/data`)).size, 20_000);
    assert.match(await Deno.readTextFile(`${sessionDir}/startedat`), /^\d{4}-\d\d-\d\dT[\d:]+Z$/);

    // A new server over the same directory picks the session up from disk.
    const restarted = createRegistryHandler(store);
    try {
      const status = await call(restarted, "GET", location);
      assert.equal(status.res.status, 204);
      assert.equal(status.res.headers.get("range"), "0-19999");
      await call(restarted, "PATCH", location, {
        body: bytes.slice(20_000),
        headers: { "Content-Range": "20000-49999" },
      });
      const done = await call(restarted, "PUT", `${location}?digest=${await sha256(bytes)}`);
      assert.equal(done.res.status, 201);
    } finally {
      await restarted.close();
    }
    await assert.rejects(Deno.stat(sessionDir), Deno.errors.NotFound);
    const data = await Deno.readFile(
      `${root}/docker/registry/v2/blobs/sha256/${(await sha256(bytes)).slice(7, 9)}/${
        (await sha256(bytes)).slice(7)
      }/data`,
    );
    assert.deepEqual(data, bytes);
  });
});

Deno.test("handler (dir): upload sessions older than the purge age are removed at start", async () => {
  await withRegistry("dir", {}, async ({ handler, store, root }) => {
    const uploads = `${root}/docker/registry/v2/repositories/keep/_uploads`;
    const open = async () => {
      const start = await call(handler, "POST", "/v2/keep/blobs/uploads/");
      return start.res.headers.get("location")!.split("/").at(-1)!;
    };
    const fresh = await open();
    const old = await open();
    const eightDays = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    await Deno.writeTextFile(`${uploads}/${old}/startedat`, eightDays.toISOString());
    // A session without startedat is dated by its directory.
    const undated = await open();
    await Deno.remove(`${uploads}/${undated}/startedat`);
    await Deno.utime(`${uploads}/${undated}`, eightDays, eightDays);

    const restarted = createRegistryHandler(store);
    await restarted.close(); // waits for the purge begun at start
    const left = (await Array.fromAsync(Deno.readDir(uploads))).map((e) => e.name);
    assert.deepEqual(left, [fresh]);

    const readOnly = createRegistryHandler(store, { readOnly: true, purgeUploadsAfterMs: 1 });
    await readOnly.close();
    assert.deepEqual((await Array.fromAsync(Deno.readDir(uploads))).map((e) => e.name), [fresh]);
  });
});

Deno.test("handler (memory): sessions are purged on schedule", async () => {
  await withRegistry("memory", { purgeUploadsAfterMs: 50, purgeIntervalMs: 20 }, async (env) => {
    const start = await call(env.handler, "POST", "/v2/gone/blobs/uploads/");
    const location = start.res.headers.get("location")!;
    assert.equal((await call(env.handler, "GET", location)).res.status, 204);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expectError(env.handler, "GET", location, 404, "BLOB_UPLOAD_UNKNOWN");
  });
});

Deno.test("handler: unknown endpoints and methods", async () => {
  await withRegistry("memory", {}, async ({ handler }) => {
    await expectError(handler, "GET", "/v1/", 404, "UNSUPPORTED");
    const res = await expectError(handler, "POST", "/v2/x/tags/list", 405, "UNSUPPORTED");
    assert.equal(res.headers.get("allow"), "GET");
  });
});
