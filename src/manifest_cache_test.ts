import assert from "node:assert/strict";
import type { Digest } from "./digest.ts";
import { ManifestCache } from "./manifest_cache.ts";

const d = (n: number) => `sha256:${String(n).padStart(64, "0")}` as Digest;

Deno.test("ManifestCache keeps at most its entries and bytes, dropping the oldest", () => {
  const byCount = new ManifestCache({ maxEntries: 2 });
  byCount.set(d(1), new Uint8Array(1));
  byCount.set(d(2), new Uint8Array(1));
  byCount.set(d(1), new Uint8Array(1)); // kept again: now the newest
  byCount.set(d(3), new Uint8Array(1));
  assert.deepEqual([1, 2, 3].map((n) => byCount.get(d(n)) !== undefined), [true, false, true]);

  const byBytes = new ManifestCache({ maxEntries: 10, maxBytes: 10 });
  byBytes.set(d(1), new Uint8Array(6));
  byBytes.set(d(2), new Uint8Array(4));
  byBytes.set(d(3), new Uint8Array(5)); // 15 bytes: the oldest goes
  byBytes.set(d(4), new Uint8Array(11)); // larger than the bound: not kept, nothing dropped
  assert.deepEqual([1, 2, 3, 4].map((n) => byBytes.get(d(n))?.byteLength), [
    undefined,
    4,
    5,
    undefined,
  ]);
});
