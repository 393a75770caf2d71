/**
 * Raw bytes from a client of `registry serve`: whatever a connection carries (broken request
 * lines, folded or huge headers, chunked bodies cut anywhere, pipelined requests), the HTTP/1
 * server answers each request it reads with a well-framed response below 500 (501 and 505 name
 * what it does not speak) or closes, within a deadline, and keeps serving other clients.
 *
 * @module
 */
import assert from "node:assert/strict";
import { sha256 } from "../../src/digest.ts";
import { serveHttp1 } from "../../src/http1/mod.ts";
import { OCI_MANIFEST } from "../../src/media_types.ts";
import { byteMutator, fuzz } from "../support/fuzz.ts";
import { fixtureImage, REPO, type ServedStore, withServedStore } from "../support/fuzz_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? "1");
const SEED = SCALE === 1 ? 1 : Date.now() % 1_000_000;
/** Longest a connection may stay open after the client has sent everything and half-closed. */
const DEADLINE_MS = 4000;

const { image } = fixtureImage();
const layer = image.layers[0].desc.digest;
const whole = await sha256(encoder.encode("hello world"));
const H = "Host: 127.0.0.1\r\n";

const corpus = [
  `GET /v2/${REPO}/manifests/v1 HTTP/1.1\r\n${H}Accept: ${OCI_MANIFEST}\r\n\r\n`,
  `HEAD /v2/${REPO}/blobs/${layer} HTTP/1.1\r\n${H}\r\nGET /v2/ HTTP/1.1\r\n${H}\r\n`,
  // Methods are case-sensitive, though `Request` capitalises the standard ones.
  `head /v2/${REPO}/manifests/v1 HTTP/1.1\r\n${H}\r\nGET /v2/ HTTP/1.1\r\n${H}\r\n`,
  `GET /v2/${REPO}/blobs/${layer} HTTP/1.1\r\n${H}Range: bytes=3-9\r\nConnection: close\r\n\r\n`,
  `POST /v2/${REPO}/blobs/uploads/?digest=${whole} HTTP/1.1\r\n${H}` +
  `Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n` +
  `GET /v2/${REPO}/blobs/${whole} HTTP/1.1\r\n${H}\r\n`,
  `PUT /v2/${REPO}/manifests/v1 HTTP/1.1\r\n${H}Content-Type: ${OCI_MANIFEST}\r\n` +
  `Content-Length: ${image.manifest.bytes.length}\r\n\r\n${decoder.decode(image.manifest.bytes)}`,
  `POST /v2/${REPO}/blobs/uploads/?digest=${whole} HTTP/1.1\r\n${H}Expect: 100-continue\r\n` +
  `Content-Length: 11\r\n\r\nhello world`,
  `GET /v2/_catalog?n=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /v2/ HTTP/1.0\r\n\r\n`,
  `PATCH /v2/${REPO}/blobs/uploads/0b7e1c7e-8d4e-4a51-9c1f-3c2b1e0d9a77 HTTP/1.1\r\n${H}` +
  `Content-Range: 0-4\r\nContent-Length: 5\r\n\r\nhello`,
].map((t) => encoder.encode(t));

const dictionary = [
  "\r\n",
  "\r\n\r\n",
  "\r\n ",
  "\r\n\t",
  "\n",
  "\r",
  " ",
  ":",
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/2.0",
  "Content-Length: ",
  "Content-Length: 0\r\n",
  "Content-Length: 5, 5\r\n",
  "Content-Length: 99999999\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Transfer-Encoding: gzip, chunked\r\n",
  "Connection: close\r\n",
  "Expect: 100-continue\r\n",
  "Host: \r\n",
  "0\r\n\r\n",
  "ffffffffffff\r\n",
  ";",
  "GET ",
  "HEAD ",
  "hEAD ",
  "POST ",
  "CONNECT ",
  "TRACE ",
  "/v2/",
  "%00",
  "..",
];

/** Everything the server sends until it closes, or a failure past the deadline. */
async function exchange(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed
    }
  }, DEADLINE_MS);
  const started = performance.now();
  const chunks: Uint8Array[] = [];
  try {
    const reading = (async () => {
      const buf = new Uint8Array(64 << 10);
      let total = 0;
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
        total += n;
        if (total > 8 << 20) throw new Error("more than 8 MiB of answers");
      }
    })();
    let at = 0;
    try {
      while (at < bytes.length) at += await conn.write(bytes.subarray(at));
      await conn.closeWrite();
    } catch {
      // the server closed first (it answered and stopped reading): what it sent is still read
    }
    await reading;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed
    }
  }
  const took = performance.now() - started;
  if (took >= DEADLINE_MS) throw new Error(`the server kept the connection ${took.toFixed(0)} ms`);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const STATUS_LINE = encoder.encode("HTTP/1.1 ");

function startsAt(bytes: Uint8Array, at: number, prefix: Uint8Array): boolean {
  if (at + prefix.length > bytes.length) return false;
  return prefix.every((b, i) => bytes[at + i] === b);
}

/**
 * Status codes of the responses in `bytes`, checking their framing: each starts with a status
 * line, and each body is as long as it says (chunked or `Content-Length`), or absent with another
 * response or the end right after its head — which only a HEAD request may get, so such answers
 * are counted in `bodiless`.
 */
function responses(bytes: Uint8Array): { codes: number[]; bodiless: number } {
  const codes: number[] = [];
  let bodiless = 0;
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(
      `${why} at byte ${at}: ${JSON.stringify(decoder.decode(bytes.subarray(at, at + 200)))}`,
    );
  };
  while (at < bytes.length) {
    if (!startsAt(bytes, at, STATUS_LINE)) fail("no status line");
    let end = at;
    while (
      end + 3 < bytes.length &&
      !(bytes[end] === 13 && bytes[end + 1] === 10 && bytes[end + 2] === 13 &&
        bytes[end + 3] === 10)
    ) end++;
    if (end + 3 >= bytes.length) fail("a response head without end");
    const head = decoder.decode(bytes.subarray(at, end)).toLowerCase();
    const code = Number(head.slice(9, 12));
    codes.push(code);
    at = end + 4;
    if (code === 100 || code === 204 || code === 304) continue;
    const length = head.match(/\r\ncontent-length: (\d+)/)?.[1];
    if (/\r\ntransfer-encoding: chunked/.test(head)) {
      for (;;) {
        const line = decoder.decode(bytes.subarray(at, at + 20)).match(/^([0-9a-f]+)\r\n/);
        if (!line) fail("a malformed chunk");
        const size = parseInt(line![1], 16);
        at += line![0].length + size + 2;
        if (at > bytes.length) fail("a chunk cut short");
        if (size === 0) break;
      }
    } else if (length !== undefined) {
      const n = Number(length);
      if (n > 0 && (at === bytes.length || startsAt(bytes, at, STATUS_LINE))) {
        bodiless++;
      } else {
        at += n;
        if (at > bytes.length) fail(`a body shorter than its Content-Length ${n}`);
      }
    } else {
      fail("a response without Content-Length nor chunks");
    }
  }
  return { codes, bodiless };
}

async function stillServing(port: number, label: string): Promise<void> {
  const text = decoder.decode(
    await exchange(port, encoder.encode(`GET /v2/ HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)),
  );
  assert.match(text, /^HTTP\/1\.1 200 /, `${label}: the next client got ${text.slice(0, 100)}`);
}

async function withServer(fn: (port: number, served: ServedStore) => Promise<void>) {
  await withServedStore("memory", async (served) => {
    const server = serveHttp1({
      hostname: "127.0.0.1",
      port: 0,
      handler: served.handler,
      headTimeoutMs: 1000,
      bodyTimeoutMs: 1000,
      idleTimeoutMs: 1000,
    });
    try {
      await fn(server.addr.port, served);
    } finally {
      await server.shutdown();
    }
  });
}

Deno.test("fuzz: registry serve over HTTP/1 answers mutated bytes or closes", async () => {
  await withServer(async (port, served) => {
    let run = 0;
    await fuzz({
      name: "http1",
      corpus,
      mutate: byteMutator({ dictionary }),
      runs: 300 * SCALE,
      seed: SEED,
      accept: () => false,
      maxMs: DEADLINE_MS + 1000,
      target: async (input) => {
        const { codes, bodiless } = responses(await exchange(port, input));
        const heads = decoder.decode(input).match(/(^|\n)HEAD /g)?.length ?? 0;
        assert.ok(bodiless <= heads, `${bodiless} answers without their body, ${heads} HEAD`);
        for (const code of codes) {
          assert.ok(code < 500 || code === 501 || code === 505, `answered ${code}`);
        }
        assert.deepEqual(served.errors, []);
        if (++run % 50 === 0) await stillServing(port, `after run ${run}`);
      },
    });
    await stillServing(port, "at the end");
  });
});
