import assert from "node:assert/strict";
import { Sha256 } from "../digest.ts";
import { OCI_LAYER_TAR } from "../media_types.ts";
import { isFerryError } from "../errors.ts";
import { bytesSource, type ContentSource } from "../store.ts";
import { readAll } from "../streams.ts";
import { blob, randomBytes } from "../../tests/support/images.ts";
import { recordingOpens } from "../../tests/support/open_spy.ts";
import { RegistryDir } from "./mod.ts";
import { SMALL_BLOB_BYTES } from "./staging.ts";

/**
 * A byte-stream source of `bytes` that fills the reader's own buffers, and marks each buffer it is
 * handed (past the region it fills) so that a later download can tell whether it got a buffer an
 * earlier one used. `onFirstPull` sees the whole buffer of the first read.
 */
function markingSource(
  bytes: Uint8Array,
  mark: Uint8Array,
  onFirstPull: (whole: Uint8Array) => void,
): ContentSource {
  return () => {
    let at = 0;
    return Promise.resolve(
      new ReadableStream({
        type: "bytes",
        pull(controller: ReadableByteStreamController) {
          const request = controller.byobRequest!;
          const view = request.view as Uint8Array;
          const whole = new Uint8Array(view.buffer);
          if (at === 0) onFirstPull(whole.slice());
          whole.set(mark, whole.byteLength - mark.byteLength);
          if (at >= bytes.byteLength) {
            controller.close();
            request.respond(0);
            return;
          }
          const n = Math.min(view.byteLength, bytes.byteLength - at);
          view.set(bytes.subarray(at, at + n));
          at += n;
          request.respond(n);
        },
      }),
    );
  };
}

function endsWith(whole: Uint8Array, mark: Uint8Array): boolean {
  const tail = whole.subarray(whole.byteLength - mark.byteLength);
  return tail.every((b, i) => b === mark[i]);
}

Deno.test("blob downloads reuse the staging buffers of earlier ones", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-staging-" });
  const dir = await RegistryDir.open(`${root}/registry`);
  try {
    const mark = randomBytes(16);
    const first = blob(OCI_LAYER_TAR, randomBytes(SMALL_BLOB_BYTES + 5000));
    const second = blob(OCI_LAYER_TAR, randomBytes(SMALL_BLOB_BYTES + 7000));
    const repo = dir.repository("pool");
    await repo.push(first.desc, markingSource(first.bytes, mark, () => {}));
    let reused: boolean | undefined;
    await repo.push(
      second.desc,
      markingSource(second.bytes, mark, (whole) => reused = endsWith(whole, mark)),
    );
    assert.equal(reused, true, "the second blob's first read lands in a buffer the first used");
    // Both are whole and verified.
    for (const b of [first, second]) {
      const stream = await repo.fetch(b.desc);
      assert.deepEqual(await readAll(stream, 1 << 20, "blob"), b.bytes);
    }
  } finally {
    await dir.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a new blob's bytes are asked for before its hasher is made, and a failed hasher cancels them", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-staging-" });
  const dir = await RegistryDir.open(`${root}/registry`);
  const realCreate = Sha256.create;
  try {
    const events: string[] = [];
    // The hashing engine may load slowly (the first blob of a process waits for node:crypto).
    Sha256.create = async () => {
      events.push("hasher asked");
      await new Promise((resolve) => setTimeout(resolve, 20));
      events.push("hasher made");
      return await realCreate();
    };
    const repo = dir.repository("early");
    const layer = blob(OCI_LAYER_TAR, randomBytes(SMALL_BLOB_BYTES + 5000));
    await repo.push(layer.desc, (offset) => {
      events.push(`bytes asked from ${offset}`);
      return bytesSource(layer.bytes)(offset);
    });
    assert.deepEqual(events, ["bytes asked from 0", "hasher asked", "hasher made"]);
    assert.deepEqual(await readAll(await repo.fetch(layer.desc), 1 << 20, "blob"), layer.bytes);

    // No hasher: the request already made is cancelled, nothing is stored.
    const broken = new Error("no hashing engine");
    Sha256.create = () => Promise.reject(broken);
    const other = blob(OCI_LAYER_TAR, randomBytes(SMALL_BLOB_BYTES + 3000));
    let cancelled: unknown;
    await assert.rejects(
      repo.push(other.desc, () =>
        Promise.resolve(
          new ReadableStream({
            pull: () => new Promise(() => {}),
            cancel: (reason) => void (cancelled = reason),
          }),
        )),
      (err) => err === broken,
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(cancelled, broken);
    assert.equal(await repo.exists(other.desc), false);
  } finally {
    Sha256.create = realCreate;
    await dir.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a small blob is stored without a partial, a lock or a resumable download", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-staging-" });
  const dir = await RegistryDir.open(`${root}/registry`);
  const realLock = Deno.FsFile.prototype.lock;
  let locks = 0;
  Deno.FsFile.prototype.lock = function (this: Deno.FsFile, exclusive?: boolean) {
    locks++;
    return realLock.call(this, exclusive);
  };
  try {
    const small = blob(OCI_LAYER_TAR, randomBytes(300));
    const repo = dir.repository("small");
    const { opened } = await recordingOpens(() => repo.push(small.desc, bytesSource(small.bytes)));
    assert.deepEqual(opened.filter((p) => p.endsWith(".partial")), []);
    assert.equal(locks, 0);
    assert.deepEqual(await readAll(await repo.fetch(small.desc), 1 << 20, "blob"), small.bytes);
    // Nothing of it is left in the staging directory.
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${root}/registry/.ferry-tmp`)), []);
  } finally {
    Deno.FsFile.prototype.lock = realLock;
    await dir.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a small blob is verified before it is stored: wrong bytes, too many, too few", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-staging-" });
  const dir = await RegistryDir.open(`${root}/registry`);
  try {
    const small = blob(OCI_LAYER_TAR, randomBytes(300));
    const repo = dir.repository("small");
    const wrong = small.bytes.slice();
    wrong[7] ^= 0xff;
    const cases: [Uint8Array, "digest_mismatch" | "size_mismatch"][] = [
      [wrong, "digest_mismatch"],
      [new Uint8Array([...small.bytes, 1]), "size_mismatch"],
      [small.bytes.subarray(0, 299), "size_mismatch"],
    ];
    for (const [bytes, code] of cases) {
      await assert.rejects(
        repo.push(small.desc, bytesSource(bytes)),
        (err: unknown) => isFerryError(err, code),
      );
      assert.equal(await dir.hasBlob(small.desc.digest), false);
      assert.equal(await repo.exists(small.desc), false);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(`${root}/registry/.ferry-tmp`)), []);
    }
  } finally {
    await dir.close();
    await Deno.remove(root, { recursive: true });
  }
});
