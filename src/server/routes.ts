/**
 * The endpoints of the distribution API, matched on the request path exactly as the client sent
 * it: `WHATWG` URL parsing would fold `/v2/a/%2e%2e/b` into `/v2/b`, so dot segments (plain or
 * percent-encoded) are refused here instead of being resolved, and names are checked against
 * distribution's grammar before anything touches storage.
 *
 * @module
 */
import { isRepositoryName } from "../reference.ts";
import { httpError } from "./errors.ts";

/** An endpoint and its path parameters (names validated; digests and tags not yet). */
export type Route =
  | { kind: "base" }
  | { kind: "catalog" }
  | { kind: "tags"; name: string }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "uploads"; name: string }
  | { kind: "upload"; name: string; id: string }
  | { kind: "referrers"; name: string; digest: string };

/** The route of one kind of endpoint (`RouteOf<"manifest">`). */
export type RouteOf<K extends Route["kind"]> = Extract<Route, { kind: K }>;

/** The path and query of a request, undecoded. */
export interface RequestTarget {
  /** Path as sent (`/v2/library/nginx/manifests/1.25`). */
  path: string;
  /** Query parameters (decoded by URLSearchParams). */
  query: URLSearchParams;
  /** Path and query as sent, for logs. */
  raw: string;
}

/** Splits `request.url` into path and query without normalising the path. */
export function requestTarget(url: string): RequestTarget {
  const scheme = url.indexOf("://");
  let start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) start = url.length;
  const hash = url.indexOf("#", start);
  const raw = url.slice(start, hash < 0 ? url.length : hash) || "/";
  const q = raw.indexOf("?");
  return {
    path: q < 0 ? raw : raw.slice(0, q),
    query: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)),
    raw,
  };
}

/** Upload session ids ferry (and distribution) hand out: lowercase UUIDs. */
const UPLOAD_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const PATTERNS: [RegExp, (m: RegExpMatchArray) => Route][] = [
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: "tags", name: m[1] })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: "manifest", name: m[1], reference: m[2] })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: "uploads", name: m[1] })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: "upload", name: m[1], id: m[2] })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: "blob", name: m[1], digest: m[2] })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: "referrers", name: m[1], digest: m[2] })],
];

/**
 * The route of a request path.
 *
 * @throws {HttpError} 400 `NAME_INVALID` for dot segments or names outside the grammar,
 * 404 `BLOB_UPLOAD_UNKNOWN` for a malformed upload id, 404 `UNSUPPORTED` for anything else.
 */
export function matchRoute(path: string): Route {
  if (path === "/v2" || path === "/v2/") return { kind: "base" };
  if (path === "/v2/_catalog") return { kind: "catalog" };
  if (!path.startsWith("/v2/")) throw notFound(path);
  for (const segment of path.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw httpError(400, "NAME_INVALID", "malformed percent-encoding in path");
    }
    if (decoded === "." || decoded === ".." || decoded.includes("/")) {
      throw httpError(400, "NAME_INVALID", "path segments '.', '..' and encoded '/' are refused");
    }
  }
  for (const [re, build] of PATTERNS) {
    const m = path.match(re);
    if (!m) continue;
    const route = build(m);
    if (route.kind !== "base" && route.kind !== "catalog" && !isRepositoryName(route.name)) {
      throw httpError(
        400,
        "NAME_INVALID",
        `invalid repository name ${JSON.stringify(route.name)}`,
        {
          detail: { name: route.name },
        },
      );
    }
    if (route.kind === "upload" && !UPLOAD_ID_RE.test(route.id)) {
      throw httpError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
    }
    return route;
  }
  throw notFound(path);
}

function notFound(path: string) {
  return httpError(404, "UNSUPPORTED", `no endpoint at ${JSON.stringify(path)}`);
}
