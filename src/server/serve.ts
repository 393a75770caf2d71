/**
 * Running the registry handler as an HTTP(S) server (ferry's own HTTP/1.1 server, ../http1/).
 *
 * @module
 */
import { errorMessage, FerryError } from "../errors.ts";
import type { Store } from "../store.ts";
import { createRegistryHandler, type RegistryHandlerOptions } from "./handler.ts";
import { type Http1LimitEvent, type Http1Server, serveHttp1 } from "../http1/mod.ts";

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
  /** A request body idle this many ms is cut off with 408 (default 60 s). */
  bodyTimeoutMs?: number;
  /** Connections open at once (default 512); more are closed on arrival. */
  maxConnections?: number;
  /** Connections open at once from one client address (default 256). */
  maxClientConnections?: number;
  /** Told when a connection limit turns connections away (once per episode). */
  onLimit?: (event: Http1LimitEvent) => void;
}

/** A started server. */
export interface RunningRegistryServer {
  /** The bound address (with the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** `http://HOST:PORT` or `https://…` (IPv6 hosts in brackets). */
  readonly url: string;
  /**
   * Stops accepting connections, lets the responses in flight finish, closes every connection
   * once its client has read everything, then removes the server's temp files. Safe to call more
   * than once.
   */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped. */
  readonly finished: Promise<void>;
}

/**
 * Starts serving `options.store` over the distribution API.
 *
 * @throws {FerryError} `io` when the address cannot be bound (in use, not local…), or the TLS
 * certificate or key is unusable.
 */
export function serveRegistry(options: ServeRegistryOptions): Promise<RunningRegistryServer> {
  const handler = createRegistryHandler(options.store, options);
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 5000;
  let server: Http1Server;
  try {
    server = serveHttp1({
      hostname,
      port,
      tls: options.tls,
      handler,
      bodyTimeoutMs: options.bodyTimeoutMs,
      maxConnections: options.maxConnections,
      maxClientConnections: options.maxClientConnections,
      onLimit: options.onLimit,
    });
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
