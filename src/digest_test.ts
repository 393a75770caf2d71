import assert from "node:assert/strict";
import { isFerryError } from "./errors.ts";
import { EMPTY_DIGEST, parseDigest, Sha256, sha256, verifyStream } from "./digest.ts";

const EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c)));
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

Deno.test("sha256 and incremental hashing agree", async () => {
  assert.equal(await sha256(""), EMPTY);
  const h = await Sha256.create();
  h.update(new TextEncoder().encode("hello "));
  h.update(new TextEncoder().encode("world"));
  assert.equal(h.size, 11);
  assert.equal(h.digest(), await sha256("hello world"));
  // A view hashes its own bytes, not its whole buffer.
  const buffer = new TextEncoder().encode("[hello world]");
  assert.equal(await sha256(buffer.subarray(1, 12)), await sha256("hello world"));
  assert.equal(EMPTY_DIGEST, EMPTY);
});

Deno.test("sha256 gives the same digests by WebCrypto and, once loaded, by the streaming engine", async () => {
  const ABC = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const view = new TextEncoder().encode("[abc]").subarray(1, 4);
  const before = [await sha256("abc"), await sha256(view), await sha256("")];
  await Sha256.create(); // loads the streaming engine, which sha256 then uses
  const after = [await sha256("abc"), await sha256(view), await sha256("")];
  assert.deepEqual(before, [ABC, ABC, EMPTY]);
  assert.deepEqual(after, [ABC, ABC, EMPTY]);
});

Deno.test("parseDigest accepts sha256 and explains other algorithms", () => {
  assert.equal(parseDigest(EMPTY), EMPTY);
  assert.throws(() => parseDigest("sha512:abcd"), (e) => isFerryError(e, "unsupported"));
  assert.throws(() => parseDigest("sha256:ABC"), (e) => isFerryError(e, "invalid_input"));
  assert.throws(() => parseDigest("../etc/passwd"), (e) => isFerryError(e, "invalid_input"));
});

Deno.test("verifyStream passes matching content through", async () => {
  const text = await drain(
    verifyStream(streamOf("ab", "c"), { digest: await sha256("abc"), size: 3 }, "blob"),
  );
  assert.equal(text, "abc");
});

Deno.test("verifyStream fails on wrong digest, short and long content", async () => {
  await assert.rejects(
    drain(verifyStream(streamOf("abd"), { digest: await sha256("abc"), size: 3 }, "blob x")),
    (e) => isFerryError(e, "digest_mismatch") && /blob x/.test(e.message),
  );
  await assert.rejects(
    drain(verifyStream(streamOf("ab"), { digest: await sha256("abc"), size: 3 }, "blob")),
    (e) => isFerryError(e, "size_mismatch"),
  );
  await assert.rejects(
    drain(verifyStream(streamOf("abcd"), { digest: await sha256("abc"), size: 3 }, "blob")),
    (e) => isFerryError(e, "size_mismatch"),
  );
});
