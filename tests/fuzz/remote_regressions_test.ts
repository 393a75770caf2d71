/**
 * Answers of a registry that fuzzing found ferry's client mishandling, each minimized: a
 * `TypeError` or `RangeError` instead of a `FerryError`, and registry text reaching an error
 * message as line breaks, escape sequences or tens of KiB.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Authenticator } from "../../src/auth/mod.ts";
import { parseDigest } from "../../src/digest.ts";
import type { FerryError } from "../../src/errors.ts";
import { parseManifest } from "../../src/manifest.ts";
import { OCI_INDEX } from "../../src/media_types.ts";
import { checkRangeResponse } from "../../src/remote/blob_reader.ts";
import { responseError } from "../../src/remote/http.ts";
import { RegistryClient } from "../../src/remote/mod.ts";
import { isOneLineFerryError, SCRIPTED_HOST, scriptedClient } from "../support/fuzz_remote.ts";
import { makeImage, startHostileRegistry } from "../support/mod.ts";

const ESC = "\u001b";
/** The C1 control that terminals take for an escape sequence's start (CSI). */
const CSI = "\u009b";

/** A client whose registry answers `/v2/` and then every request with `answer`. */
function clientAnswering(answer: (req: Request) => Response) {
  return scriptedClient((req) =>
    new URL(req.url).pathname === "/v2/" ? new Response("{}") : answer(req)
  );
}

async function assertOneLine(promise: Promise<unknown>, pattern?: RegExp): Promise<FerryError> {
  const err = await promise.then(
    () => assert.fail("expected a failure"),
    (err) => err,
  );
  assert.ok(isOneLineFerryError(err), `not one printable line: ${String(err)}`);
  if (pattern) assert.match((err as Error).message, pattern);
  return err as FerryError;
}

Deno.test("a tag list or catalog page that is JSON but not an object fails as a FerryError", async () => {
  for (const page of ["null", "[]", "7", '"tags"']) {
    const client = clientAnswering(() => new Response(page));
    const reg = client.registry(SCRIPTED_HOST);
    await assertOneLine(
      reg.repository("org/app").tags(),
      /^docker:\/\/registry\.fuzz\.test\/org\/app tags: the page is not a JSON object$/,
    );
    await assertOneLine(reg.repositories(), /catalog: the page is not a JSON object$/);
  }
});

Deno.test("a referrers page of 145,000 entries is read without overflowing the stack", async () => {
  const entry = { mediaType: "a", digest: `sha256:${"1".repeat(64)}`, size: 1 };
  const page = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: Array.from({ length: 145_000 }, () => entry),
  });
  const client = clientAnswering(() => new Response(page));
  const subject = makeImage().manifest.desc;
  const listed = await client.registry(SCRIPTED_HOST).repository("org/app").referrers(subject);
  assert.equal(listed?.length, 145_000);
});

Deno.test("a registry's error list reaches the message as one printable line of bounded length", async () => {
  const body = JSON.stringify({
    errors: [
      { code: "DENIED", message: `no\nsecond line ${ESC}[31mred${CSI}2J` },
      ...Array.from({ length: 300 }, () => ({ code: "UNKNOWN", message: "x".repeat(100) })),
    ],
  });
  const err = await responseError(new Response(body, { status: 403 }), "docker://r/org/app:1");
  assert.ok(isOneLineFerryError(err), err.message);
  assert.match(err.message, /^docker:\/\/r\/org\/app:1: access denied \(DENIED: no\\nsecond/);
  assert.ok(err.message.length < 700, `${err.message.length} characters`);
  // The list itself is kept whole, as the registry sent it.
  assert.equal(err.errors.length, 301);
  assert.equal(err.errors[0].message, `no\nsecond line ${ESC}[31mred${CSI}2J`);
});

Deno.test("a token server's refusal and a realm that is not a URL are quoted printably", async () => {
  const refused = new Authenticator({
    credentials: () => Promise.resolve(undefined),
    fetch: () =>
      Promise.resolve(Response.json({ details: `nope ${ESC}]0;owned${ESC}\\` }, { status: 500 })),
  });
  await assertOneLine(
    refused.challenge(SCRIPTED_HOST, 'Bearer realm="https://auth.fuzz.test/t"', []),
    /failed \(HTTP 500: nope \\x1b\]0;owned\\x1b\\\)$/,
  );
  await assertOneLine(
    refused.challenge(SCRIPTED_HOST, `Bearer realm="https://a${CSI}b c/t"`, []),
    /Bearer realm https:\/\/a\\x9bb c\/t is not a URL$/,
  );
});

Deno.test("digests, media types and ranges a registry sends are quoted printably and cut short", async () => {
  const digest = `sha256:${"a".repeat(60)}${CSI}${"b".repeat(5000)}`;
  for (const run of [() => parseDigest(digest, "docker://r/org/app:1")]) {
    await assertOneLine(Promise.resolve().then(run), /malformed digest "sha256:a+\\x9bb+…"$/);
  }
  await assertOneLine(
    Promise.resolve().then(() =>
      parseManifest(
        new TextEncoder().encode(JSON.stringify({ mediaType: `x${ESC}[2J${"y".repeat(5000)}` })),
        undefined,
        "docker://r/org/app:1",
      )
    ),
    /unsupported manifest media type x\\x1b\[2Jy+…$/,
  );
  await assertOneLine(
    Promise.resolve().then(() =>
      checkRangeResponse(
        new Response(null, {
          status: 206,
          headers: { "content-range": `bytes 0-9/10${CSI}31m` },
        }),
        5,
        10,
        "docker://r/org/app@sha256:…",
      )
    ),
    /with range bytes 0-9\/10\\x9b31m$/,
  );
});

Deno.test("a manifest, tag list or token answer that stops mid-body fails as a network FerryError within its time bound", async () => {
  // Each answer sends its first bytes and then nothing: the request's time bound ends it. They
  // are all ended before the server stops (it waits for answers under way).
  const open: ReadableStreamDefaultController<Uint8Array>[] = [];
  const stalled = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        open.push(controller);
        controller.enqueue(new TextEncoder().encode('{"schemaVersion":2,'));
      },
    });
  await using server = startHostileRegistry((req) => {
    const path = req.url.pathname;
    if (path === "/token") return new Response(stalled());
    if (path === "/v2/" || req.authorization) return new Response(stalled());
    return new Response(null, {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="http://${req.url.host}/token"` },
    });
  });
  // Declared after the server: ended before it stops.
  await using _ended = {
    [Symbol.asyncDispose]: () => {
      for (const c of open) c.error(new Error("test over"));
      return Promise.resolve();
    },
  };
  const answering = (realmAnswers: boolean) =>
    new RegistryClient({
      auth: realmAnswers
        ? new Authenticator({
          credentials: () => Promise.resolve(undefined),
          fetch: () => Promise.resolve(Response.json({ token: "t" })),
        })
        : new Authenticator({ credentials: () => Promise.resolve(undefined), timeoutMs: 300 }),
      retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
      timeoutMs: 300,
    });
  {
    await using client = closing(answering(true));
    const repo = client.value.registry(server.host).repository("org/app");
    const manifest = await assertOneLine(
      repo.resolve("1.0", { withContent: true }),
      /1\.0: manifest: the answer did not arrive in time$/,
    );
    assert.equal(manifest.code, "network");
    await assertOneLine(repo.tags(), /org\/app tags: the answer did not arrive in time$/);
  }
  {
    await using client = closing(answering(false));
    const repo = client.value.registry(server.host).repository("org/app");
    await assertOneLine(
      repo.tags(),
      /token server .* response: the answer did not arrive in time$/,
    );
  }
});

/** `client`, closed at the end of its block. */
function closing(client: RegistryClient) {
  return { value: client, [Symbol.asyncDispose]: () => client.close() };
}

Deno.test("a manifest HEAD whose Content-Length is not a plain number is not taken for its size", async () => {
  const manifest = makeImage().manifest;
  for (const length of ["-5", "1e3", "0x10", "+7"]) {
    const client = clientAnswering((req) =>
      new Response(req.method === "HEAD" ? null : manifest.bytes as Uint8Array<ArrayBuffer>, {
        headers: {
          "docker-content-digest": manifest.desc.digest,
          "content-type": manifest.desc.mediaType,
          ...(req.method === "HEAD" ? { "content-length": length } : {}),
        },
      })
    );
    // The manifest is read instead, and its size is what arrived.
    const desc = await client.registry(SCRIPTED_HOST).repository("org/app").resolve("1.0");
    assert.deepEqual(desc, manifest.desc, length);
  }
});

Deno.test("an upload Location that is not a URL fails the push as a FerryError", async () => {
  const blob = makeImage({ layerSizes: [10] }).layers[0];
  const client = clientAnswering((req) =>
    req.method === "POST"
      ? new Response(null, {
        status: 202,
        headers: { location: "https://regist]y.fuzz.test/v2/org/app/blobs/u" },
      })
      : new Response(null, { status: 201 })
  );
  const push = client.registry(SCRIPTED_HOST).repository("org/app").push(
    blob.desc,
    () => Promise.resolve(new Blob([blob.bytes as Uint8Array<ArrayBuffer>]).stream()),
  );
  await assertOneLine(
    push,
    /upload started at https:\/\/regist\]y\.fuzz\.test\/.*, which is not a URL$/,
  );
});

Deno.test("a manifest whose connection drops mid-body fails as a network FerryError", async () => {
  await using server = startHostileRegistry((req) => {
    if (req.url.pathname === "/v2/") return undefined;
    // A few bytes, then the connection is cut.
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          controller.enqueue(new TextEncoder().encode('{"schemaVersion":2,'));
          await new Promise((resolve) => setTimeout(resolve, 20));
          controller.error(new Error("cut"));
        },
      }),
    );
  });
  await using client = closing(
    new RegistryClient({
      auth: new Authenticator({ credentials: () => Promise.resolve(undefined) }),
      retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
    }),
  );
  const repo = client.value.registry(server.host).repository("org/app");
  const err = await assertOneLine(
    repo.resolve("1.0", { withContent: true }),
    /1\.0: manifest: the answer broke off: /,
  );
  assert.equal(err.code, "network");
});

Deno.test("an upload Location of 5000 characters on another scheme is named in a message of bounded length", async () => {
  const blob = makeImage({ layerSizes: [10] }).layers[0];
  const client = clientAnswering((req) =>
    req.method === "POST"
      ? new Response(null, { status: 202, headers: { location: `hfile:${"x".repeat(5000)}` } })
      : new Response(null, { status: 201 })
  );
  const push = client.registry(SCRIPTED_HOST).repository("org/app").push(
    blob.desc,
    () => Promise.resolve(new Blob([blob.bytes as Uint8Array<ArrayBuffer>]).stream()),
  );
  const err = await assertOneLine(
    push,
    /PUT nullx+… names a hfile: URL; only http\(s\) URLs are followed$/,
  );
  assert.ok(err.message.length < 600, `${err.message.length} characters`);
});
