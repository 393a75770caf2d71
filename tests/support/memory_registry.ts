/**
 * ferry's own registry handler over a memory store, served on 127.0.0.1 in the test process, with
 * a small fault wrapper in front: by rule it delays a request, cuts a response body, answers
 * 401/429/5xx, or redirects a blob download to a second origin (a "CDN" serving the same store).
 * The core (copy engine, registry client, `saveImages`) is tested against it without any peer
 * program, the way go-containerregistry tests its client against its in-memory registry.
 *
 * ```ts
 * await using reg = await startMemoryRegistry({ auth: { bearer: { username: "u", password: "p" } } });
 * await pushImage(reg.store.repository("app"), makeImage(), "1.0");
 * reg.setFaults([{ path: BLOB_PATH, times: 1, fault: { cutAfter: 1000 } }]);
 * // … a RegistryClient on reg.host reads library/app:1.0; reg.log shows every request
 * ```
 *
 * Basic authentication is the handler's own (htpasswd, bcrypt); Bearer tokens are issued and
 * checked by the wrapper (the handler has no token auth), on `/token` of the same origin.
 *
 * @module
 */
import bcrypt from "bcryptjs";
import { Authenticator } from "../../src/auth/mod.ts";
import { MemoryStore } from "../../src/memory_store/mod.ts";
import { RegistryClient, type RetryPolicy } from "../../src/remote/mod.ts";
import { createRegistryHandler, Htpasswd, type RegistryHandler } from "../../src/server/mod.ts";

/** What a {@link FaultRule} does to a request it matches. */
export type Fault =
  /** Answer with this status (a distribution error body; `Retry-After` when given). */
  | { status: number; retryAfter?: string }
  /** Pass the request on, but send only `cutAfter` bytes of the body, then drop the connection. */
  | { cutAfter: number }
  /** Wait this long, then pass the request on. */
  | { delayMs: number }
  /** Answer 307 to the same path on the CDN origin (which serves the store without auth). */
  | { redirect: "cdn" }
  /**
   * Pass the request on, reading its body and sending the answer's body in `chunk`-byte pieces
   * `everyMs` apart: a registry on a slow link.
   */
  | { slow: { chunk: number; everyMs: number } };

/** One fault rule: which requests it matches, how many times, and what it does. */
export interface FaultRule {
  /** HTTP method matched (default: any). */
  method?: string;
  /** Path matched (default: any); the query is not part of it. */
  path?: RegExp;
  /** Requests hit before the rule stops matching (default: every one). */
  times?: number;
  /** What to do. */
  fault: Fault;
}

/** Authentication the registry demands on every `/v2/` request. */
export type MemoryRegistryAuth =
  /** Basic, checked by the handler's htpasswd support. */
  | { basic: { username: string; password: string } }
  /**
   * Bearer tokens from `/token` on the registry's origin, each granting the scopes asked for;
   * with `username`, the token endpoint demands Basic credentials of that user.
   */
  | {
    bearer: {
      username?: string;
      password?: string;
      /** Leave the scope out of challenges: the client must know which scope to ask for. */
      omitScope?: boolean;
    };
  };

/** One request the registry (or its CDN) received. */
export interface MemoryRegistryRequest {
  /** `registry`, `cdn` or `token` (the Bearer token endpoint). */
  origin: "registry" | "cdn" | "token";
  method: string;
  /** Path and query. */
  path: string;
  /** The `Authorization` header, if any. */
  authorization: string | null;
  /** The `Range` header, if any. */
  range: string | null;
  /** Status answered. */
  status: number;
  /** The fault applied, if any. */
  fault?: Fault;
}

/** Options of {@link startMemoryRegistry}. */
export interface MemoryRegistryOptions {
  /** Demand authentication (default: none). */
  auth?: MemoryRegistryAuth;
  /** Initial fault rules. */
  faults?: FaultRule[];
}

/** A running in-process registry. Dispose it (or `stop()`) to shut it down. */
export interface MemoryRegistry extends AsyncDisposable {
  /** The store served: push fixtures into it, inspect what a client wrote. */
  readonly store: MemoryStore;
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The CDN's `http://127.0.0.1:PORT`. */
  readonly cdnUrl: string;
  /** Every request so far (registry, CDN and token endpoint), oldest first. */
  readonly log: MemoryRegistryRequest[];
  /** Scopes asked of the token endpoint, one list per token request. */
  readonly tokenScopes: string[][];
  /** Replaces the fault rules (their counters start at zero). */
  setFaults(rules: FaultRule[]): void;
  /** Shuts down both servers and the handler. */
  stop(): Promise<void>;
}

/** Blob downloads and uploads' blob paths: `/v2/<name>/blobs/<digest>`. */
export const BLOB_PATH = /^\/v2\/.+\/blobs\/sha256:[0-9a-f]{64}$/;
/** Manifest paths: `/v2/<name>/manifests/<reference>`. */
export const MANIFEST_PATH = /^\/v2\/.+\/manifests\/[^/]+$/;
/** Upload paths: `/v2/<name>/blobs/uploads/…`. */
export const UPLOAD_PATH = /^\/v2\/.+\/blobs\/uploads\//;

const TOKEN_SERVICE = "ferry-memory-registry";

/**
 * A body that sends at most `bytes` bytes of `body`, then ends: short of its `Content-Length`,
 * so the server drops the connection and the client sees a truncated body, never a clean end.
 */
/** `body` in `chunk`-byte pieces, one every `everyMs`. */
function paced(
  body: ReadableStream<Uint8Array>,
  { chunk, everyMs }: { chunk: number; everyMs: number },
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let held: Uint8Array = new Uint8Array(0);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (held.length === 0) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        held = value;
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      controller.enqueue(held.slice(0, chunk));
      held = held.subarray(chunk);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

function cutBody(body: ReadableStream<Uint8Array>, bytes: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent >= bytes) {
        await reader.cancel();
        controller.close();
        return;
      }
      const { done, value } = await reader.read();
      if (done) return controller.close();
      const chunk = value.subarray(0, bytes - sent);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

function errorResponse(status: number, code: string, headers: HeadersInit = {}): Response {
  return Response.json({ errors: [{ code, message: `memory registry: ${code}` }] }, {
    status,
    headers,
  });
}

/** The scopes a request needs: pull for reads, pull+push for writes, pull of a mount's source. */
function neededScopes(method: string, url: URL): string[] {
  const m = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(url.pathname);
  if (!m) return [];
  const write = method !== "GET" && method !== "HEAD";
  const scopes = [`repository:${m[1]}:${write ? "pull,push" : "pull"}`];
  const from = url.searchParams.get("from");
  if (write && from) scopes.push(`repository:${from}:pull`);
  return scopes;
}

/** Whether the granted scopes cover every needed `repository:NAME:ACTIONS`. */
function covers(granted: string[], needed: string[]): boolean {
  const actions = new Map<string, Set<string>>();
  for (const s of granted) {
    const colon = s.lastIndexOf(":");
    const set = actions.get(s.slice(0, colon)) ?? new Set();
    for (const a of s.slice(colon + 1).split(",")) set.add(a);
    actions.set(s.slice(0, colon), set);
  }
  return needed.every((s) => {
    const colon = s.lastIndexOf(":");
    const have = actions.get(s.slice(0, colon));
    return s.slice(colon + 1).split(",").every((a) => have?.has(a));
  });
}

/** Starts the registry and its CDN on random 127.0.0.1 ports. */
export function startMemoryRegistry(
  options: MemoryRegistryOptions = {},
): Promise<MemoryRegistry> {
  const store = new MemoryStore();
  const auth = options.auth;
  const htpasswd = auth && "basic" in auth
    ? Htpasswd.parse(
      `${auth.basic.username}:${bcrypt.hashSync(auth.basic.password, 4)}\n`,
      "memory registry",
    )
    : undefined;
  const handler: RegistryHandler = createRegistryHandler(store, { htpasswd });
  const cdnHandler: RegistryHandler = createRegistryHandler(store, { readOnly: true });
  const log: MemoryRegistryRequest[] = [];
  const tokenScopes: string[][] = [];
  const tokens = new Map<string, string[]>();
  let rules: { rule: FaultRule; hits: number }[] = [];
  const setFaults = (next: FaultRule[]) => rules = next.map((rule) => ({ rule, hits: 0 }));
  setFaults(options.faults ?? []);

  const entry = (origin: MemoryRegistryRequest["origin"], req: Request, url: URL) => {
    const e: MemoryRegistryRequest = {
      origin,
      method: req.method,
      path: url.pathname + url.search,
      authorization: req.headers.get("authorization"),
      range: req.headers.get("range"),
      status: 0,
    };
    log.push(e);
    return e;
  };

  const token = (req: Request, url: URL): Response => {
    const bearer = auth && "bearer" in auth ? auth.bearer : undefined;
    if (bearer?.username !== undefined) {
      const expected = `Basic ${btoa(`${bearer.username}:${bearer.password ?? ""}`)}`;
      if (req.headers.get("authorization") !== expected) {
        return errorResponse(401, "UNAUTHORIZED");
      }
    }
    const scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    tokenScopes.push(scopes);
    const value = `t-${crypto.randomUUID()}`;
    tokens.set(value, scopes);
    return Response.json({ token: value, expires_in: 300 });
  };

  /** A 401 unless the request carries a token covering what it needs. */
  const bearerCheck = (req: Request, url: URL): Response | undefined => {
    const header = req.headers.get("authorization") ?? "";
    const granted = header.startsWith("Bearer ") ? tokens.get(header.slice(7)) : undefined;
    const needed = neededScopes(req.method, url);
    if (granted && covers(granted, needed)) return undefined;
    const omit = auth && "bearer" in auth && auth.bearer.omitScope;
    const scope = needed.length && !omit ? `,scope="${needed.join(" ")}"` : "";
    return errorResponse(401, "UNAUTHORIZED", {
      "www-authenticate": `Bearer realm="${registryUrl}/token",service="${TOKEN_SERVICE}"${scope}`,
    });
  };

  const registry = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname === "/token") {
      const e = entry("token", req, url);
      const res = token(req, url);
      e.status = res.status;
      return res;
    }
    const e = entry("registry", req, url);
    const found = rules.find(({ rule, hits }) =>
      hits < (rule.times ?? Infinity) &&
      (rule.method === undefined || rule.method === req.method) &&
      (rule.path === undefined || rule.path.test(url.pathname))
    );
    const fault = found?.rule.fault;
    if (found) {
      found.hits++;
      e.fault = fault;
    }
    const answer = (res: Response) => {
      e.status = res.status;
      return res;
    };
    if (fault && "status" in fault) {
      await req.body?.cancel();
      const headers: Record<string, string> = fault.retryAfter
        ? { "retry-after": fault.retryAfter }
        : {};
      return answer(
        errorResponse(fault.status, fault.status === 429 ? "TOOMANYREQUESTS" : "UNKNOWN", headers),
      );
    }
    if (fault && "delayMs" in fault) {
      // A client that gives up ends the wait too, so a stopped server is not held open.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, fault.delayMs);
        req.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
    if (auth && "bearer" in auth) {
      const refused = bearerCheck(req, url);
      if (refused) {
        await req.body?.cancel();
        return answer(refused);
      }
    }
    if (fault && "redirect" in fault) {
      await req.body?.cancel();
      return answer(
        new Response(null, { status: 307, headers: { location: cdnUrl + url.pathname } }),
      );
    }
    if (fault && "slow" in fault && req.body) {
      // The body read as slowly as a slow link delivers it.
      req = new Request(req, { body: paced(req.body, fault.slow), duplex: "half" } as RequestInit);
    }
    const res = await handler(req);
    if (fault && "slow" in fault && res.body) {
      return answer(new Response(paced(res.body, fault.slow), res));
    }
    if (fault && "cutAfter" in fault && res.body && res.headers.has("content-length")) {
      return answer(
        new Response(cutBody(res.body, fault.cutAfter), {
          status: res.status,
          headers: res.headers,
        }),
      );
    }
    return answer(res);
  };

  const cdn = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const e = entry("cdn", req, url);
    if ((req.method !== "GET" && req.method !== "HEAD") || !BLOB_PATH.test(url.pathname)) {
      e.status = 404;
      return errorResponse(404, "BLOB_UNKNOWN");
    }
    const res = await cdnHandler(req);
    e.status = res.status;
    return res;
  };

  const listen = { hostname: "127.0.0.1", port: 0, onListen() {} };
  const server = Deno.serve(listen, registry);
  const cdnServer = Deno.serve(listen, cdn);
  const host = `127.0.0.1:${server.addr.port}`;
  const registryUrl = `http://${host}`;
  const cdnUrl = `http://127.0.0.1:${cdnServer.addr.port}`;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await Promise.all([server.shutdown(), cdnServer.shutdown()]);
      await handler.close();
      await cdnHandler.close();
      await store.close();
    })();
  return Promise.resolve({
    store,
    host,
    url: registryUrl,
    cdnUrl,
    log,
    tokenScopes,
    setFaults,
    stop,
    [Symbol.asyncDispose]: stop,
  });
}

/** Options of {@link memoryRegistryClient}. */
export interface MemoryRegistryClientOptions {
  /** Basic credentials for every registry. */
  credentials?: { username: string; password: string };
  /** Retry tuning (default: 5 retries, 1 ms back-off doubling, at most 2 s per wait). */
  retry?: RetryPolicy;
  /** Receives the client's warnings (rate limits). */
  warn?: (line: string) => void;
  /** Wait at most this long for response headers (default 60 s). */
  timeoutMs?: number;
  /** The fetch registry requests go through (a recorder of what is sent, in order). */
  fetch?: typeof fetch;
}

/**
 * A registry client as the CLI builds one (an {@link Authenticator} answering challenges), with
 * short back-offs so retries cost no real time. The caller closes it.
 */
export function memoryRegistryClient(options: MemoryRegistryClientOptions = {}): RegistryClient {
  const credential = options.credentials && { kind: "basic" as const, ...options.credentials };
  const auth = new Authenticator({ credentials: () => Promise.resolve(credential) });
  return new RegistryClient({
    auth,
    retry: options.retry ?? { retries: 5, baseDelayMs: 1, maxDelayMs: 2000 },
    warn: options.warn,
    timeoutMs: options.timeoutMs,
    fetch: options.fetch,
  });
}
