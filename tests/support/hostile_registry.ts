/**
 * A deliberately hostile registry: a small HTTP server on 127.0.0.1 whose every answer the test
 * scripts (redirects to other schemes and origins, challenges of its own, oversize bodies), and
 * which records every request it receives, so a test can assert what ferry sent where.
 *
 * Nothing real misbehaves on purpose, so this is the one place a scripted registry stands in for
 * a real one.
 *
 * @module
 */

/** One request the server received, body included. */
export interface SeenRequest {
  method: string;
  url: URL;
  /** The `Authorization` header, if any. */
  authorization: string | null;
  headers: Headers;
  body: Uint8Array;
}

/** Options of {@link startHostileRegistry}. */
export interface HostileRegistryOptions {
  /** Serve HTTPS with this PEM certificate and key (paths; see `selfSignedCert`). */
  tls?: { cert: string; key: string };
}

/** A running hostile registry; dispose it (or `stop()`) to shut it down. */
export interface HostileRegistry extends AsyncDisposable {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  /** `http://127.0.0.1:PORT` or `https://…`. */
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly requests: SeenRequest[];
  stop(): Promise<void>;
}

/**
 * Starts a server answering with `handler`; `undefined` from the handler means 200 for `/v2/` and
 * 404 otherwise. Request bodies are read whole before the handler runs (tests send small ones).
 */
export function startHostileRegistry(
  handler: (req: SeenRequest) => Response | undefined | Promise<Response | undefined>,
  options: HostileRegistryOptions = {},
): HostileRegistry {
  const requests: SeenRequest[] = [];
  const serveOptions = {
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    ...(options.tls
      ? {
        cert: Deno.readTextFileSync(options.tls.cert),
        key: Deno.readTextFileSync(options.tls.key),
      }
      : {}),
  };
  const server = Deno.serve(serveOptions, async (req) => {
    const seen: SeenRequest = {
      method: req.method,
      url: new URL(req.url),
      authorization: req.headers.get("authorization"),
      headers: req.headers,
      body: new Uint8Array(await req.arrayBuffer().catch(() => new ArrayBuffer(0))),
    };
    requests.push(seen);
    const res = await handler(seen);
    if (res) return res;
    return seen.url.pathname === "/v2/" ? new Response("{}") : new Response(null, { status: 404 });
  });
  const host = `127.0.0.1:${server.addr.port}`;
  let stopped: Promise<void> | undefined;
  const stop = () => stopped ??= server.shutdown();
  return {
    host,
    url: `${options.tls ? "https" : "http"}://${host}`,
    requests,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
