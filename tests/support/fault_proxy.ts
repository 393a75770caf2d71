/**
 * A reverse proxy in front of a test registry that injects network faults and logs every request,
 * so tests can check how a client retries, resumes and avoids refetching.
 *
 * Bodies stream both ways. Absolute `Location` headers that point at the upstream are rewritten
 * to the proxy, so upload sessions and redirects keep going through it. A cut blob download keeps
 * the upstream's `Content-Length` and closes the connection early: the client sees a truncated
 * body (an error), never a clean end of a shorter body.
 *
 * @module
 */

/** Fault injection rules. Counters start at zero when the rules are set. */
export interface FaultRules {
  /**
   * For the first `times` successful GETs whose path matches `path` (default: blob downloads,
   * `/v2/<name>/blobs/<digest>`) and whose body is longer than `bytes` (or of unknown length),
   * send only `bytes` bytes of the body, then cut the connection.
   */
  resetAfterBytes?: { bytes: number; times: number; path?: RegExp };
  /** Answer every k-th request (among those matching `statusPath`) with 500. */
  status500Every?: number;
  /** Answer every k-th request (among those matching `statusPath`) with 429 and `Retry-After`. */
  status429Every?: number;
  /** `Retry-After` seconds on injected 429s (default 1). */
  retryAfterSeconds?: number;
  /** Which requests the status rules count and hit (default: every request). */
  statusPath?: RegExp;
}

/** One request through the proxy. Updated while the body streams. */
export interface ProxyLogEntry {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  /** The request's `Range` header, if any. */
  range?: string;
  /** Status sent to the client (502 when the upstream could not be reached). */
  status: number;
  /** The fault injected into this request, if any. */
  fault?: "reset" | "500" | "429";
  /** Response body bytes sent to the client so far. */
  bytes: number;
}

/** A running fault proxy. Dispose it (or call `stop()`) to shut it down. */
export interface FaultProxy extends AsyncDisposable {
  /** `127.0.0.1:PORT`, to use in image references instead of the upstream's host. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The port. */
  readonly port: number;
  /** Every request so far, oldest first. */
  readonly log: readonly ProxyLogEntry[];
  /** Replaces the rules and resets their counters (the log is kept). */
  setFaults(rules: FaultRules): void;
  /** Empties the log. */
  clearLog(): void;
  /** Shuts the proxy down. */
  stop(): Promise<void>;
}

/** Options for {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** The upstream registry: `http://127.0.0.1:PORT` or `127.0.0.1:PORT`. */
  upstream: string;
  /** Initial rules (none: a transparent proxy). */
  faults?: FaultRules;
}

const BLOB_GET = /^\/v2\/.+\/blobs\/[a-z0-9]+:[a-f0-9]+$/;
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "te",
  "trailer",
  "host",
  "accept-encoding",
  "content-length",
]);
/** Request bodies up to this size are buffered so that the upstream still gets Content-Length. */
const BUFFER_LIMIT = 8 * 1024 * 1024;

/** The body of `upstream`, ending early (and erroring) after `cutAfter` bytes when given. */
function relayBody(
  upstream: ReadableStream<Uint8Array>,
  entry: ProxyLogEntry,
  cutAfter: number | undefined,
  hasLength: boolean,
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const cut = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    reader.cancel().catch(() => {});
    // With a Content-Length, closing early makes the server drop the connection mid-body. Without
    // one, a close would be a clean end of a chunked body, so fail the stream instead.
    if (hasLength) controller.close();
    else controller.error(new Error("fault proxy: connection cut"));
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (cutAfter !== undefined && entry.bytes >= cutAfter) return cut(controller);
      const { done, value } = await reader.read();
      if (done) return controller.close();
      let chunk = value;
      if (cutAfter !== undefined && entry.bytes + chunk.byteLength > cutAfter) {
        chunk = chunk.subarray(0, cutAfter - entry.bytes);
      }
      entry.bytes += chunk.byteLength;
      if (chunk.byteLength > 0) controller.enqueue(chunk);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** Starts a fault-injecting reverse proxy on a random 127.0.0.1 port. */
export function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(
    /^https?:\/\//.test(options.upstream) ? options.upstream : `http://${options.upstream}`,
  );
  let rules: FaultRules = options.faults ?? {};
  let statusCount = 0;
  let resets = 0;
  const log: ProxyLogEntry[] = [];
  let proxyOrigin = "";

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname + url.search;
    const entry: ProxyLogEntry = {
      method: req.method,
      path,
      ...(req.headers.has("range") ? { range: req.headers.get("range")! } : {}),
      status: 0,
      bytes: 0,
    };
    log.push(entry);

    if (rules.statusPath === undefined || rules.statusPath.test(url.pathname)) {
      statusCount++;
      const injected = rules.status500Every && statusCount % rules.status500Every === 0
        ? 500
        : rules.status429Every && statusCount % rules.status429Every === 0
        ? 429
        : undefined;
      if (injected) {
        await req.body?.cancel();
        entry.status = injected;
        entry.fault = injected === 500 ? "500" : "429";
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (injected === 429) headers["retry-after"] = String(rules.retryAfterSeconds ?? 1);
        const code = injected === 500 ? "UNKNOWN" : "TOOMANYREQUESTS";
        return Response.json(
          { errors: [{ code, message: `fault proxy: injected ${injected}` }] },
          { status: injected, headers },
        );
      }
    }

    const headers = new Headers();
    for (const [k, v] of req.headers) if (!HOP_BY_HOP.has(k)) headers.append(k, v);
    // The body must reach the client byte for byte: no transparent decompression on the way.
    headers.set("accept-encoding", "identity");
    let body: BodyInit | null = null;
    if (req.body) {
      const length = Number(req.headers.get("content-length") ?? NaN);
      body = Number.isFinite(length) && length <= BUFFER_LIMIT
        ? new Uint8Array(await req.arrayBuffer())
        : req.body;
    }
    let res: Response;
    try {
      res = await fetch(new URL(path, upstream), {
        method: req.method,
        headers,
        body,
        redirect: "manual",
        ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (err) {
      entry.status = 502;
      return Response.json(
        { errors: [{ code: "UNKNOWN", message: `fault proxy: upstream failed: ${err}` }] },
        { status: 502 },
      );
    }
    const out = new Headers();
    for (const [k, v] of res.headers) {
      if (k !== "connection" && k !== "keep-alive") out.append(k, v);
    }
    const location = res.headers.get("location");
    if (location) {
      const target = new URL(location, upstream);
      if (target.origin === upstream.origin) {
        // Relative locations resolve against the proxy already; absolute ones are rewritten.
        const absolute = /^https?:\/\//.test(location);
        out.set("location", absolute ? proxyOrigin + target.pathname + target.search : location);
      }
    }
    entry.status = res.status;
    let cutAfter: number | undefined;
    const reset = rules.resetAfterBytes;
    // Only a body longer than the cut counts: a cut that would deliver the whole body is no
    // fault, and counting it would let small blobs (configs) use up `times` depending on the
    // order in which a client happens to fetch.
    const length = Number(res.headers.get("content-length") ?? NaN);
    if (
      reset && req.method === "GET" && res.ok && res.body && resets < reset.times &&
      (reset.path ?? BLOB_GET).test(url.pathname) && !(length <= reset.bytes)
    ) {
      resets++;
      cutAfter = reset.bytes;
      entry.fault = "reset";
    }
    const nullBody = [101, 204, 205, 304].includes(res.status) || req.method === "HEAD";
    if (nullBody) await res.body?.cancel();
    const responseBody = res.body && !nullBody
      ? relayBody(res.body, entry, cutAfter, res.headers.has("content-length"))
      : null;
    return new Response(responseBody, { status: res.status, headers: out });
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  const port = server.addr.port;
  proxyOrigin = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  const stop = () => stopped ??= server.shutdown();
  return Promise.resolve({
    host: `127.0.0.1:${port}`,
    url: proxyOrigin,
    port,
    log,
    setFaults(next: FaultRules) {
      rules = next;
      statusCount = 0;
      resets = 0;
    },
    clearLog() {
      log.length = 0;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  });
}
