/**
 * A WAN link in front of a loopback server, for the WAN benchmark (the kernel here has no netem):
 * a userspace TCP relay on 127.0.0.1 where every byte is delayed `oneWayDelayMs` in each
 * direction, a new connection costs one round trip before its first byte moves (as a TCP
 * handshake does), and the bytes of all connections share one FIFO link of `bitsPerSecond` per
 * direction (a chunk leaves when the link has sent everything queued before it). A connection
 * reads no further while its bytes wait more than {@link MAX_QUEUED_MS} for the link, so nothing
 * piles up in memory.
 *
 * It counts new connections and, from the request heads clients send, requests by kind and those
 * sent without `Authorization`. The bytes themselves pass untouched: token auth is the registry's
 * own (docker-registry's `auth: token`), and the token server sits behind a link of its own.
 *
 * @module
 */

/** Options of {@link startWanLink}. */
export interface WanLinkOptions {
  /** The server behind the link, `127.0.0.1:PORT`. */
  upstream: string;
  /** Delay added to each direction (default 20 ms: a 40 ms round trip). */
  oneWayDelayMs?: number;
  /** Capacity of the link per direction, shared by all connections (default 200 Mbit/s). */
  bitsPerSecond?: number;
}

/** What crossed the link since the last {@link WanLink.reset}. */
export interface WanCounts {
  /** TCP connections opened through the link. */
  connections: number;
  /** HTTP requests by kind: `ping`, `token`, `HEAD manifest`, `GET blob`, … */
  requests: Record<string, number>;
  /**
   * Requests sent without `Authorization` (not counting token requests): behind a registry that
   * demands a token for everything, each is answered 401.
   */
  unauthorized: number;
  /** Bytes sent from the registry side to the clients. */
  bytesDown: number;
  /**
   * Milliseconds from the reset to the first byte the link delivered of an answer to a blob GET
   * (when the link starts carrying what the floor counts), if any.
   */
  firstBlobByteMs?: number;
  /** Milliseconds from the reset to the last byte the link delivered to a client, if any. */
  lastByteMs?: number;
}

/** A running link. */
export interface WanLink {
  /** `127.0.0.1:PORT` of the link: what clients use as the registry's host. */
  readonly host: string;
  /** The counts since the last reset. */
  counts(): WanCounts;
  /** Starts counting afresh. */
  reset(): void;
  /** Closes both layers and every connection. */
  stop(): Promise<void>;
}

/** One direction of the link: a FIFO queue of `bitsPerSecond`, shared by every connection. */
class Wire {
  #freeAt = 0;
  readonly #msPerByte: number;
  constructor(bitsPerSecond: number) {
    this.#msPerByte = 8000 / bitsPerSecond;
  }
  /** When a chunk of `bytes` queued now has left the sender. */
  send(bytes: number): number {
    const now = performance.now();
    this.#freeAt = Math.max(now, this.#freeAt) + bytes * this.#msPerByte;
    return this.#freeAt;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** How far (in ms of link time) a connection may queue ahead of the link before it stops reading:
 * enough to keep the link busy across late timers on a loaded machine. */
const MAX_QUEUED_MS = 40;

/**
 * Copies `from` to `to` over `wire`: each chunk arrives `delayMs` after it has left the sender,
 * in order. Resolves when `from` ends (then closes `to`'s write side) or either fails.
 */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  wire: Wire,
  delayMs: number,
  onChunk: (chunk: Uint8Array) => void,
): Promise<void> {
  const queue: { data: Uint8Array; due: number }[] = [];
  let ended = false;
  let broken = false;
  let wake: (() => void) | undefined;
  const writer = (async () => {
    for (;;) {
      const next = queue.shift();
      if (!next) {
        if (ended) return;
        await new Promise<void>((r) => wake = r);
        wake = undefined;
        continue;
      }
      await sleep(next.due - performance.now());
      let off = 0;
      while (off < next.data.byteLength) off += await to.write(next.data.subarray(off));
      onChunk(next.data);
    }
  })().catch(() => {
    broken = true; // the receiving side is gone: stop reading too
  });
  try {
    while (!broken) {
      const buf = new Uint8Array(64 * 1024);
      const n = await from.read(buf);
      if (n === null) break;
      const sent = wire.send(n);
      queue.push({ data: buf.subarray(0, n), due: sent + delayMs });
      wake?.();
      const ahead = sent - performance.now();
      if (ahead > MAX_QUEUED_MS) await sleep(ahead - MAX_QUEUED_MS);
    }
  } catch {
    // a reset connection ends this direction
  } finally {
    ended = true;
    wake?.();
  }
  await writer;
  try {
    if (!broken) await to.closeWrite();
  } catch {
    // the other side is gone
  }
}

/** The kind of a request, as counted: `GET blob`, `HEAD manifest`, `ping`, `token`, … */
export function requestKind(method: string, path: string): string {
  path = path.split("?")[0];
  if (path === "/token") return "token";
  if (path === "/v2/" || path === "/v2") return "ping";
  if (/\/blobs\/uploads\//.test(path)) return `${method} upload`;
  if (/\/blobs\/sha256:/.test(path)) return `${method} blob`;
  if (/\/manifests\//.test(path)) return `${method} manifest`;
  return `${method} other`;
}

/**
 * Counts the requests of one connection from the bytes the client sends: every request head
 * (request line and headers, up to the blank line). Only for clients that send no request bodies,
 * as every client of a registry being read does.
 */
class HeadCounter {
  #pending = "";
  #decoder = new TextDecoder();
  /** The kind of the last request seen (the connection's current one: no pipelining). */
  last?: string;
  constructor(readonly onRequest: (method: string, path: string, authorized: boolean) => void) {}
  add(chunk: Uint8Array): void {
    this.#pending += this.#decoder.decode(chunk, { stream: true });
    for (
      let end = this.#pending.indexOf("\r\n\r\n");
      end >= 0;
      end = this.#pending.indexOf("\r\n\r\n")
    ) {
      const head = this.#pending.slice(0, end);
      this.#pending = this.#pending.slice(end + 4);
      const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]/.exec(head);
      if (m) {
        this.last = requestKind(m[1], m[2]);
        this.onRequest(m[1], m[2], /\r\nauthorization:/i.test(head));
      }
    }
    // A connection that is not HTTP (a TLS handshake) is not held in memory.
    if (this.#pending.length > 64 * 1024) this.#pending = "";
  }
}

/** Starts the link in front of `options.upstream`; stop it with {@link WanLink.stop}. */
export function startWanLink(options: WanLinkOptions): Promise<WanLink> {
  const delay = options.oneWayDelayMs ?? 20;
  const bps = options.bitsPerSecond ?? 200e6;
  const [upHost, upPort] = [
    options.upstream.slice(0, options.upstream.lastIndexOf(":")),
    Number(options.upstream.slice(options.upstream.lastIndexOf(":") + 1)),
  ];
  const fresh = (): WanCounts => ({ connections: 0, requests: {}, unauthorized: 0, bytesDown: 0 });
  let counts = fresh();
  let resetAt = performance.now();
  const onRequest = (method: string, path: string, authorized: boolean) => {
    const kind = requestKind(method, path);
    counts.requests[kind] = (counts.requests[kind] ?? 0) + 1;
    if (!authorized && kind !== "token") counts.unauthorized++;
  };

  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const host = `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const up = new Wire(bps);
  const down = new Wire(bps);
  const open = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const client of listener) {
      counts.connections++;
      open.add(client);
      (async () => {
        let server: Deno.Conn | undefined;
        try {
          // The handshake: the client's first byte reaches the server a round trip later.
          await sleep(2 * delay);
          server = await Deno.connect({ hostname: upHost, port: upPort });
          open.add(server);
          const heads = new HeadCounter(onRequest);
          await Promise.all([
            pump(client, server, up, delay, (chunk) => heads.add(chunk)),
            pump(server, client, down, delay, (chunk) => {
              counts.bytesDown += chunk.byteLength;
              const at = performance.now() - resetAt;
              counts.lastByteMs = at;
              if (heads.last === "GET blob") counts.firstBlobByteMs ??= at;
            }),
          ]);
        } catch {
          // a connection that fails ends alone
        } finally {
          for (const c of [client, server]) {
            if (!c) continue;
            open.delete(c);
            try {
              c.close();
            } catch {
              // already closed
            }
          }
        }
      })();
    }
  })().catch(() => {});

  return Promise.resolve({
    host,
    counts: () => structuredClone(counts),
    reset: () => {
      counts = fresh();
      resetAt = performance.now();
    },
    stop: async () => {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await accepting;
    },
  });
}
