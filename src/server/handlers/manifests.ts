/**
 * `/v2/<name>/manifests/<reference>`: `GET`/`HEAD` by tag or digest (through the manifest
 * cache), `PUT` (checked: size, media type, digest, and every blob or child it names present with
 * its size) and `DELETE` (by digest, with its tags; or one tag).
 *
 * @module
 */
import { sha256 } from "../../digest.ts";
import { errorMessage, isFerryError } from "../../errors.ts";
import { type Descriptor, type Manifest, parseManifest } from "../../manifest.ts";
import { MANIFEST_TYPES, MAX_MANIFEST_SIZE } from "../../media_types.ts";
import { isTag } from "../../reference.ts";
import { bytesSource } from "../../store.ts";
import { readAll } from "../../streams.ts";
import { HttpError, httpError, type RegistryErrorEntry } from "../errors.ts";
import type { StoredManifest } from "../referrers.ts";
import type { RouteOf } from "../routes.ts";
import {
  allow,
  deletable,
  empty,
  type HandlerContext,
  parseDigestParam,
  type ResourceRequest,
} from "./context.ts";

/** Problems with a pushed manifest's references listed in one answer; the rest are not looked up. */
const MAX_REFERENCE_ERRORS = 100;

/**
 * Deepest nesting of arrays and objects in a pushed manifest (an index's platform features are 5
 * levels down). `JSON.parse` takes seconds of the server's one thread over 4 MiB of `[[[[…`.
 */
const MAX_MANIFEST_DEPTH = 64;

/** Answers the manifest endpoint. */
export function handleManifest(
  ctx: HandlerContext,
  { route, request }: ResourceRequest<RouteOf<"manifest">>,
): Promise<Response> {
  const method = request.method;
  allow(method, ["GET", "HEAD", "PUT", "DELETE"]);
  if (method === "PUT") return putManifest(ctx, route.name, route.reference, request);
  if (method === "DELETE") return deleteManifest(ctx, route.name, route.reference);
  return getManifest(ctx, route.name, route.reference, request.headers.get("accept"), method);
}

/** A manifest of `name` by tag or digest, from the cache when possible. */
export async function loadManifest(
  ctx: HandlerContext,
  name: string,
  reference: string,
): Promise<StoredManifest> {
  const repo = ctx.backend.repository(name);
  if (reference.includes(":")) {
    const digest = parseDigestParam(reference);
    const hit = ctx.cache.get(digest);
    if (
      hit && await repo.exists({ mediaType: hit.mediaType, digest, size: hit.bytes.byteLength })
    ) {
      return { digest, ...hit };
    }
  } else if (!isTag(reference)) {
    // No manifest can have a name that is not a tag: the spec answers a GET or HEAD of it 404.
    throw httpError(404, "MANIFEST_UNKNOWN", `manifest unknown to registry: ${reference}`, {
      detail: { name, reference },
    });
  }
  let desc: Descriptor;
  try {
    desc = await repo.resolve(reference);
  } catch (err) {
    if (isFerryError(err, "not_found")) {
      throw httpError(404, "MANIFEST_UNKNOWN", `manifest unknown to registry: ${reference}`, {
        detail: { name, reference },
      });
    }
    throw err;
  }
  const hit = ctx.cache.get(desc.digest);
  if (hit) return { digest: desc.digest, ...hit };
  const where = `${name}@${desc.digest}`;
  const bytes = await readAll(await repo.fetch(desc), MAX_MANIFEST_SIZE, where);
  if (await sha256(bytes) !== desc.digest) {
    throw new Error(`${repo.location}@${desc.digest}: stored manifest does not match its digest`);
  }
  ctx.cache.set(desc.digest, { mediaType: desc.mediaType, bytes });
  return { digest: desc.digest, mediaType: desc.mediaType, bytes };
}

async function getManifest(
  ctx: HandlerContext,
  name: string,
  reference: string,
  accept: string | null,
  method: string,
): Promise<Response> {
  const manifest = await loadManifest(ctx, name, reference);
  if (!accepts(accept, manifest.mediaType)) {
    // distribution answers so too (it would rewrite to schema 1, which ferry does not serve).
    throw httpError(
      404,
      "MANIFEST_UNKNOWN",
      `${manifest.mediaType} found, but the Accept header does not list it`,
      { detail: { name, reference } },
    );
  }
  const head = method === "HEAD";
  return new Response(head ? null : manifest.bytes as Uint8Array<ArrayBuffer>, {
    status: 200,
    headers: {
      "Content-Type": manifest.mediaType,
      "Content-Length": String(manifest.bytes.byteLength),
      "Docker-Content-Digest": manifest.digest,
      "ETag": `"${manifest.digest}"`,
    },
  });
}

async function putManifest(
  ctx: HandlerContext,
  name: string,
  reference: string,
  request: Request,
): Promise<Response> {
  const byDigest = reference.includes(":");
  const expected = byDigest ? parseDigestParam(reference) : undefined;
  if (!byDigest && !isTag(reference)) {
    throw httpError(400, "TAG_INVALID", `invalid tag ${JSON.stringify(reference)}`);
  }
  const tooLarge = () =>
    httpError(413, "MANIFEST_INVALID", `manifest is larger than ${MAX_MANIFEST_SIZE} bytes`);
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_MANIFEST_SIZE) throw tooLarge();
  let bytes: Uint8Array;
  try {
    bytes = await readAll(request.body ?? emptyStream(), MAX_MANIFEST_SIZE, "manifest");
  } catch (err) {
    if (isFerryError(err, "too_large")) throw tooLarge();
    throw httpError(400, "SIZE_INVALID", "request body ended before its Content-Length");
  }
  const contentType = request.headers.get("content-type")?.split(";")[0].trim() || undefined;
  if (contentType !== undefined && !MANIFEST_TYPES.includes(contentType)) {
    throw httpError(400, "MANIFEST_INVALID", `unsupported manifest media type ${contentType}`);
  }
  if (nestedDeeperThan(bytes, MAX_MANIFEST_DEPTH)) {
    throw httpError(
      400,
      "MANIFEST_INVALID",
      `manifest nests arrays and objects deeper than ${MAX_MANIFEST_DEPTH} levels`,
    );
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(bytes, contentType, "manifest");
  } catch (err) {
    throw httpError(400, "MANIFEST_INVALID", errorMessage(err));
  }
  if (contentType !== undefined && contentType !== manifest.mediaType) {
    throw httpError(
      400,
      "MANIFEST_INVALID",
      `Content-Type ${contentType} does not match the manifest's mediaType ${manifest.mediaType}`,
    );
  }
  const digest = await sha256(bytes);
  if (expected !== undefined && expected !== digest) {
    throw httpError(400, "DIGEST_INVALID", `manifest has digest ${digest}, not ${expected}`, {
      detail: { digest: expected },
    });
  }
  await checkReferences(ctx, name, manifest);

  const desc: Descriptor = { mediaType: manifest.mediaType, digest, size: bytes.byteLength };
  const repo = ctx.backend.repository(name);
  await repo.push(desc, bytesSource(bytes));
  if (!byDigest) await repo.tag(desc, reference);
  ctx.cache.set(digest, { mediaType: manifest.mediaType, bytes });
  const headers: Record<string, string> = {
    "Location": `/v2/${name}/manifests/${digest}`,
    "Docker-Content-Digest": digest,
    "Content-Length": "0",
  };
  if (manifest.subject) headers["OCI-Subject"] = manifest.subject.digest;
  return new Response(null, { status: 201, headers });
}

/**
 * Every blob (config, layers) or child manifest must be in the repository with the size the
 * descriptor says; foreign layers (with `urls`) are not stored and not checked.
 */
async function checkReferences(
  ctx: HandlerContext,
  name: string,
  manifest: Manifest,
): Promise<void> {
  const refs = manifest.kind === "index"
    ? manifest.manifests
    : [manifest.config, ...manifest.layers].filter((d) => !d.urls?.length);
  const errors: RegistryErrorEntry[] = [];
  // Each distinct descriptor is looked up once, and the answer lists at most MAX_REFERENCE_ERRORS:
  // a 4 MiB manifest can name the same missing blob tens of thousands of times.
  const seen = new Set<string>();
  for (const d of refs) {
    const key = `${d.digest} ${d.size}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (errors.length >= MAX_REFERENCE_ERRORS) break;
    const size = await ctx.backend.blobSize(name, d.digest);
    if (size === undefined) {
      errors.push({
        code: "MANIFEST_BLOB_UNKNOWN",
        message: `${
          manifest.kind === "index" ? "manifest" : "blob"
        } unknown to repository: ${d.digest}`,
        detail: { digest: d.digest },
      });
    } else if (size !== d.size) {
      errors.push({
        code: "MANIFEST_INVALID",
        message: `descriptor of ${d.digest} says ${d.size} bytes, the stored content has ${size}`,
        detail: { digest: d.digest },
      });
    }
  }
  if (errors.length > 0) throw new HttpError(400, errors);
}

async function deleteManifest(
  ctx: HandlerContext,
  name: string,
  reference: string,
): Promise<Response> {
  deletable(ctx);
  if (reference.includes(":")) {
    const digest = parseDigestParam(reference);
    if (!await ctx.backend.deleteManifest(name, digest)) {
      throw httpError(404, "MANIFEST_UNKNOWN", `manifest unknown to registry: ${digest}`);
    }
    ctx.cache.delete(digest);
  } else {
    if (!isTag(reference)) {
      throw httpError(400, "TAG_INVALID", `invalid tag ${JSON.stringify(reference)}`);
    }
    if (!await ctx.backend.deleteTag(name, reference)) {
      throw httpError(404, "MANIFEST_UNKNOWN", `tag unknown to registry: ${reference}`);
    }
  }
  return empty(202);
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}

/**
 * Whether a client's `Accept` header takes `mediaType`. No header, an empty one or a wildcard
 * takes anything: curl and older clients send none, and the spec makes the header a SHOULD.
 */
export function accepts(header: string | null, mediaType: string): boolean {
  if (header === null || header.trim() === "") return true;
  for (const item of header.split(",")) {
    const type = item.split(";")[0].trim().toLowerCase();
    if (type === mediaType || type === "*/*" || type === "application/*") return true;
  }
  return false;
}

/**
 * Whether JSON text nests arrays and objects deeper than `max`: one pass over the bytes, brackets
 * inside strings skipped (the text need not be valid JSON; the parser judges that).
 */
function nestedDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next byte is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
