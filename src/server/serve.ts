/**
 * Running the registry handler as an HTTP(S) server with `Deno.serve`.
 *
 * @module
 */
import { errorMessage, FerryError } from "../errors.ts";
import type { Store } from "../store.ts";
import { errorResponse, httpError } from "./errors.ts";
import { createRegistryHandler, type RegistryHandlerOptions } from "./handler.ts";

/**
 * How long connections stay open after the last response was sent before shutdown closes them.
 * Closing a socket the client is still writing to (HTTP/2 flow-control updates while it reads the
 * tail of a blob) makes the kernel answer with a reset, and the client loses the bytes it had not
 * read yet. Go's net/http pauses for the same reason (its `rstAvoidanceDelay`, 500 ms).
 */
const LINGER_MS = 500;

/** Options for {@link serveRegistry}. */
export interface ServeRegistryOptions extends RegistryHandlerOptions {
  /** What to serve: a registry directory or a memory store (the caller closes it). */
  store: Store;
  /** Address to bind; default `127.0.0.1` (nothing beyond this host unless asked). */
  hostname?: string;
  /** Port; default 5000, 0 for any free port (see {@link RunningRegistryServer.addr}). */
  port?: number;
  /** Serve HTTPS with this PEM certificate chain and private key. */
  tls?: { cert: string; key: string };
  /** Milliseconds connections stay open after the last response before shutdown; default 500. */
  lingerMs?: number;
}

/** A started server. */
export interface RunningRegistryServer {
  /** The bound address (with the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** `http://HOST:PORT` or `https://…` (IPv6 hosts in brackets). */
  readonly url: string;
  /**
   * Answers new requests with 503 `UNAVAILABLE`, waits until every response in flight has been
   * sent, lets the clients read its tail, then closes the connections and removes the server's
   * temp files. Safe to call more than once.
   */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped. */
  readonly finished: Promise<void>;
}

/**
 * Starts serving `options.store` over the distribution API.
 *
 * @throws {FerryError} `io` when the address cannot be bound (in use, not local…).
 */
export function serveRegistry(options: ServeRegistryOptions): Promise<RunningRegistryServer> {
  const handler = createRegistryHandler(options.store, options);
  const drain = new Drain(options.lingerMs ?? LINGER_MS);
  const serve = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
    drain.track(info) ? handler(request, info) : unavailable(request);
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 5000;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    const base = { hostname, port, onListen: () => {} };
    server = options.tls
      ? Deno.serve({ ...base, cert: options.tls.cert, key: options.tls.key }, serve)
      : Deno.serve(base, serve);
  } catch (err) {
    return Promise.reject(
      new FerryError("io", `cannot listen on ${hostPort(hostname, port)}: ${errorMessage(err)}`, {
        cause: err,
      }),
    );
  }
  const addr = server.addr;
  const scheme = options.tls ? "https" : "http";
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      await drain.drained();
      await server.shutdown();
      await handler.close();
    })();
  const finished = server.finished.then(() => stopping ?? handler.close());
  return Promise.resolve({
    addr,
    url: `${scheme}://${hostPort(addr.hostname, addr.port)}`,
    shutdown,
    finished,
  });
}

function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * Counts the responses in flight and, once draining, turns new requests away.
 * `Deno.HttpServer.shutdown` closes a connection as soon as its last response is written; the
 * drain first lets every response finish and the clients catch up (see {@link LINGER_MS}).
 */
class Drain {
  #lingerMs: number;
  #inFlight = 0;
  #lastDone = -Infinity;
  #draining = false;
  #idle?: () => void;

  constructor(lingerMs: number) {
    this.#lingerMs = lingerMs;
  }

  /** Counts a request until its response is sent; false when draining (turn it away). */
  track(info: Deno.ServeHandlerInfo): boolean {
    if (this.#draining) return false;
    this.#inFlight++;
    const done = () => {
      this.#lastDone = performance.now();
      if (--this.#inFlight === 0) this.#idle?.();
    };
    info.completed.then(done, done);
    return true;
  }

  /** Stops taking requests; settles when none is in flight and the last one has lingered. */
  async drained(): Promise<void> {
    this.#draining = true;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#idle = resolve);
    const wait = this.#lastDone + this.#lingerMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

function unavailable(request: Request): Response {
  void request.body?.cancel().catch(() => {});
  const err = httpError(503, "UNAVAILABLE", "the registry is shutting down", {
    headers: { "Retry-After": "1" },
  });
  return errorResponse(err, request.method === "HEAD");
}
