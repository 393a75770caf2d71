import assert from "node:assert/strict";
import { Sha256 } from "../digest.ts";
import { readAll } from "../streams.ts";
import { fileBody, type Http1Handler, type Http1ServerOptions, serveHttp1 } from "./mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Answers `/echo` with the request's method, target, body and selected headers. */
const echo: Http1Handler = async (request, info) => {
  const body = request.body ? await new Response(request.body).text() : "";
  return Response.json({
    method: request.method,
    target: info.target,
    body,
    te: request.headers.get("transfer-encoding"),
  });
};

function start(handler: Http1Handler = echo, extra: Partial<Http1ServerOptions> = {}) {
  const server = serveHttp1({ hostname: "127.0.0.1", port: 0, handler, ...extra });
  return Object.assign(server, { [Symbol.asyncDispose]: () => server.shutdown() });
}

/** Sends `text` on a fresh connection and reads until the server closes it. */
async function exchange(port: number, text: string | Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, typeof text === "string" ? encoder.encode(text) : text);
    return decoder.decode(await readToEnd(conn));
  } finally {
    closeQuietly(conn);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** Everything the server sends until it closes (the stream closes `conn` at its end). */
function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  return readAll(conn.readable, 64 << 20, "response");
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}

function statuses(text: string): number[] {
  return [...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
}

Deno.test("http1: pipelined keep-alive requests are answered in order; the last closes", async () => {
  await using server = start();
  const text = await exchange(
    server.addr.port,
    "GET /echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n" +
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
      "GET /v2/../../evil HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(statuses(text), [200, 200, 200]);
  const bodies = [...text.matchAll(/\{.*?\}/g)].map((m) => JSON.parse(m[0]));
  assert.deepEqual(bodies.map((b) => [b.method, b.target, b.body]), [
    ["GET", "/echo?a=1", ""],
    ["POST", "/echo", "hello"],
    ["GET", "/v2/../../evil", ""], // the target as sent, dot segments and all
  ]);
  assert.match(text, /connection: close/);
});

Deno.test("http1: chunked request bodies are decoded (extensions, trailers)", async () => {
  await using server = start();
  const text = await exchange(
    server.addr.port,
    "PATCH /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n" +
      "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(statuses(text), [200, 200]);
  assert.equal(JSON.parse(text.match(/\{.*?\}/)![0]).body, "hello, world");
});

Deno.test("http1: chunk framing split across packets is read as it arrives", async () => {
  await using server = start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    const pieces = [
      "PATCH /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r",
      "\nhello\r",
      "\n0\r\n\r",
      "\n",
    ];
    for (const piece of pieces) {
      await writeAll(conn, encoder.encode(piece));
      await new Promise((r) => setTimeout(r, 20));
    }
    const text = decoder.decode(await readToEnd(conn));
    assert.deepEqual(statuses(text), [200]);
    assert.equal(JSON.parse(text.match(/\{.*?\}/)![0]).body, "hello");
  } finally {
    closeQuietly(conn);
  }
});

Deno.test("http1: request smuggling shapes and non-HTTP input are refused at once", async () => {
  await using server = start();
  const port = server.addr.port;
  const cases: [string | Uint8Array, number][] = [
    [
      "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
    ],
    ["POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400],
    ["POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400],
    ["POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501],
    ["GET /echo HTTP/1.1\r\nX-Folded: a\r\n b\r\n\r\n", 400],
    ["GET http://elsewhere/echo HTTP/1.1\r\n\r\n", 400],
    ["GET /echo HTTP/2.0\r\n\r\n", 505],
    ["GET /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", 400],
    ["GET /echo HTTP/1.1\r\nBad Name: x\r\n\r\n", 400],
    ["PATCH /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400],
    // A TLS ClientHello on the plain port: answered without waiting for a head.
    [new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]), 400],
  ];
  for (const [input, status] of cases) {
    const text = await exchange(port, input);
    assert.deepEqual(statuses(text), [status], `${JSON.stringify(String(input))}: ${text}`);
  }
  // A head without end is cut off at 1 MiB.
  const huge = `GET /echo HTTP/1.1\r\nX-Big: ${"a".repeat(1 << 20)}\r\n\r\n`;
  assert.deepEqual(statuses(await exchange(port, huge)), [431]);
});

Deno.test("http1: a standard method spelt in other case is refused, not answered as another", async () => {
  // `Request` makes `hEAD` a HEAD: the handler answered without a body while the client, for
  // whom methods are case-sensitive, read the next response as that body.
  await using server = start((request) =>
    Promise.resolve(
      request.method === "HEAD"
        ? new Response(null, { headers: { "content-length": "5" } })
        : new Response("hello"),
    )
  );
  const text = await exchange(
    server.addr.port,
    "hEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(statuses(text), [501], text);
  assert.match(text, /connection: close/);
  // Other methods are the handler's to judge, in any case.
  const patch = await exchange(server.addr.port, "patch /x HTTP/1.1\r\nConnection: close\r\n\r\n");
  assert.deepEqual(statuses(patch), [200]);
});

Deno.test("http1: a body-less response to a GET says Content-Length 0, whatever the handler set", async () => {
  await using server = start(() =>
    Promise.resolve(new Response(null, { headers: { "content-length": "5" } }))
  );
  const text = await exchange(
    server.addr.port,
    "GET /x HTTP/1.1\r\nHost: x\r\n\r\nGET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(statuses(text), [200, 200], text);
  assert.equal(text.match(/content-length: 0\r\n/g)?.length, 2, text);
});

Deno.test("http1: chunked trailers are bounded", async () => {
  await using server = start();
  const trailers = `X-T: ${"t".repeat(8000)}\r\n`.repeat(10);
  const text = await exchange(
    server.addr.port,
    `PATCH /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `5\r\nhello\r\n0\r\n${trailers}\r\n`,
  );
  assert.equal(statuses(text).length, 1, text);
  assert.notEqual(statuses(text)[0], 200, text);
  assert.match(text, /connection: close/);
});

Deno.test("http1: Expect: 100-continue is answered only when the body is read", async () => {
  let read = true;
  await using server = start(async (request) => {
    if (read) return new Response(await request.text());
    return new Response("refused", { status: 401 });
  });
  const head = (n: number) =>
    `PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${n}\r\n` +
    `Connection: close\r\n\r\n`;
  const accepted = await exchange(server.addr.port, head(2) + "ok");
  assert.deepEqual(statuses(accepted), [100, 200]);
  read = false;
  const refused = await exchange(server.addr.port, head(2));
  assert.deepEqual(statuses(refused), [401]);
});

Deno.test("http1: HEAD has no body; streamed bodies are chunked; file bodies are copied", async () => {
  await using dir = {
    path: await Deno.makeTempDir(),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  const path = `${dir.path}/blob`;
  const bytes = new Uint8Array(3 << 20).map((_, i) => (i * 7) & 0xff);
  await Deno.writeFile(path, bytes);
  try {
    await using server = start(async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/stream") {
        return new Response(ReadableStream.from(["ab", "cd"]).pipeThrough(new TextEncoderStream()));
      }
      const file = await Deno.open(path);
      await file.seek(1000, Deno.SeekMode.Start);
      const length = String(bytes.length - 1000);
      return new Response(fileBody(file), { headers: { "content-length": length } });
    });
    const port = server.addr.port;
    const head = await exchange(port, "HEAD /file HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert.match(head, new RegExp(`content-length: ${bytes.length - 1000}\r\n`));
    assert.ok(head.endsWith("\r\n\r\n"), "no body after a HEAD response");
    const chunked = await exchange(port, "GET /stream HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert.match(chunked, /transfer-encoding: chunked\r\n/);
    assert.ok(chunked.endsWith("\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"), chunked);
    const res = await fetch(`http://127.0.0.1:${port}/file`);
    const got = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual(got, bytes.subarray(1000));
  } finally {
    await Deno.remove(dir.path, { recursive: true });
  }
});

Deno.test("http1: a slow head times out with 408; an idle connection is closed", async () => {
  await using server = start(echo, { headTimeoutMs: 200, idleTimeoutMs: 200 });
  const port = server.addr.port;
  const started = performance.now();
  assert.deepEqual(statuses(await exchange(port, "GET /echo HTTP/1.1\r\nHo")), [408]);
  assert.equal(await exchange(port, ""), "");
  assert.ok(performance.now() - started < 5_000);
});

Deno.test("http1: shutdown finishes the response in flight, refuses new connections, and closes without a reset", async () => {
  const size = 8 << 20;
  const blob = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
  const server = serveHttp1({
    hostname: "127.0.0.1",
    port: 0,
    handler: () =>
      Promise.resolve(new Response(blob, { headers: { "content-length": String(size) } })),
  });
  const port = server.addr.port;
  const idle = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, encoder.encode("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buf = new Uint8Array(1024);
    const first = buf.subarray(0, await conn.read(buf) ?? 0);
    assert.ok(first.length > 0);
    let stopped = false;
    const stopping = server.shutdown().then(() => stopped = true);
    await new Promise((r) => setTimeout(r, 100));
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
    // The client keeps talking while it reads (as HTTP/2 window updates or a next request do):
    // a close with those bytes unread would reset the connection and lose the body's tail.
    await writeAll(conn, encoder.encode("GET /next HTTP/1.1\r\nHost: x\r\n\r\n"));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(stopped, false, "shutdown waits for the response in flight");
    const rest = await readToEnd(conn);
    const whole = decoder.decode(first) + decoder.decode(rest.subarray(0, 4096));
    assert.match(whole, /^HTTP\/1\.1 200 OK\r\n/);
    const headLength = whole.indexOf("\r\n\r\n") + 4;
    const hash = await Sha256.create();
    const all = new Uint8Array(first.length + rest.length);
    all.set(first);
    all.set(rest, first.length);
    hash.update(all.subarray(headLength));
    assert.equal(hash.size, size, "the whole body, nothing after it");
    const want = await Sha256.create();
    want.update(blob);
    assert.equal(hash.digest(), want.digest());
    closeQuietly(conn);
    // The idle connection was closed by the server too.
    assert.equal(await idle.read(new Uint8Array(16)), null);
    closeQuietly(idle);
    await stopping;
    await server.finished;
  } finally {
    closeQuietly(idle);
    closeQuietly(conn);
    await server.shutdown();
  }
});

/** `promise`, or a failure naming `what` when it takes longer than `ms` (a hang, not a timing). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("http1: a body that stops coming is cut off with 408 after the body timeout; a slow one is not", async () => {
  // The handler reads the body (a push), or answers without reading it (refused; the server then
  // skips the body to keep the connection): both wait for bytes that never come.
  const refuse: Http1Handler = () => Promise.resolve(new Response("no", { status: 401 }));
  for (const handler of [echo, refuse]) {
    await using server = start(handler, { bodyTimeoutMs: 200 });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    try {
      await writeAll(
        conn,
        encoder.encode("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"),
      );
      const text = decoder.decode(await within(readToEnd(conn), 20_000, "server closing"));
      // A body skipped after the answer is only closed on: one response per request.
      assert.deepEqual(statuses(text), [handler === echo ? 408 : 401], text);
    } finally {
      closeQuietly(conn);
    }
  }
  await using server = start(echo, { bodyTimeoutMs: 2_000 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    const pieces = 8;
    await writeAll(
      conn,
      encoder.encode(
        `PUT /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${pieces}\r\n\r\n`,
      ),
    );
    // Longer in all than the timeout, never idle for more than a sixth of it.
    for (let i = 0; i < pieces; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await writeAll(conn, encoder.encode("x"));
    }
    const text = decoder.decode(await readToEnd(conn));
    assert.deepEqual(statuses(text), [200], text);
    assert.match(text, /"body":"xxxxxxxx"/);
  } finally {
    closeQuietly(conn);
  }
});

Deno.test("http1: a head trickled in small pieces is scanned once, not once per piece", async () => {
  await using server = start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    const filler = `X-Filler: ${"a".repeat(1000)}\r\n`;
    const head = encoder.encode(
      `GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${filler.repeat(256)}\r\n`,
    );
    const piece = 1024;
    for (let at = 0; at < head.length; at += piece) {
      const before = server.stats.headBytesScanned;
      await writeAll(conn, head.subarray(at, at + piece));
      // Each piece is read and searched on its own before the next one is sent (bounded wait).
      for (let i = 0; i < 2_000 && server.stats.headBytesScanned === before; i++) {
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    const text = decoder.decode(await readToEnd(conn));
    assert.deepEqual(statuses(text), [200], text.slice(0, 200));
    // Once over the head, plus 3 bytes per read where the end could straddle two reads; searching
    // from the start after every read would be ~128 times the head here.
    const reads = Math.ceil(head.length / piece);
    assert.ok(
      server.stats.headBytesScanned <= head.length + 3 * reads,
      `${server.stats.headBytesScanned} bytes scanned for a ${head.length}-byte head`,
    );
  } finally {
    closeQuietly(conn);
  }
});

/** Whether the server closed `conn` without answering (end of input or a reset). */
async function closedUnanswered(conn: Deno.Conn): Promise<boolean> {
  const n = await within(
    conn.read(new Uint8Array(64)).catch(() => null),
    20_000,
    "waiting for the server to close",
  );
  return n === null;
}

Deno.test("http1: connections over the limit are closed on arrival, reported once; the others are served", async () => {
  for (const limit of ["connections", "client"] as const) {
    const events: string[] = [];
    await using server = start(echo, {
      maxConnections: limit === "connections" ? 3 : 100,
      maxClientConnections: limit === "client" ? 3 : 100,
      onLimit: (e) => events.push(`${e.limit} ${e.max} ${e.remoteAddr.hostname}`),
    });
    const port = server.addr.port;
    const open: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 3; i++) open.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      for (let i = 0; i < 2; i++) {
        const extra = await Deno.connect({ hostname: "127.0.0.1", port });
        open.push(extra);
        assert.ok(await closedUnanswered(extra), `connection ${4 + i} was served`);
      }
      assert.deepEqual(events, [`${limit} 3 127.0.0.1`]);
      assert.equal(server.stats.refused, 2);
      // The connections within the limit still work.
      for (const conn of open.slice(0, 3)) {
        await writeAll(conn, encoder.encode("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf);
        assert.deepEqual(statuses(decoder.decode(buf.subarray(0, n ?? 0))), [200]);
      }
      // One leaves: a new one is let in.
      closeQuietly(open[0]);
      let served: number[] = [];
      for (let i = 0; i < 100 && served.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        served = statuses(
          await exchange(port, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
      }
      assert.deepEqual(served, [200]);
    } finally {
      for (const conn of open) closeQuietly(conn);
    }
  }
});
