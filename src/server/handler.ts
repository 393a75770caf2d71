/**
 * The distribution API (OCI distribution spec v1.1) as a fetch-style handler over a store:
 * `(Request) => Promise<Response>`, for `Deno.serve`, tests and embedding.
 *
 * ```ts
 * const handler = createRegistryHandler(await RegistryDir.open("registry"), { allowDelete: false });
 * Deno.serve({ hostname: "127.0.0.1", port: 5000 }, handler);
 * ```
 *
 * @module
 */
import { type Digest, isDigest, sha256 } from "../digest.ts";
import { errorMessage, isFerryError } from "../errors.ts";
import { type Descriptor, type Manifest, parseManifest } from "../manifest.ts";
import { MANIFEST_TYPES, MAX_MANIFEST_SIZE, OCI_INDEX } from "../media_types.ts";
import { isRepositoryName, isTag } from "../reference.ts";
import { bytesSource, type Store } from "../store.ts";
import { readAll } from "../streams.ts";
import { backendFor, type ServerBackend } from "./backend.ts";
import {
  errorResponse,
  HttpError,
  httpError,
  type RegistryErrorEntry,
  toHttpError,
} from "./errors.ts";
import type { Htpasswd } from "./htpasswd.ts";
import { ManifestCache } from "./manifest_cache.ts";
import { parseContentRange, parseRange, takeBytes } from "./range.ts";
import { ReferrersIndex, type StoredManifest } from "./referrers.ts";
import { matchRoute, requestTarget, type Route } from "./routes.ts";
import { rangeHeader, type UploadSession, UploadSessions } from "./uploads.ts";

/** Options for {@link createRegistryHandler}. */
export interface RegistryHandlerOptions {
  /** Refuse every write with 405 `UNSUPPORTED` (also implied by a read-only store). */
  readOnly?: boolean;
  /** Allow `DELETE` of manifests, tags and blobs (off by default, as in distribution). */
  allowDelete?: boolean;
  /** Require Basic authentication by these users (their password checks stop on `close()`). */
  htpasswd?: Htpasswd;
  /** Realm of the Basic challenge (default `ferry`). */
  realm?: string;
  /**
   * Upload sessions older than this many ms are removed, at start and then every
   * `purgeIntervalMs` (distribution's defaults: 168 h, every 24 h); 0 turns purging off. Off for
   * a read-only store.
   */
  purgeUploadsAfterMs?: number;
  /** How often to purge upload sessions (default 24 h). */
  purgeIntervalMs?: number;
  /** Receives one access-log line per request (never with credentials). */
  accessLog?: (line: string) => void;
  /**
   * Receives failures that did not come from checking the request (storage errors, bugs); they are
   * answered with a generic message (500 `UNKNOWN` for anything unexpected).
   */
  onError?: (err: unknown, request: Request) => void;
}

/** What the server knows of a request beyond the `Request` itself. */
export interface RequestInfo {
  /** The client's address (for the access log). */
  remoteAddr?: Deno.Addr;
  /**
   * The request target as sent (`/v2/…?…`): `Request.url` resolves dot segments (`..`, `%2e%2e`),
   * which must reach the name check as they came to be refused.
   */
  target?: string;
}

/** A registry request handler; `close()` removes its temp files once the server has stopped. */
export interface RegistryHandler {
  /** Answers one request. */
  (request: Request, info?: RequestInfo): Promise<Response>;
  /** Removes temp files (upload sessions of an in-memory store). */
  close(): Promise<void>;
}

/** The version header every response carries (clients look for it on `/v2/`). */
const API_VERSION = ["Docker-Distribution-API-Version", "registry/2.0"] as const;
/** Manifests kept in memory, by total size. */
const MANIFEST_CACHE_BYTES = 16 * 1024 * 1024;
const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const HOUR_MS = 60 * 60 * 1000;

/**
 * A handler serving `store` (a registry directory or a memory store) over the distribution API.
 *
 * @throws {FerryError} `unsupported` when the store cannot be served.
 */
export function createRegistryHandler(
  store: Store,
  options: RegistryHandlerOptions = {},
): RegistryHandler {
  const registry = new Registry(backendFor(store), options);
  const handler = (request: Request, info?: RequestInfo) => registry.handle(request, info);
  return Object.assign(handler, { close: () => registry.close() });
}

/** What a purge failure is reported against (`onError` takes the request that failed). */
const PURGE_REQUEST = new Request("http://ferry.invalid/_purge-uploads");

/** The state of one served store. */
class Registry {
  #backend: ServerBackend;
  #options: RegistryHandlerOptions;
  #readOnly: boolean;
  #uploads: UploadSessions;
  #cache = new ManifestCache(MANIFEST_CACHE_BYTES);
  #referrers: ReferrersIndex;
  #purgeTimer?: ReturnType<typeof setInterval>;
  #purging?: Promise<void>;

  constructor(backend: ServerBackend, options: RegistryHandlerOptions) {
    this.#backend = backend;
    this.#options = options;
    this.#readOnly = (options.readOnly ?? false) || backend.readOnly;
    this.#uploads = new UploadSessions(backend);
    this.#referrers = new ReferrersIndex({
      list: (name) => backend.manifestDigests(name),
      read: (name, digest) => this.#manifest(name, digest).catch(() => undefined),
    });
    const age = options.purgeUploadsAfterMs ?? 168 * HOUR_MS;
    if (age > 0 && !this.#readOnly) {
      const purge = () => {
        this.#purging ??= this.#uploads.purge(Date.now() - age)
          .then(() => {}, (err) => this.#options.onError?.(err, PURGE_REQUEST))
          .finally(() => this.#purging = undefined);
      };
      purge();
      const timer = setInterval(purge, options.purgeIntervalMs ?? 24 * HOUR_MS);
      Deno.unrefTimer(timer);
      this.#purgeTimer = timer;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#purgeTimer);
    this.#options.htpasswd?.close();
    await this.#purging;
    await this.#backend.close();
  }

  async handle(request: Request, info?: RequestInfo): Promise<Response> {
    const started = performance.now();
    const head = request.method === "HEAD";
    const target = requestTarget(info?.target ?? request.url);
    let user: string | undefined;
    let response: Response;
    try {
      const htpasswd = this.#options.htpasswd;
      if (htpasswd) {
        user = await htpasswd.verify(request.headers.get("authorization"));
        if (user === undefined) {
          const realm = (this.#options.realm ?? "ferry").replace(/["\\]/g, "");
          throw httpError(401, "UNAUTHORIZED", "authentication required", {
            headers: { "WWW-Authenticate": `Basic realm="${realm}"` },
          });
        }
      }
      const route = matchRoute(target.path);
      if (WRITE_METHODS.has(request.method) && this.#readOnly) {
        throw httpError(405, "UNSUPPORTED", "the registry is read-only");
      }
      response = await this.#dispatch(route, request, target.query);
    } catch (err) {
      const httpErr = toHttpError(err);
      if (!(err instanceof HttpError)) this.#options.onError?.(err, request);
      // An unread body would otherwise keep the client sending into a closed request.
      await request.body?.cancel().catch(() => {});
      response = errorResponse(httpErr, head);
    }
    response.headers.set(...API_VERSION);
    this.#log(request, target.raw, response, user, info, started);
    return response;
  }

  #log(
    request: Request,
    raw: string,
    response: Response,
    user: string | undefined,
    info: RequestInfo | undefined,
    started: number,
  ): void {
    const log = this.#options.accessLog;
    if (!log) return;
    const addr = info?.remoteAddr as Deno.NetAddr | undefined;
    const agent = request.headers.get("user-agent");
    log(
      `${addr?.hostname ?? "-"} ${user === undefined ? "-" : JSON.stringify(user)} ` +
        `[${new Date().toISOString()}] "${request.method} ${raw}" ${response.status} ` +
        `${response.headers.get("content-length") ?? "-"} ` +
        `${(performance.now() - started).toFixed(1)}ms ${agent ? JSON.stringify(agent) : "-"}`,
    );
  }

  #dispatch(route: Route, request: Request, query: URLSearchParams): Promise<Response> {
    const method = request.method;
    const head = method === "HEAD";
    switch (route.kind) {
      case "base":
        allow(method, ["GET", "HEAD"]);
        return Promise.resolve(json(200, {}, head));
      case "catalog":
        allow(method, ["GET"]);
        return this.#catalog(query);
      case "tags":
        allow(method, ["GET"]);
        return this.#tags(route.name, query);
      case "manifest":
        allow(method, ["GET", "HEAD", "PUT", "DELETE"]);
        if (method === "PUT") return this.#putManifest(route.name, route.reference, request);
        if (method === "DELETE") return this.#deleteManifest(route.name, route.reference);
        return this.#getManifest(route.name, route.reference, request.headers.get("accept"), head);
      case "blob":
        allow(method, ["GET", "HEAD", "DELETE"]);
        if (method === "DELETE") return this.#deleteBlob(route.name, route.digest);
        return this.#getBlob(route.name, route.digest, request, head);
      case "uploads":
        allow(method, ["POST"]);
        return this.#startUpload(route.name, request, query);
      case "upload":
        allow(method, ["GET", "PATCH", "PUT", "DELETE"]);
        return this.#upload(route.name, route.id, request, query);
      case "referrers":
        allow(method, ["GET"]);
        return this.#getReferrers(route.name, route.digest, query);
    }
  }

  // --- listings -------------------------------------------------------------------------------

  async #catalog(query: URLSearchParams): Promise<Response> {
    const { page, link } = paginate(
      await this.#backend.store.repositories(),
      query,
      "/v2/_catalog",
    );
    return json(200, { repositories: page }, false, link ? { Link: link } : {});
  }

  async #tags(name: string, query: URLSearchParams): Promise<Response> {
    const tags = await this.#backend.repository(name).tags();
    if (tags.length === 0 && !await this.#backend.hasRepository(name)) {
      throw httpError(404, "NAME_UNKNOWN", `repository ${name} is not known to the registry`, {
        detail: { name },
      });
    }
    const { page, link } = paginate(tags, query, `/v2/${name}/tags/list`);
    return json(200, { name, tags: page }, false, link ? { Link: link } : {});
  }

  async #getReferrers(name: string, digestText: string, query: URLSearchParams) {
    const subject = parseDigestParam(digestText);
    let manifests = await this.#referrers.referrers(name, subject);
    const artifactType = query.get("artifactType");
    const headers: Record<string, string> = {};
    if (artifactType !== null) {
      manifests = manifests.filter((d) => d.artifactType === artifactType);
      headers["OCI-Filters-Applied"] = "artifactType";
    }
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests };
    return json(200, index, false, { ...headers, "Content-Type": OCI_INDEX });
  }

  // --- manifests ------------------------------------------------------------------------------

  /** A manifest of `name` by tag or digest, from the cache when possible. */
  async #manifest(name: string, reference: string): Promise<StoredManifest> {
    const repo = this.#backend.repository(name);
    if (reference.includes(":")) {
      const digest = parseDigestParam(reference);
      const hit = this.#cache.get(digest);
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
    const hit = this.#cache.get(desc.digest);
    if (hit) return { digest: desc.digest, ...hit };
    const where = `${name}@${desc.digest}`;
    const bytes = await readAll(await repo.fetch(desc), MAX_MANIFEST_SIZE, where);
    if (sha256(bytes) !== desc.digest) {
      throw new Error(`${repo.location}@${desc.digest}: stored manifest does not match its digest`);
    }
    this.#cache.set(desc.digest, { mediaType: desc.mediaType, bytes });
    return { digest: desc.digest, mediaType: desc.mediaType, bytes };
  }

  async #getManifest(
    name: string,
    reference: string,
    accept: string | null,
    head: boolean,
  ): Promise<Response> {
    const manifest = await this.#manifest(name, reference);
    if (!accepts(accept, manifest.mediaType)) {
      // distribution answers so too (it would rewrite to schema 1, which ferry does not serve).
      throw httpError(
        404,
        "MANIFEST_UNKNOWN",
        `${manifest.mediaType} found, but the Accept header does not list it`,
        { detail: { name, reference } },
      );
    }
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

  async #putManifest(name: string, reference: string, request: Request): Promise<Response> {
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
    const digest = sha256(bytes);
    if (expected !== undefined && expected !== digest) {
      throw httpError(400, "DIGEST_INVALID", `manifest has digest ${digest}, not ${expected}`, {
        detail: { digest: expected },
      });
    }
    await this.#checkReferences(name, manifest);

    const desc: Descriptor = { mediaType: manifest.mediaType, digest, size: bytes.byteLength };
    const repo = this.#backend.repository(name);
    await repo.push(desc, bytesSource(bytes));
    if (!byDigest) await repo.tag(desc, reference);
    this.#cache.set(digest, { mediaType: manifest.mediaType, bytes });
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
  async #checkReferences(name: string, manifest: Manifest): Promise<void> {
    const refs = manifest.kind === "index"
      ? manifest.manifests
      : [manifest.config, ...manifest.layers].filter((d) => !d.urls?.length);
    const errors: RegistryErrorEntry[] = [];
    for (const d of refs) {
      const size = await this.#backend.blobSize(name, d.digest);
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

  async #deleteManifest(name: string, reference: string): Promise<Response> {
    this.#deletable();
    if (reference.includes(":")) {
      const digest = parseDigestParam(reference);
      if (!await this.#backend.deleteManifest(name, digest)) {
        throw httpError(404, "MANIFEST_UNKNOWN", `manifest unknown to registry: ${digest}`);
      }
      this.#cache.delete(digest);
    } else {
      if (!isTag(reference)) {
        throw httpError(400, "TAG_INVALID", `invalid tag ${JSON.stringify(reference)}`);
      }
      if (!await this.#backend.deleteTag(name, reference)) {
        throw httpError(404, "MANIFEST_UNKNOWN", `tag unknown to registry: ${reference}`);
      }
    }
    return empty(202);
  }

  // --- blobs ----------------------------------------------------------------------------------

  async #getBlob(name: string, digestText: string, request: Request, head: boolean) {
    const digest = parseDigestParam(digestText);
    const size = await this.#backend.blobSize(name, digest);
    if (size === undefined) throw blobUnknown(digest);
    const headers = new Headers({
      "Content-Type": "application/octet-stream",
      "Docker-Content-Digest": digest,
      "ETag": `"${digest}"`,
      "Accept-Ranges": "bytes",
      "Cache-Control": "max-age=31536000",
    });
    if (head) {
      headers.set("Content-Length", String(size));
      return new Response(null, { status: 200, headers });
    }
    const range = parseRange(request.headers.get("range"), size);
    if (range === "unsatisfiable") {
      throw httpError(416, "RANGE_INVALID", `requested range is outside the ${size}-byte blob`, {
        headers: { "Content-Range": `bytes */${size}` },
      });
    }
    const start = range?.start ?? 0;
    const length = range ? range.end - range.start + 1 : size;
    let stream: ReadableStream<Uint8Array>;
    try {
      stream = await this.#backend.openBlob(name, digest, start);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || isFerryError(err, "not_found")) {
        throw blobUnknown(digest);
      }
      throw err;
    }
    // Only a range that stops short of the end needs cutting (which costs the direct file path).
    if (start + length < size) stream = takeBytes(stream, length);
    headers.set("Content-Length", String(length));
    if (!range) return new Response(stream, { status: 200, headers });
    headers.set("Content-Range", `bytes ${range.start}-${range.end}/${size}`);
    return new Response(stream, { status: 206, headers });
  }

  async #deleteBlob(name: string, digestText: string): Promise<Response> {
    this.#deletable();
    const digest = parseDigestParam(digestText);
    if (!await this.#backend.deleteBlob(name, digest)) throw blobUnknown(digest);
    return empty(202);
  }

  #deletable(): void {
    if (!this.#options.allowDelete) {
      throw httpError(405, "UNSUPPORTED", "deletes are disabled on this registry");
    }
  }

  // --- uploads --------------------------------------------------------------------------------

  async #startUpload(name: string, request: Request, query: URLSearchParams): Promise<Response> {
    const mount = query.get("mount");
    const from = query.get("from");
    if (mount !== null && isDigest(mount) && from !== null && isRepositoryName(from)) {
      if (await this.#backend.mountBlob(name, from, mount)) {
        await request.body?.cancel().catch(() => {});
        return blobCreated(name, mount);
      }
    }
    const digests = query.getAll("digest");
    if (digests.length > 0) {
      // Monolithic upload in one POST.
      const digest = parseDigestParam(digests[0]);
      const session = await this.#uploads.create(name);
      try {
        await this.#uploads.finish(session, digest, request.body);
      } catch (err) {
        await this.#uploads.cancel(session).catch(() => {});
        throw err;
      }
      return blobCreated(name, digest);
    }
    await request.body?.cancel().catch(() => {});
    const session = await this.#uploads.create(name);
    return uploadStatus(202, session);
  }

  async #upload(name: string, id: string, request: Request, query: URLSearchParams) {
    const session = await this.#uploads.get(name, id);
    if (!session) {
      throw httpError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", {
        detail: { uuid: id },
      });
    }
    try {
      switch (request.method) {
        case "GET":
          return uploadStatus(204, session);
        case "DELETE":
          await this.#uploads.cancel(session);
          return empty(204);
        case "PATCH": {
          const range = chunkRange(request, session);
          return uploadStatus(202, await this.#uploads.append(session, request.body, range));
        }
        default: {
          const digests = query.getAll("digest");
          if (digests.length === 0) {
            throw httpError(400, "DIGEST_INVALID", "the digest parameter is missing");
          }
          const digest = parseDigestParam(digests[0]);
          const range = chunkRange(request, session);
          await this.#uploads.finish(session, digest, request.body, range);
          return blobCreated(name, digest);
        }
      }
    } catch (err) {
      if (err instanceof HttpError && err.status === 416) {
        Object.assign(err.headers, uploadHeaders(session));
      }
      throw err;
    }
  }
}

// --- helpers ----------------------------------------------------------------------------------

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw httpError(405, "UNSUPPORTED", `method ${method} is not allowed here`, {
      headers: { Allow: methods.join(", ") },
    });
  }
}

/** A digest from a path or query; 400 `DIGEST_INVALID` unless a well-formed sha256 digest. */
function parseDigestParam(text: string): Digest {
  if (isDigest(text)) return text;
  const why = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(text) &&
      !text.startsWith("sha256:")
    ? "unsupported digest algorithm"
    : "invalid digest";
  throw httpError(400, "DIGEST_INVALID", `${why} ${JSON.stringify(text)}`, {
    detail: { digest: text },
  });
}

function blobUnknown(digest: Digest): HttpError {
  return httpError(404, "BLOB_UNKNOWN", `blob unknown to registry: ${digest}`, {
    detail: { digest },
  });
}

/** The `Content-Range` of a chunk, checked against its `Content-Length`. */
function chunkRange(request: Request, session: UploadSession) {
  const header = request.headers.get("content-range");
  if (header === null) return undefined;
  const range = parseContentRange(header);
  if (!range) {
    throw httpError(416, "RANGE_INVALID", `malformed Content-Range ${JSON.stringify(header)}`, {
      headers: { Range: rangeHeader(session.size) },
    });
  }
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) !== range.end - range.start + 1) {
    throw httpError(
      400,
      "SIZE_INVALID",
      `Content-Length ${length} does not match Content-Range ${header}`,
    );
  }
  return range;
}

function uploadHeaders(session: UploadSession): Record<string, string> {
  return {
    "Location": `/v2/${session.name}/blobs/uploads/${session.id}`,
    "Range": rangeHeader(session.size),
    "Docker-Upload-UUID": session.id,
  };
}

function uploadStatus(status: 202 | 204, session: UploadSession): Response {
  return new Response(null, {
    status,
    headers: { ...uploadHeaders(session), "Content-Length": "0" },
  });
}

function blobCreated(name: string, digest: Digest): Response {
  return new Response(null, {
    status: 201,
    headers: {
      "Location": `/v2/${name}/blobs/${digest}`,
      "Docker-Content-Digest": digest,
      "Content-Length": "0",
    },
  });
}

function empty(status: number): Response {
  return new Response(null, { status, headers: { "Content-Length": "0" } });
}

function json(
  status: number,
  value: unknown,
  head: boolean,
  headers: Record<string, string> = {},
): Response {
  const body = new TextEncoder().encode(JSON.stringify(value));
  return new Response(head ? null : body, {
    status,
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      ...headers,
      "Content-Length": String(body.byteLength),
    },
  });
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}

/**
 * One page of a sorted list by the `n` and `last` parameters, and the `Link` to the next page
 * when one exists.
 */
function paginate(
  items: string[],
  query: URLSearchParams,
  base: string,
): { page: string[]; link?: string } {
  const last = query.get("last");
  const nText = query.get("n");
  let rest = last === null ? items : items.filter((i) => i > last);
  if (nText === null || nText === "") return { page: rest };
  if (!/^\d+$/.test(nText) || !Number.isSafeInteger(Number(nText))) {
    throw httpError(400, "PAGINATION_NUMBER_INVALID", `invalid number of results ${nText}`, {
      detail: { n: nText },
    });
  }
  const n = Number(nText);
  if (rest.length <= n) return { page: rest };
  rest = rest.slice(0, n);
  if (n === 0) return { page: rest };
  const next = `${base}?n=${n}&last=${encodeURIComponent(rest[n - 1])}`;
  return { page: rest, link: `<${next}>; rel="next"` };
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
