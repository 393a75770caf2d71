/**
 * The distribution API (OCI distribution spec v1.1) as a fetch-style handler over a store:
 * `(Request) => Promise<Response>`, for `Deno.serve`, tests and embedding. This is the front door
 * (authentication, the read-only switch, error answers, the access log); each resource is answered
 * by its own handler in ./handlers/ (base, catalog, tags, manifests, blobs, uploads, referrers),
 * over the shared {@link HandlerContext}, as routes.ts matched it.
 *
 * ```ts
 * const handler = createRegistryHandler(await RegistryDir.open("registry"), { allowDelete: false });
 * Deno.serve({ hostname: "127.0.0.1", port: 5000 }, handler);
 * ```
 *
 * @module
 */
import type { Store } from "../store.ts";
import { backendFor, type ServerBackend } from "./backend.ts";
import { errorResponse, HttpError, httpError, toHttpError } from "./errors.ts";
import { handleBase } from "./handlers/base.ts";
import { handleBlob } from "./handlers/blobs.ts";
import { handleCatalog } from "./handlers/catalog.ts";
import type { HandlerContext, ResourceRequest } from "./handlers/context.ts";
import { handleManifest, loadManifest } from "./handlers/manifests.ts";
import { handleReferrers } from "./handlers/referrers.ts";
import { handleTags } from "./handlers/tags.ts";
import { handleUpload, handleUploads } from "./handlers/uploads.ts";
import type { Htpasswd } from "./htpasswd.ts";
import { ManifestCache } from "./manifest_cache.ts";
import { ReferrersIndex } from "./referrers.ts";
import { matchRoute, requestTarget, type Route } from "./routes.ts";
import { UploadSessions } from "./uploads.ts";

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

/**
 * The front door of one served store: authentication, the read-only switch, routing to the
 * resource handlers (./handlers/), error answers, the access log and the upload purge timer.
 */
class Registry {
  #backend: ServerBackend;
  #options: RegistryHandlerOptions;
  #readOnly: boolean;
  #ctx: HandlerContext;
  #purgeTimer?: ReturnType<typeof setInterval>;
  #purging?: Promise<void>;

  constructor(backend: ServerBackend, options: RegistryHandlerOptions) {
    this.#backend = backend;
    this.#options = options;
    this.#readOnly = (options.readOnly ?? false) || backend.readOnly;
    const uploads = new UploadSessions(backend);
    const ctx: HandlerContext = {
      backend,
      allowDelete: options.allowDelete ?? false,
      uploads,
      cache: new ManifestCache(MANIFEST_CACHE_BYTES),
      referrers: new ReferrersIndex({
        list: (name) => backend.manifestDigests(name),
        read: (name, digest) => loadManifest(ctx, name, digest).catch(() => undefined),
      }),
    };
    this.#ctx = ctx;
    const age = options.purgeUploadsAfterMs ?? 168 * HOUR_MS;
    if (age > 0 && !this.#readOnly) {
      const purge = () => {
        this.#purging ??= uploads.purge(Date.now() - age)
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

  /** The resource handler of `route` (each checks the method it was sent). */
  #dispatch(route: Route, request: Request, query: URLSearchParams): Promise<Response> {
    const ctx = this.#ctx;
    const req = <R>(r: R): ResourceRequest<R> => ({ route: r, request, query });
    switch (route.kind) {
      case "base":
        return Promise.resolve(handleBase(req(route)));
      case "catalog":
        return handleCatalog(ctx, req(route));
      case "tags":
        return handleTags(ctx, req(route));
      case "manifest":
        return handleManifest(ctx, req(route));
      case "blob":
        return handleBlob(ctx, req(route));
      case "uploads":
        return handleUploads(ctx, req(route));
      case "upload":
        return handleUpload(ctx, req(route));
      case "referrers":
        return handleReferrers(ctx, req(route));
    }
  }
}
