/**
 * A WAN link in front of a loopback registry, for the WAN benchmark (the kernel here has no
 * netem): two userspace layers on 127.0.0.1.
 *
 * - The **link** (TCP): every byte is delayed `oneWayDelayMs` in each direction, a new connection
 *   costs one round trip before its first byte moves (as a TCP handshake does), and the bytes of
 *   all connections share one FIFO link of `bitsPerSecond` per direction (a single queue: a chunk
 *   leaves when the link has sent everything queued before it). A connection reads no further
 *   while its bytes wait more than a few milliseconds for the link, so nothing piles up in memory.
 * - The **front** (HTTP): counts requests by kind, and with `auth` demands a Bearer token per
 *   repository as Docker Hub does: a 401 with a challenge naming a realm on the same origin
 *   (`/token`), which hands out a token for the scopes asked; each request is checked against the
 *   token's repositories. Everything else is passed to the registry behind it, which stays open.
 *
 * Clients talk to the link; the link talks to the front; the front to the registry.
 *
 * @module
 */

/** Options of {@link startWanLink}. */
export interface WanLinkOptions {
  /** The registry behind the link, `http://127.0.0.1:PORT`. */
  upstream: string;
  /** Delay added to each direction (default 20 ms: a 40 ms round trip). */
  oneWayDelayMs?: number;
  /** Capacity of the link per direction, shared by all connections (default 200 Mbit/s). */
  bitsPerSecond?: number;
  /** Demand a Bearer token per repository. */
  auth?: boolean;
}

/** What crossed the link since the last {@link WanLink.reset}. */
export interface WanCounts {
  /** TCP connections opened through the link. */
  connections: number;
  /** HTTP requests by kind: `ping`, `token`, `HEAD manifest`, `GET blob`, `401`, … */
  requests: Record<string, number>;
  /** Bytes sent from the registry side to the clients. */
  bytesDown: number;
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
  count: (n: number) => void,
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
      count(next.data.byteLength);
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
function requestKind(method: string, path: string): string {
  if (path === "/token") return "token";
  if (path === "/v2/" || path === "/v2") return "ping";
  if (/\/blobs\/uploads\//.test(path)) return `${method} upload`;
  if (/\/blobs\/sha256:/.test(path)) return `${method} blob`;
  if (/\/manifests\//.test(path)) return `${method} manifest`;
  return `${method} other`;
}

/** The repository a `/v2/<name>/(blobs|manifests|tags)/…` path names, if any. */
function repositoryOf(path: string): string | undefined {
  return /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(path)?.[1];
}

/** Starts the link and its front; stop both with {@link WanLink.stop}. */
export function startWanLink(options: WanLinkOptions): Promise<WanLink> {
  const delay = options.oneWayDelayMs ?? 20;
  const bps = options.bitsPerSecond ?? 200e6;
  let counts: WanCounts = { connections: 0, requests: {}, bytesDown: 0 };
  const bump = (kind: string) => counts.requests[kind] = (counts.requests[kind] ?? 0) + 1;
  /** Token → repositories it may pull. */
  const tokens = new Map<string, Set<string>>();
  let linkHost = "";

  const challenge = (scope?: string) =>
    new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "token needed" }] }), {
      status: 401,
      headers: {
        "content-type": "application/json",
        "www-authenticate": `Bearer realm="http://${linkHost}/token",service="bench"` +
          (scope ? `,scope="${scope}"` : ""),
      },
    });

  const front = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    bump(requestKind(req.method, url.pathname));
    if (url.pathname === "/token") {
      const repos = new Set<string>();
      for (const scope of url.searchParams.getAll("scope").flatMap((s) => s.split(" "))) {
        const m = /^repository:(.+):([a-z,*]+)$/.exec(scope);
        if (m && m[2].split(",").includes("pull")) repos.add(m[1]);
      }
      const token = `bench-${crypto.randomUUID()}`;
      tokens.set(token, repos);
      return Response.json({ token, expires_in: 300 });
    }
    if (options.auth) {
      const header = req.headers.get("authorization") ?? "";
      const granted = header.startsWith("Bearer ") ? tokens.get(header.slice(7)) : undefined;
      const repo = repositoryOf(url.pathname);
      const ok = granted !== undefined && (repo === undefined || granted.has(repo));
      if (!ok) {
        bump("401");
        await req.body?.cancel();
        return challenge(repo && `repository:${repo}:pull`);
      }
    }
    const headers = new Headers(req.headers);
    headers.delete("authorization");
    headers.delete("host");
    const res = await fetch(options.upstream + url.pathname + url.search, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  const frontPort = (front.addr as Deno.NetAddr).port;

  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  linkHost = `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
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
          server = await Deno.connect({ hostname: "127.0.0.1", port: frontPort });
          open.add(server);
          await Promise.all([
            pump(client, server, up, delay, () => {}),
            pump(server, client, down, delay, (n) => counts.bytesDown += n),
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
    host: linkHost,
    counts: () => structuredClone(counts),
    reset: () => counts = { connections: 0, requests: {}, bytesDown: 0 },
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
      await front.shutdown();
    },
  });
}
