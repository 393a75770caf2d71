/**
 * What every resource handler shares: the served store (its backend), the server's state (upload
 * sessions, manifest cache, referrers index), the switches that refuse operations, and the
 * distribution API's common answers and parameter checks.
 *
 * @module
 */
import { type Digest, isDigest } from "../../digest.ts";
import type { ServerBackend } from "../backend.ts";
import { type HttpError, httpError } from "../errors.ts";
import type { ManifestCache } from "../manifest_cache.ts";
import type { ReferrersIndex } from "../referrers.ts";
import type { UploadSessions } from "../uploads.ts";

/** The state of one served store, as the resource handlers see it. */
export interface HandlerContext {
  /** The store served. */
  readonly backend: ServerBackend;
  /** Whether `DELETE` of manifests, tags and blobs is allowed. */
  readonly allowDelete: boolean;
  /** Blob upload sessions in progress. */
  readonly uploads: UploadSessions;
  /** Recently served manifests. */
  readonly cache: ManifestCache;
  /** Which manifests name which as their subject. */
  readonly referrers: ReferrersIndex;
}

/** The request as a resource handler gets it: routed, with its query parsed. */
export interface ResourceRequest<R> {
  /** The matched route (names validated; digests and tags not yet). */
  readonly route: R;
  /** The request itself (method, headers, body). */
  readonly request: Request;
  /** The query parameters. */
  readonly query: URLSearchParams;
}

/** 405 `UNSUPPORTED` with an `Allow` header unless `method` is one of `methods`. */
export function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw httpError(405, "UNSUPPORTED", `method ${method} is not allowed here`, {
      headers: { Allow: methods.join(", ") },
    });
  }
}

/** 405 `UNSUPPORTED` unless deletes are enabled. */
export function deletable(ctx: HandlerContext): void {
  if (!ctx.allowDelete) {
    throw httpError(405, "UNSUPPORTED", "deletes are disabled on this registry");
  }
}

/** A digest from a path or query; 400 `DIGEST_INVALID` unless a well-formed sha256 digest. */
export function parseDigestParam(text: string): Digest {
  if (isDigest(text)) return text;
  const why = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(text) &&
      !text.startsWith("sha256:")
    ? "unsupported digest algorithm"
    : "invalid digest";
  throw httpError(400, "DIGEST_INVALID", `${why} ${JSON.stringify(text)}`, {
    detail: { digest: text },
  });
}

/** 404 `BLOB_UNKNOWN` for `digest`. */
export function blobUnknown(digest: Digest): HttpError {
  return httpError(404, "BLOB_UNKNOWN", `blob unknown to registry: ${digest}`, {
    detail: { digest },
  });
}

/** 201 for a blob now in repository `name` (a finished upload or a mount). */
export function blobCreated(name: string, digest: Digest): Response {
  return new Response(null, {
    status: 201,
    headers: {
      "Location": `/v2/${name}/blobs/${digest}`,
      "Docker-Content-Digest": digest,
      "Content-Length": "0",
    },
  });
}

/** A response without a body. */
export function empty(status: number): Response {
  return new Response(null, { status, headers: { "Content-Length": "0" } });
}

/** A JSON response (its headers only for `HEAD`). */
export function json(
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

/**
 * One page of a sorted list by the `n` and `last` parameters, and the `Link` to the next page
 * when one exists.
 */
export function paginate(
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
