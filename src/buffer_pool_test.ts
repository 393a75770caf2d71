import assert from "node:assert/strict";
import { BufferPool } from "./buffer_pool.ts";

Deno.test("BufferPool: gives back what was returned, bounded, never a moved or foreign buffer", () => {
  const pool = new BufferPool(16, 2);
  const a = pool.take();
  const b = pool.take();
  const c = pool.take();
  assert.equal(a.byteLength, 16);
  pool.give(a);
  pool.give(a); // kept once
  pool.give(b);
  pool.give(c); // over the bound: dropped
  pool.give(new ArrayBuffer(8)); // another size
  const moved = new ArrayBuffer(16);
  structuredClone(moved, { transfer: [moved] });
  pool.give(moved); // detached
  const again = [pool.take(), pool.take(), pool.take()];
  assert.deepEqual([again[0] === b, again[1] === a, again[2] !== c && again[2] !== a], [
    true,
    true,
    true,
  ]);
  pool.give(again[0]);
  pool.clear();
  assert.notEqual(pool.take(), again[0]);
});
