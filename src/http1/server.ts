/**
 * An HTTP/1.1 server over `Deno.listen` / `Deno.listenTls` for a fetch-style handler (ferry's
 * registry server runs on it; nothing here knows of registries).
 *
 * Why not `Deno.serve`: its file response bodies cost a blocking-pool task and a duplicated
 * descriptor per 1 MiB read (a blob is served at ~40% of docker-registry's rate), and its shutdown
 * closes a connection the moment the last response is written, resetting it under a client still
 * sending (bench/RESULTS.md, serve analysis). Here blob bodies are copied through one reused buffer
 * per connection, and connections close the way RFC 9112 §9.6 asks: half-close, then read until the
 * client closes too.
 *
 * Only what registry clients send is accepted: origin-form targets, `Content-Length` or `chunked`
 * bodies (never both), no obsolete line folding, bounded heads; anything else is a 400-class
 * answer and a closed connection.
 *
 * Clients are not trusted to be quick or few: a head must arrive within a deadline and is scanned
 * once however it is split, a body that stops arriving is cut off after an idle timeout, and the
 * number of open connections is capped in all and per client address.
 *
 * @module
 */
import { takeFileBody } from "./file_body.ts";

/** What the handler learns about a request beyond the `Request` itself. */
export interface Http1RequestInfo {
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /** The request target exactly as sent (`Request.url` has its dot segments resolved). */
  target: string;
}

/** Answers one request. */
export type Http1Handler = (request: Request, info: Http1RequestInfo) => Promise<Response>;

/** Options for {@link serveHttp1}. */
export interface Http1ServerOptions {
  /** Address to bind. */
  hostname: string;
  /** Port; 0 for any free port. */
  port: number;
  /** Serve HTTPS (HTTP/1.1 only) with this PEM certificate chain and key. */
  tls?: { cert: string; key: string };
  /** The request handler. */
  handler: Http1Handler;
  /** Idle keep-alive connections are closed after this many ms (default 120 s). */
  idleTimeoutMs?: number;
  /** A request head must arrive within this many ms of its first byte (default 30 s). */
  headTimeoutMs?: number;
  /**
   * A request body that sends nothing for this many ms while the server waits for it is answered
   * 408 and its connection closed (default 60 s; the cut comes between 1 and 1.25 times this).
   */
  bodyTimeoutMs?: number;
  /** Connections open at once; more are closed on arrival (default {@link DEFAULT_MAX_CONNECTIONS}). */
  maxConnections?: number;
  /**
   * Connections open at once from one client address (default
   * {@link DEFAULT_MAX_CLIENT_CONNECTIONS}).
   */
  maxClientConnections?: number;
  /**
   * Told when a connection is refused for a limit: once when the limit is first reached, again
   * only after the open connections fell below it (no flood of lines under attack).
   */
  onLimit?: (event: Http1LimitEvent) => void;
}

/** A connection limit reached (see {@link Http1ServerOptions.onLimit}). */
export interface Http1LimitEvent {
  /** Which limit: every connection, or those of one client address. */
  limit: "connections" | "client";
  /** The limit's value. */
  max: number;
  /** The address refused. */
  remoteAddr: Deno.NetAddr;
}

/** Default of {@link Http1ServerOptions.maxConnections}. */
export const DEFAULT_MAX_CONNECTIONS = 512;
/** Default of {@link Http1ServerOptions.maxClientConnections}. */
export const DEFAULT_MAX_CLIENT_CONNECTIONS = 256;
/** Default of {@link Http1ServerOptions.bodyTimeoutMs}. */
export const DEFAULT_BODY_TIMEOUT_MS = 60_000;

/** Counters of work done, for tests and diagnosis. */
export interface Http1Stats {
  /** Bytes looked at while searching for the end of request heads (linear in the head sizes). */
  headBytesScanned: number;
  /** Connections closed on arrival because a connection limit was reached. */
  refused: number;
}

/** A running {@link serveHttp1} server. */
export interface Http1Server {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** Stops accepting, lets the requests in flight finish, closes every connection. */
  shutdown(): Promise<void>;
  /** Settles when the server has stopped and every connection is closed. */
  readonly finished: Promise<void>;
  /** Work counters (live). */
  readonly stats: Readonly<Http1Stats>;
}

/** Largest request head (request line and headers) accepted, as Go's default `MaxHeaderBytes`. */
const MAX_HEAD = 1 << 20;
/** Read size for the connection's input buffer. */
const READ_SIZE = 64 << 10;
/** Response bodies are copied through a buffer of this size. */
const WRITE_CHUNK = 1 << 20;
/** Unread request bodies up to this size are skipped to keep the connection; larger ones close it. */
const MAX_DRAIN = 256 << 10;
/** Largest trailer section of a chunked request body (ferry reads none of it). */
const MAX_TRAILERS = 64 << 10;
/** How long a closing connection waits for the client's end (lingering close). */
const LINGER_MS = 2_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Starts an HTTP/1.1 server; see {@link Http1ServerOptions}. */
export function serveHttp1(options: Http1ServerOptions): Http1Server {
  const listener: Deno.Listener = options.tls
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.tls.cert,
      key: options.tls.key,
      alpnProtocols: ["http/1.1"],
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const scheme = options.tls ? "https" : "http";
  const connections = new Set<Connection>();
  const stats: Http1Stats = { headBytesScanned: 0, refused: 0 };
  const limits = new ConnectionLimits(options, stats);
  let closing = false;
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        if (closing) return;
        // Out of descriptors or a connection reset before accept: keep serving the others.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const client = (conn.remoteAddr as Deno.NetAddr).hostname;
      if (!limits.admit(conn)) continue;
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const connection = new Connection(conn, scheme, options, stats);
      connections.add(connection);
      connection.run().finally(() => {
        connections.delete(connection);
        limits.release(client);
      });
    }
  })();
  let finishing: Promise<void> | undefined;
  const finished = Promise.withResolvers<void>();
  const shutdown = () =>
    finishing ??= (async () => {
      closing = true;
      listener.close();
      await accepting;
      await Promise.all([...connections].map((c) => c.stop()));
      finished.resolve();
    })();
  return { addr: listener.addr as Deno.NetAddr, shutdown, finished: finished.promise, stats };
}

/** Counts open connections, in all and per client address, and turns away those over a limit. */
class ConnectionLimits {
  #max: number;
  #maxClient: number;
  #open = 0;
  #perClient = new Map<string, number>();
  #onLimit?: (event: Http1LimitEvent) => void;
  #stats: Http1Stats;
  /** Whether each limit was reported and not yet relieved (one line per episode). */
  #reported = { connections: false, client: new Set<string>() };

  constructor(options: Http1ServerOptions, stats: Http1Stats) {
    this.#max = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#maxClient = options.maxClientConnections ?? DEFAULT_MAX_CLIENT_CONNECTIONS;
    this.#onLimit = options.onLimit;
    this.#stats = stats;
  }

  /** Counts `conn` in, or closes it and returns false when a limit is reached. */
  admit(conn: Deno.Conn): boolean {
    const addr = conn.remoteAddr as Deno.NetAddr;
    const mine = this.#perClient.get(addr.hostname) ?? 0;
    let limit: Http1LimitEvent["limit"] | undefined;
    if (this.#open >= this.#max) limit = "connections";
    else if (mine >= this.#maxClient) limit = "client";
    if (limit === undefined) {
      this.#open++;
      this.#perClient.set(addr.hostname, mine + 1);
      return true;
    }
    this.#stats.refused++;
    // Closed at once, unread and unanswered: an answer could wait on a client that reads nothing
    // (or a TLS handshake), and holding the descriptor is what the limit is there to prevent.
    try {
      conn.close();
    } catch {
      // closed
    }
    const first = limit === "connections"
      ? !this.#reported.connections
      : !this.#reported.client.has(addr.hostname);
    if (limit === "connections") this.#reported.connections = true;
    else this.#reported.client.add(addr.hostname);
    if (first) {
      this.#onLimit?.({
        limit,
        max: limit === "connections" ? this.#max : this.#maxClient,
        remoteAddr: addr,
      });
    }
    return false;
  }

  /** Counts a closed connection of `client` out. */
  release(client: string): void {
    this.#open--;
    const left = (this.#perClient.get(client) ?? 1) - 1;
    if (left <= 0) this.#perClient.delete(client);
    else this.#perClient.set(client, left);
    if (this.#open < this.#max) this.#reported.connections = false;
    if (left < this.#maxClient) this.#reported.client.delete(client);
  }
}

/** A malformed request: answered with `status` and the connection closed. */
class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** One client connection: reads requests one after another and writes their responses. */
class Connection {
  #conn: Deno.Conn;
  #scheme: string;
  #options: Http1ServerOptions;
  #stats: Http1Stats;
  #in = new Uint8Array(READ_SIZE);
  #start = 0;
  #end = 0;
  /** Bytes from `#start` already searched for the end of the head (a trickled head is scanned once). */
  #scanned = 0;
  /** Reads that returned data: the body watch sees progress by it, at no cost per read. */
  #reads = 0;
  /** Whether the server is waiting for request body bytes (only then can a body time out). */
  #bodyWaiting = false;
  #bodyTimedOut = false;
  /** Whether the response to the current request was sent (a body timing out then only closes). */
  #answered = false;
  #stopping = false;
  #idle = true;
  #closed = false;
  #done = Promise.withResolvers<void>();
  #wakeIdle?: () => void;

  constructor(conn: Deno.Conn, scheme: string, options: Http1ServerOptions, stats: Http1Stats) {
    this.#conn = conn;
    this.#scheme = scheme;
    this.#options = options;
    this.#stats = stats;
  }

  /** Serves requests until the client or the server ends the connection. */
  async run(): Promise<void> {
    try {
      while (!this.#stopping) {
        const head = await this.#readHead();
        if (head === undefined) break;
        const keep = await this.#serve(head);
        if (!keep) break;
      }
    } catch (err) {
      if (err instanceof BadRequest) await this.#reject(err);
    } finally {
      await this.#close();
      this.#done.resolve();
    }
  }

  /** Lets the request in flight finish, then closes; an idle connection closes at once. */
  stop(): Promise<void> {
    this.#stopping = true;
    if (this.#idle) this.#wakeIdle?.();
    return this.#done.promise;
  }

  /** Reads one request head; undefined when the client closed (or went idle too long). */
  async #readHead(): Promise<Head | undefined> {
    this.#idle = this.#start === this.#end;
    const idleMs = this.#options.idleTimeoutMs ?? 120_000;
    const headMs = this.#options.headTimeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        this.#wakeIdle?.();
      }, ms);
    };
    arm(this.#idle ? idleMs : headMs);
    try {
      for (;;) {
        // Resume where the last search stopped (less 3 bytes: the CRLFCRLF may straddle reads).
        const from = this.#start + Math.max(0, this.#scanned - 3);
        this.#stats.headBytesScanned += this.#end - from;
        const at = indexOfHeadEnd(this.#in, from, this.#end);
        if (at >= 0) {
          const head = parseHead(this.#in.subarray(this.#start, at));
          this.#start = at + 4;
          this.#scanned = 0;
          this.#idle = false;
          return head;
        }
        this.#scanned = this.#end - this.#start;
        if (this.#end - this.#start >= MAX_HEAD) {
          throw new BadRequest(431, "request head too large");
        }
        // Not HTTP at all (a TLS handshake on the plain port): answer now rather than wait for a
        // head that never comes; clients probing for HTTPS fall back to HTTP on the answer.
        checkMethodPrefix(this.#in, this.#start, this.#end);
        if (this.#idle && this.#stopping) return undefined;
        const n = await this.#fill(() =>
          timedOut
            ? this.#idle ? "close" : new BadRequest(408, "request head timed out")
            : this.#idle && this.#stopping
            ? "close"
            : undefined
        );
        if (n === null) return undefined; // the client left (or was timed out)
        if (this.#idle && n > 0) {
          this.#idle = false;
          arm(headMs);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads more input into the buffer; null at the end of input. When woken while waiting (a timer
   * or shutdown), `abandon()` says whether to give up: "close" closes the connection, an error is
   * answered first; null is returned then too.
   */
  async #fill(
    abandon: () => BadRequest | "close" | undefined = () => undefined,
  ): Promise<number | null> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#in.length) {
      if (this.#start > 0) {
        this.#in.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const grown = new Uint8Array(Math.min(this.#in.length * 2, MAX_HEAD + READ_SIZE));
        grown.set(this.#in.subarray(0, this.#end));
        this.#in = grown;
      }
    }
    const read = this.#conn.read(this.#in.subarray(this.#end));
    const wake = new Promise<"wake">((resolve) => this.#wakeIdle = () => resolve("wake"));
    const n = await Promise.race([read.catch(() => null), wake.then(() => "wake" as const)]);
    this.#wakeIdle = undefined;
    if (n === "wake") {
      const verdict = abandon();
      if (verdict !== undefined) {
        if (verdict instanceof BadRequest) await this.#reject(verdict);
        // Closing is the only way to end the pending read; it then settles with an error.
        this.#closed = true;
        this.#conn.close();
        return null;
      }
      const again = await read.catch(() => null);
      return this.#took(again);
    }
    return this.#took(n);
  }

  #took(n: number | null): number | null {
    if (n === null) return null;
    this.#end += n;
    this.#reads++;
    return n;
  }

  /**
   * Reads more request body input, giving up (408, connection closed) when the body watch says
   * it stalled; null at the end of input.
   */
  async #fillBody(): Promise<number | null> {
    this.#bodyWaiting = true;
    try {
      return await this.#fill(() =>
        !this.#bodyTimedOut
          ? undefined
          : this.#answered
          ? "close"
          : new BadRequest(408, "request body timed out")
      );
    } finally {
      this.#bodyWaiting = false;
    }
  }

  /**
   * Watches the request body until the returned function is called: when the server has been
   * waiting for it without a byte arriving for the body timeout, the pending read is abandoned.
   * One timer per request, ticking at a quarter of the timeout; reads only bump a counter.
   */
  #watchBody(): () => void {
    const ms = this.#options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
    let seen = this.#reads;
    let stalls = 0;
    const timer = setInterval(() => {
      if (!this.#bodyWaiting || this.#reads !== seen) {
        seen = this.#reads;
        stalls = 0;
        return;
      }
      // The first stalled tick may come right after the wait began: four more make a full timeout.
      if (++stalls > 4) {
        this.#bodyTimedOut = true;
        this.#wakeIdle?.();
      }
    }, Math.max(1, ms / 4));
    return () => clearInterval(timer);
  }

  /** Answers one request; true when the connection can carry another. */
  async #serve(head: Head): Promise<boolean> {
    const body = this.#requestBody(head);
    const unwatch = body === undefined ? undefined : this.#watchBody();
    try {
      return await this.#answer(head, body);
    } finally {
      unwatch?.();
    }
  }

  async #answer(head: Head, body: RequestBody | undefined): Promise<boolean> {
    this.#answered = false;
    let request: Request;
    try {
      request = new Request(this.#url(head), {
        method: head.method,
        headers: head.headers,
        body: body?.stream,
      });
    } catch {
      throw new BadRequest(400, "malformed request (target, or a body on GET or HEAD)");
    }
    const response = await this.#options.handler(request, {
      remoteAddr: this.#conn.remoteAddr as Deno.NetAddr,
      target: head.target,
    });
    const keep = head.keepAlive && !this.#stopping;
    this.#answered = true;
    try {
      await this.#writeResponse(head, response, keep);
    } catch {
      return false; // the client went away, or the body failed: the connection is unusable
    }
    if (!keep) return false;
    return body === undefined || await body.drain();
  }

  #url(head: Head): string {
    const host = head.headers.get("host");
    const addr = this.#conn.localAddr as Deno.NetAddr;
    const authority = host && /^[A-Za-z0-9.\-:[\]]+$/.test(host)
      ? host
      : addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
    return `${this.#scheme}://${authority}${head.target}`;
  }

  /** The request's body as a stream, with a way to skip what the handler left unread. */
  #requestBody(head: Head): RequestBody | undefined {
    const te = head.headers.get("transfer-encoding");
    const cl = head.headers.get("content-length");
    if (te !== null) {
      if (cl !== null) throw new BadRequest(400, "both Content-Length and Transfer-Encoding");
      if (te.trim().toLowerCase() !== "chunked") {
        throw new BadRequest(501, `unsupported Transfer-Encoding ${te}`);
      }
      return new RequestBody(this, head, undefined);
    }
    if (cl === null) return undefined;
    const values = cl.split(",").map((v) => v.trim());
    if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) {
      throw new BadRequest(400, "invalid Content-Length");
    }
    const length = Number(values[0]);
    return length === 0 ? undefined : new RequestBody(this, head, length);
  }

  /** Up to `max` buffered or newly read input bytes (copied); null at the end of input. */
  async readSome(max: number): Promise<Uint8Array | null> {
    if (this.#start === this.#end && await this.#fillBody() === null) return null;
    const n = Math.min(max, this.#end - this.#start);
    const out = this.#in.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** One CRLF-terminated line of at most `max` bytes (chunked framing), without the CRLF. */
  async readLine(max: number): Promise<string> {
    for (;;) {
      const at = indexOfCrlf(this.#in, this.#start, this.#end);
      if (at >= 0) {
        const line = decoder.decode(this.#in.subarray(this.#start, at));
        this.#start = at + 2;
        return line;
      }
      // `max` bytes and a CR may be here while the LF is still on its way.
      if (this.#end - this.#start > max + 1) throw new BadRequest(400, "chunk line too long");
      if (await this.#fillBody() === null) throw new BadRequest(400, "body cut short");
    }
  }

  /** Sends `100 Continue` when the client waits for it before sending the body. */
  async writeContinue(): Promise<void> {
    await this.#writeAll(encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
  }

  async #writeResponse(head: Head, response: Response, keep: boolean): Promise<void> {
    const status = response.status;
    const noBody = head.method === "HEAD" || status === 204 || status === 304 ||
      (status >= 100 && status < 200);
    const headers = response.headers;
    let length = headers.get("content-length");
    let chunked = false;
    if (response.body === null) {
      // A body-less answer says so, whatever length the handler set: a Content-Length with no
      // bytes after it would take the next response on the connection as its body.
      if (!noBody) length = "0";
    } else if (length === null && !noBody) chunked = true;
    let text = `HTTP/1.1 ${status} ${response.statusText || reason(status)}\r\n`;
    for (const [name, value] of headers) {
      if (name === "content-length" || name === "transfer-encoding" || name === "connection") {
        continue;
      }
      text += `${name}: ${value}\r\n`;
    }
    if (length !== null) text += `content-length: ${length}\r\n`;
    if (chunked) text += "transfer-encoding: chunked\r\n";
    if (!keep) text += "connection: close\r\n";
    text += `date: ${new Date().toUTCString()}\r\n\r\n`;
    await this.#writeAll(encoder.encode(text));
    if (response.body === null) return;
    if (noBody) {
      await response.body.cancel().catch(() => {});
      return;
    }
    const file = length === null ? undefined : takeFileBody(response.body);
    if (file !== undefined) await this.#copyFile(file, Number(length));
    else await this.#copyBody(response.body, chunked, length === null ? undefined : Number(length));
  }

  /** Copies `length` bytes of `file` (from its position) to the client, then closes it. */
  async #copyFile(file: Deno.FsFile, length: number): Promise<void> {
    const buf = length >= WRITE_CHUNK ? takeBuffer() : new Uint8Array(Math.max(length, 1));
    try {
      let left = length;
      while (left > 0) {
        const n = await file.read(left < buf.length ? buf.subarray(0, left) : buf);
        if (n === null) throw new Error(`file ended ${left} bytes short of its Content-Length`);
        await this.#writeAll(buf.subarray(0, n));
        left -= n;
      }
    } finally {
      file.close();
      if (buf.length === WRITE_CHUNK) giveBuffer(buf);
    }
  }

  async #copyBody(
    body: ReadableStream<Uint8Array>,
    chunked: boolean,
    length: number | undefined,
  ): Promise<void> {
    const reader = body.getReader();
    let sent = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value.byteLength === 0) continue;
        sent += value.byteLength;
        if (length !== undefined && sent > length) {
          throw new Error(`body longer than its Content-Length ${length}`);
        }
        if (chunked) await this.#writeAll(encoder.encode(`${value.byteLength.toString(16)}\r\n`));
        await this.#writeAll(value);
        if (chunked) await this.#writeAll(CRLF);
      }
      if (chunked) await this.#writeAll(encoder.encode("0\r\n\r\n"));
      if (length !== undefined && sent !== length) {
        throw new Error(`body of ${sent} bytes, Content-Length ${length}`);
      }
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    } finally {
      reader.releaseLock();
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.byteLength) at += await this.#conn.write(bytes.subarray(at));
  }

  async #reject(err: BadRequest): Promise<void> {
    const body = JSON.stringify({
      errors: [{ code: "UNKNOWN", message: err.message }],
    });
    const text = `HTTP/1.1 ${err.status} ${reason(err.status)}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${
        encoder.encode(body).byteLength
      }\r\nconnection: close\r\n\r\n${body}`;
    await this.#writeAll(encoder.encode(text)).catch(() => {});
  }

  /** Half-closes, reads until the client closes too (or a deadline), then closes. */
  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#conn.closeWrite();
      const sink = new Uint8Array(READ_SIZE);
      const deadline = setTimeout(() => {
        try {
          this.#conn.close();
        } catch {
          // closed
        }
      }, LINGER_MS);
      try {
        while (await this.#conn.read(sink) !== null) {
          // discard
        }
      } finally {
        clearTimeout(deadline);
      }
    } catch {
      // reset or closed by the deadline
    }
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }
}

const CRLF = encoder.encode("\r\n");

/** Spare copy buffers: enough for a few blobs at once without a megabyte per connection. */
const spareBuffers: Uint8Array[] = [];
const MAX_SPARE_BUFFERS = 8;

function takeBuffer(): Uint8Array {
  return spareBuffers.pop() ?? new Uint8Array(WRITE_CHUNK);
}

function giveBuffer(buf: Uint8Array): void {
  if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(buf);
}

/** A request body being read off the connection: `Content-Length` bytes, or chunks. */
class RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  #conn: Connection;
  #remaining: number | undefined;
  #chunkLeft = 0;
  #finished = false;
  #continued: boolean;

  constructor(conn: Connection, head: Head, length: number | undefined) {
    this.#conn = conn;
    this.#remaining = length;
    this.#continued = head.headers.get("expect")?.toLowerCase() !== "100-continue";
    this.stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.#next();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  }

  /** Skips what the handler did not read; false when that is too much (close instead). */
  async drain(): Promise<boolean> {
    let budget = MAX_DRAIN;
    while (!this.#finished) {
      if (this.#remaining !== undefined && this.#remaining > budget) return false;
      const chunk = await this.#next().catch(() => null);
      if (chunk === null) return this.#finished;
      budget -= chunk.byteLength;
      if (budget < 0) return false;
    }
    return true;
  }

  async #next(): Promise<Uint8Array | null> {
    if (this.#finished) return null;
    if (!this.#continued) {
      this.#continued = true;
      await this.#conn.writeContinue();
    }
    if (this.#remaining !== undefined) {
      if (this.#remaining === 0) {
        this.#finished = true;
        return null;
      }
      const chunk = await this.#conn.readSome(Math.min(this.#remaining, WRITE_CHUNK));
      if (chunk === null) throw new BadRequest(400, "body cut short");
      this.#remaining -= chunk.byteLength;
      return chunk;
    }
    if (this.#chunkLeft === 0) {
      const line = await this.#conn.readLine(4096);
      const size = line.split(";", 1)[0].trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new BadRequest(400, "invalid chunk size");
      this.#chunkLeft = parseInt(size, 16);
      if (this.#chunkLeft === 0) {
        // Trailers, ignored, up to the empty line; bounded like a head, or a client could send
        // them forever to a handler that has read its body's every byte already.
        let trailers = 0;
        for (
          let line = await this.#conn.readLine(8192);
          line !== "";
          line = await this.#conn.readLine(8192)
        ) {
          trailers += line.length + 2;
          if (trailers > MAX_TRAILERS) throw new BadRequest(431, "chunked trailers too large");
        }
        this.#finished = true;
        return null;
      }
    }
    const chunk = await this.#conn.readSome(this.#chunkLeft);
    if (chunk === null) throw new BadRequest(400, "body cut short");
    this.#chunkLeft -= chunk.byteLength;
    if (this.#chunkLeft === 0 && await this.#conn.readLine(0) !== "") {
      throw new BadRequest(400, "chunk not followed by CRLF");
    }
    return chunk;
  }
}

/** A parsed request head. */
interface Head {
  method: string;
  target: string;
  headers: Headers;
  keepAlive: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Methods the Fetch `Request` normalises to capitals whatever their case. */
const FOLDED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

function parseHead(bytes: Uint8Array): Head {
  const text = decoder.decode(bytes);
  const lines = text.split("\r\n");
  const [method, target, version, ...rest] = lines[0].split(" ");
  if (!method || !TOKEN.test(method) || !target || rest.length > 0) {
    throw new BadRequest(400, "malformed request line");
  }
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    throw new BadRequest(505, `unsupported version ${version}`);
  }
  if (FOLDED_METHODS.has(method.toUpperCase()) && method !== method.toUpperCase()) {
    // `Request` would spell it in capitals and the handler answer `hEAD` as HEAD (no body),
    // while the client, for whom methods are case-sensitive, waits for one: refused instead.
    throw new BadRequest(501, `unsupported method ${method} (methods are case-sensitive)`);
  }
  if (!target.startsWith("/") || hasControl(target, false)) {
    throw new BadRequest(400, "request target must be a path");
  }
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    if (colon <= 0 || line[0] === " " || line[0] === "\t") {
      throw new BadRequest(400, "malformed header line");
    }
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new BadRequest(400, "malformed header name");
    const value = line.slice(colon + 1).trim();
    if (hasControl(value, true)) throw new BadRequest(400, "malformed header value");
    try {
      headers.append(name, value);
    } catch {
      throw new BadRequest(400, "malformed header");
    }
  }
  const connection = (headers.get("connection") ?? "").toLowerCase().split(",").map((t) =>
    t.trim()
  );
  const keepAlive = version === "HTTP/1.1"
    ? !connection.includes("close")
    : connection.includes("keep-alive");
  return { method, target, headers, keepAlive };
}

/** Whether `text` holds a control character, DEL, or (unless `spaces`) a space; tabs pass with spaces. */
function hasControl(text: string, spaces: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7f || (c < 0x20 && !(spaces && c === 0x09)) || (c === 0x20 && !spaces)) return true;
  }
  return false;
}

/** Throws unless the bytes so far can begin a request line (a method token, then a space). */
function checkMethodPrefix(buf: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end && i < start + 32; i++) {
    const c = buf[i];
    if (c === 0x20 && i > start) return;
    if (!TOKEN_CHAR[c]) throw new BadRequest(400, "not an HTTP request");
  }
}

const TOKEN_CHAR = Array.from({ length: 256 }, (_, c) => TOKEN.test(String.fromCharCode(c)));

function indexOfHeadEnd(buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i + 3 < end; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

function indexOfCrlf(buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i + 1 < end; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10) return i;
  }
  return -1;
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  304: "Not Modified",
  307: "Temporary Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  416: "Range Not Satisfiable",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

function reason(status: number): string {
  return REASONS[status] ?? "Unknown";
}
