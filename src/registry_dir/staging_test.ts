import assert from "node:assert/strict";
import { OCI_LAYER_TAR } from "../media_types.ts";
import type { ContentSource } from "../store.ts";
import { readAll } from "../streams.ts";
import { blob, randomBytes } from "../../tests/support/images.ts";
import { RegistryDir } from "./mod.ts";

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
    const first = blob(OCI_LAYER_TAR, randomBytes(5000));
    const second = blob(OCI_LAYER_TAR, randomBytes(7000));
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
