import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { GZIP_BLOCK_SIZE, GzipEncoder, type GzipEncoderOptions, GzipWorkerPool } from "./gzip.ts";
import { concat } from "../tar/_test_tar.ts";
import { collect, requirePeer } from "./test_util.ts";

/** Deterministic pseudo-random bytes (xorshift), incompressible for deflate. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function text(n: number): Uint8Array {
  const line = new TextEncoder().encode("image: registry.k8s.io/kube-apiserver:v1.25.0 # pinned\n");
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = line[i % line.byteLength];
  return out;
}

async function gzip(input: Uint8Array, options: GzipEncoderOptions, piece = 100_003) {
  const e = new GzipEncoder(options);
  const out: Uint8Array[] = [];
  for (let at = 0; at < input.byteLength; at += piece) {
    e.write(input.subarray(at, at + piece));
    for (;;) {
      out.push(...e.takeReady());
      if (e.backlog < e.maxBacklog) break;
      await e.waitOldest();
    }
  }
  out.push(...(await e.finish()));
  return concat(out);
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  return await collect(
    new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip")),
  );
}

// Mixed content across block boundaries: incompressible runs (stored), text (deflated), and
// switches in the middle of blocks.
const MIXED = concat([
  noise(GZIP_BLOCK_SIZE + 12_345, 1),
  text(2 * GZIP_BLOCK_SIZE + 777),
  noise(50_000, 2),
  text(40_000),
  noise(3, 3),
]);

Deno.test("gzip: output decompresses to the input and does not depend on threads", async () => {
  const one = await gzip(MIXED, { threads: 1 });
  const two = await gzip(MIXED, { threads: 2 }, 65_536);
  const four = await gzip(MIXED, { threads: 4 }, 3_000_000);
  assert.equal(await sha256(one), await sha256(two));
  assert.equal(await sha256(one), await sha256(four));
  assert.deepEqual(await gunzip(one), MIXED);
  // Incompressible runs cost only stored-block headers; text shrinks a lot.
  const noiseBytes = GZIP_BLOCK_SIZE + 12_345 + 50_000 + 3;
  assert.ok(one.byteLength < noiseBytes + 100_000, `${one.byteLength} bytes`);
  assert.ok(one.byteLength > noiseBytes, `${one.byteLength} bytes`);
});

// Layer digests must not change between machines or ferry releases without notice: this pins the
// output of the bundled zlib for a fixed input. A failure here on some machine means gzip layer
// digests are not reproducible there (plain-tar diffIDs still are).
Deno.test("gzip: output for a fixed input is pinned", async () => {
  const bytes = await gzip(MIXED, { threads: 2 });
  assert.equal(bytes.byteLength, 1_125_238);
  assert.equal(
    await sha256(bytes),
    "sha256:044225cd9676fa3b96e68d767cc9bb40771ffae8697b5dccd61ea6549ef965d1",
  );
});

Deno.test("gzip: levels change the bytes, not the content", async () => {
  const sample = text(300_000);
  const fast = await gzip(sample, { level: 1, threads: 1 });
  const best = await gzip(sample, { level: 9, threads: 1 });
  assert.notEqual(await sha256(fast), await sha256(best));
  assert.deepEqual(await gunzip(fast), sample);
  assert.deepEqual(await gunzip(best), sample);
  assert.throws(() => new GzipEncoder({ level: 0 }), RangeError);
  assert.throws(() => new GzipEncoder({ level: 10 }), RangeError);
});

Deno.test("gzip: empty input is a valid gzip member", async () => {
  const empty = await gzip(new Uint8Array(0), { threads: 1 });
  assert.equal(empty.byteLength, 10 + 2 + 8);
  assert.deepEqual(await gunzip(empty), new Uint8Array(0));
});

Deno.test("gzip: GNU gzip accepts the stream and its CRC and length", async () => {
  if (!(await requirePeer("gzip"))) return;
  const bytes = await gzip(MIXED, { threads: 2 });
  const child = new Deno.Command("gzip", {
    args: ["-dc"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  // Read while writing: gzip stops reading once its output pipe is full.
  const output = child.output();
  const writer = child.stdin.getWriter();
  await writer.write(bytes);
  await writer.close();
  const out = await output;
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(await sha256(out.stdout), await sha256(MIXED));
});

Deno.test("gzip: lent output and direct filling give the same bytes", async () => {
  const want = await gzip(MIXED, { threads: 2 });
  for (const threads of [1, 2]) {
    const e = new GzipEncoder({ threads, lend: true });
    const out: Uint8Array[] = [];
    // Fill the encoder's own buffer, in uneven steps.
    for (let at = 0, step = 1; at < MIXED.byteLength; step = (step * 7919) % 300_007 + 1) {
      const room = e.room(Math.min(step, MIXED.byteLength - at));
      const n = room.byteLength;
      room.set(MIXED.subarray(at, at + n));
      // The view is gone after commit (a full block moves to a worker).
      e.commit(n);
      at += n;
      // Lent views are copied before the next call.
      for (;;) {
        out.push(...e.takeReady().map((v) => v.slice()));
        if (e.backlog < e.maxBacklog) break;
        await e.waitOldest();
      }
    }
    out.push(...(await e.finish()).map((v) => v.slice()));
    assert.equal(await sha256(concat(out)), await sha256(want), `${threads} threads`);
  }
  assert.throws(() => new GzipEncoder({ threads: 1 }).commit(GZIP_BLOCK_SIZE + 1), RangeError);
});

Deno.test("gzip: encoders sharing a worker pool reuse each other's slots, and output stays exact", async () => {
  const pool = new GzipWorkerPool(2);
  try {
    const first = await gzip(MIXED, { workers: pool });
    // The next encoder starts on a slot the first gave back (it still holds the first's bytes)...
    const spare = pool.takeSlot();
    assert.ok(spare.some((b) => b !== 0), "a fresh, zeroed slot: the first encoder's were dropped");
    pool.giveSlot(spare);
    // ...and what it leaves in reused slots never reaches another encoder's output.
    const other = noise(3 * GZIP_BLOCK_SIZE + 5, 9);
    assert.deepEqual(await gunzip(await gzip(other, { workers: pool })), other);
    assert.equal(await sha256(await gzip(MIXED, { workers: pool })), await sha256(first));
    assert.deepEqual(await gunzip(first), MIXED);
  } finally {
    pool.close();
  }
});
