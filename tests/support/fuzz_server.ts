/**
 * Fuzzing `registry serve`: a served store holding a known image (both backends), requests
 * written as text so that a byte mutator edits their methods, targets, headers and bodies alike,
 * and the checks every answer must pass (below 500, an OCI error body for a refusal, nothing
 * changed by a refused write, the next valid request still answered).
 *
 * A script is one or more requests separated by a line `=====`; each request is
 * `METHOD TARGET`, header lines `Name: value`, an empty line and the body. `{loc}` in a target
 * stands for the `Location` of the latest answer that had one (an upload session).
 *
 * @module
 */
import assert from "node:assert/strict";
import { MemoryStore } from "../../src/memory_store/mod.ts";
import { OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from "../../src/media_types.ts";
import { RegistryDir } from "../../src/registry_dir/mod.ts";
import { createRegistryHandler, type RegistryHandler } from "../../src/server/mod.ts";
import type { Store } from "../../src/store.ts";
import { blob, makeImage, type TestBlob, type TestImage } from "./images.ts";
import { makeArtifact } from "./referrers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The repository the fixture image is in, and its tag. */
export const REPO = "fuzz/app";
/** The fixture image's tag. */
export const TAG = "v1";

/** Fixed content (no random bytes: a fuzz run must be the same every time). */
export function fixtureImage(): {
  image: TestImage;
  artifact: TestImage;
  index: TestBlob;
} {
  const image = makeImage({
    layers: [encoder.encode("layer one\n".repeat(40)), encoder.encode("layer two\n".repeat(70))],
  });
  const artifact = makeArtifact(image.manifest.desc, {
    content: encoder.encode('{"spdxVersion":"SPDX-2.3","name":"fuzz"}'),
  });
  const index = blob(
    OCI_INDEX,
    encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{
        ...image.manifest.desc,
        platform: { os: "linux", architecture: "amd64" },
      }],
    })),
  );
  return { image, artifact, index };
}

/** A served store and what the checks need. */
export interface ServedStore {
  kind: "memory" | "dir";
  handler: RegistryHandler;
  store: Store;
  /** Failures the handler reported to `onError` (each one a bug or a storage fault). */
  errors: unknown[];
  /** The fixture's manifest, tagged {@link TAG} in {@link REPO}. */
  image: TestImage;
  root?: string;
}

/** Runs `fn` over a store of `kind` holding the fixture image, its artifact and an index. */
export async function withServedStore(
  kind: "memory" | "dir",
  fn: (served: ServedStore) => Promise<void>,
  options: { allowDelete?: boolean } = {},
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-fuzz-server-" });
  let store: Store;
  if (kind === "memory") {
    store = new MemoryStore();
  } else {
    store = await RegistryDir.open(`${tmp}/reg`);
  }
  const errors: unknown[] = [];
  const handler = createRegistryHandler(store, {
    allowDelete: options.allowDelete ?? true,
    onError: (err) => errors.push(err),
  });
  const { image, artifact, index } = fixtureImage();
  try {
    const served = { kind, handler, store, errors, image, root: `${tmp}/reg` };
    for (const b of [image.config, ...image.layers, artifact.config, ...artifact.layers]) {
      await expectStatus(served, `POST /v2/${REPO}/blobs/uploads/?digest=${b.desc.digest}`, b, 201);
    }
    await expectStatus(served, `PUT /v2/${REPO}/manifests/${TAG}`, image.manifest, 201);
    await expectStatus(served, `PUT /v2/${REPO}/manifests/art`, artifact.manifest, 201);
    await expectStatus(served, `PUT /v2/${REPO}/manifests/multi`, index, 201);
    await fn(served);
  } finally {
    await handler.close();
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
}

async function expectStatus(
  served: ServedStore,
  line: string,
  content: TestBlob,
  status: number,
): Promise<void> {
  const [method, target] = line.split(" ");
  const res = await served.handler(
    new Request(`http://registry.test${target}`, {
      method,
      body: content.bytes as Uint8Array<ArrayBuffer>,
      headers: { "Content-Type": content.desc.mediaType },
    }),
  );
  const text = await res.text();
  assert.equal(res.status, status, `${line}: ${text}`);
}

/** One request of a script. */
export interface ScriptRequest {
  method: string;
  target: string;
  headers: [string, string][];
  body: Uint8Array;
}

/** Writes requests as a script (see the module doc). */
export function writeScript(requests: ScriptRequest[]): Uint8Array {
  const parts = requests.map((r) => {
    const head = [`${r.method} ${r.target}`, ...r.headers.map(([n, v]) => `${n}: ${v}`)];
    const out = encoder.encode(head.join("\n") + "\n\n");
    const joined = new Uint8Array(out.length + r.body.length);
    joined.set(out);
    joined.set(r.body, out.length);
    return joined;
  });
  const sep = encoder.encode("\n=====\n");
  const total = parts.reduce((n, p) => n + p.length, 0) + sep.length * (parts.length - 1);
  const script = new Uint8Array(total);
  let at = 0;
  for (const [i, p] of parts.entries()) {
    if (i > 0) {
      script.set(sep, at);
      at += sep.length;
    }
    script.set(p, at);
    at += p.length;
  }
  return script;
}

function indexOf(bytes: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Reads a script back (whatever its bytes: a mutated one may be any shape). */
export function readScript(script: Uint8Array): ScriptRequest[] {
  const sep = encoder.encode("\n=====\n");
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (;;) {
    const at = indexOf(script, sep, from);
    if (at < 0) break;
    pieces.push(script.subarray(from, at));
    from = at + sep.length;
  }
  pieces.push(script.subarray(from));
  const blank = encoder.encode("\n\n");
  return pieces.slice(0, 8).map((piece) => {
    const end = indexOf(piece, blank, 0);
    const head = decoder.decode(end < 0 ? piece : piece.subarray(0, end)).split("\n");
    const body = end < 0 ? new Uint8Array() : piece.slice(end + 2);
    const line = head[0];
    const space = line.indexOf(" ");
    const headers: [string, string][] = [];
    for (const h of head.slice(1)) {
      const colon = h.indexOf(":");
      if (colon > 0) headers.push([h.slice(0, colon), h.slice(colon + 1).trim()]);
    }
    return {
      method: space < 0 ? line : line.slice(0, space),
      target: space < 0 ? "/" : line.slice(space + 1),
      headers,
      body,
    };
  });
}

/** Error codes of the distribution spec and those distribution adds. */
const CODES = new Set([
  "BLOB_UNKNOWN",
  "BLOB_UPLOAD_INVALID",
  "BLOB_UPLOAD_UNKNOWN",
  "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "SIZE_INVALID",
  "UNAUTHORIZED",
  "DENIED",
  "UNSUPPORTED",
  "TOOMANYREQUESTS",
  "RANGE_INVALID",
  "TAG_INVALID",
  "PAGINATION_NUMBER_INVALID",
]);

/** What one request got. */
export interface Answer {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/**
 * Sends one request as the HTTP/1 layer would hand it over (the target as sent beside a URL the
 * `Request` accepts), or undefined when the HTTP/1 layer would have refused it already (a method
 * or header `Request` refuses, a body on GET or HEAD). Checks the answer: below 500, an OCI error
 * body for a refusal, a body as long as its `Content-Length`.
 */
export async function send(
  served: ServedStore,
  req: ScriptRequest,
  label: string,
): Promise<Answer | undefined> {
  let request: Request;
  try {
    const headers = new Headers();
    for (const [n, v] of req.headers) headers.append(n, v);
    request = new Request("http://registry.test/", {
      method: req.method,
      headers,
      body: req.body.length > 0 ? req.body as Uint8Array<ArrayBuffer> : undefined,
    });
  } catch {
    return undefined;
  }
  if (!req.target.startsWith("/") || [...req.target].some((c) => c <= " " || c === "\x7f")) {
    return undefined; // not an origin-form target: the HTTP/1 layer answers 400
  }
  const before = served.errors.length;
  const res = await served.handler(request, { target: req.target });
  const body = new Uint8Array(await res.arrayBuffer());
  // `Request` spells the standard methods in capitals whatever the client sent (`hEAD` is HEAD).
  const method = request.method;
  const what = `${label}: ${req.method} ${req.target} → ${res.status}`;
  if (served.errors.length > before) {
    const err = served.errors[before];
    throw new Error(`${what}: the handler failed: ${err instanceof Error ? err.stack : err}`);
  }
  assert.ok(res.status < 500, `${what}: ${decoder.decode(body)}`);
  assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0", what);
  const length = res.headers.get("content-length");
  if (length !== null && method !== "HEAD") {
    assert.equal(body.length, Number(length), `${what}: body and Content-Length differ`);
  }
  if (res.status >= 400 && method !== "HEAD") {
    let doc: { errors?: { code?: unknown; message?: unknown }[] };
    try {
      doc = JSON.parse(decoder.decode(body));
    } catch {
      throw new Error(`${what}: error body is not JSON: ${decoder.decode(body)}`);
    }
    assert.ok(Array.isArray(doc.errors) && doc.errors.length > 0, `${what}: no errors list`);
    for (const e of doc.errors) {
      assert.ok(CODES.has(e.code as string), `${what}: unknown code ${e.code}`);
      assert.equal(typeof e.message, "string", what);
    }
  }
  return { status: res.status, headers: res.headers, body };
}

/** What a client can see of the store: repositories, their tags, what each tag names. */
export async function snapshot(served: ServedStore): Promise<string> {
  const repos = (await served.store.repositories()).sort();
  const out: string[] = [];
  for (const name of repos) {
    const repo = served.store.repository(name);
    for (const tag of (await repo.tags()).sort()) {
      out.push(`${name}:${tag}=${(await repo.resolve(tag)).digest}`);
    }
    out.push(`${name}`);
  }
  return out.join("\n");
}

/** The fixture image is still served whole by tag: the server keeps working. */
export async function checkStillServing(served: ServedStore, label: string): Promise<void> {
  const res = await served.handler(
    new Request(`http://registry.test/v2/${REPO}/manifests/${TAG}`, {
      headers: { Accept: OCI_MANIFEST },
    }),
  );
  const body = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200, `${label}: the next valid request got ${res.status}`);
  assert.deepEqual(body, served.image.manifest.bytes, `${label}: the manifest changed`);
  const layer = served.image.layers[1];
  const blobRes = await served.handler(
    new Request(`http://registry.test/v2/${REPO}/blobs/${layer.desc.digest}`),
  );
  const bytes = new Uint8Array(await blobRes.arrayBuffer());
  assert.equal(blobRes.status, 200, `${label}: a layer got ${blobRes.status}`);
  assert.deepEqual(bytes, layer.bytes, `${label}: a layer changed`);
}

/** Media types worth inserting whole into requests. */
export const MEDIA_TYPES = [OCI_MANIFEST, OCI_INDEX, OCI_EMPTY];
