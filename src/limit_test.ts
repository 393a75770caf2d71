import assert from "node:assert/strict";
import { isFerryError } from "./errors.ts";
import { failedImagesError, runBounded, Semaphore } from "./limit.ts";

Deno.test("runBounded runs every item, at most width at once, and returns the failures in order", async () => {
  for (const [items, width, most] of [[10, 3, 3], [2, 5, 2], [4, 0, 1]] as const) {
    let active = 0;
    let peak = 0;
    const ran: number[] = [];
    const told: number[] = [];
    const list = Array.from({ length: items }, (_, i) => i);
    const failures = await runBounded(list, {
      width,
      run: async (i) => {
        peak = Math.max(peak, ++active);
        // Yield so that every worker is inside run() before any finishes.
        for (let k = 0; k < 3; k++) await Promise.resolve();
        active--;
        ran.push(i);
        if (i % 2 === 1) throw new Error(`odd ${i}`);
      },
      onFailure: (i, err) => {
        assert.equal((err as Error).message, `odd ${i}`);
        told.push(i);
      },
    });
    assert.equal(peak, most, `${items} items, width ${width}`);
    assert.deepEqual(ran.toSorted((a, b) => a - b), list);
    const odd = list.filter((i) => i % 2 === 1);
    assert.deepEqual(failures.map((f) => f.item), odd);
    assert.deepEqual(told, odd);
  }
});

Deno.test("failedImagesError counts the failures among all images and names each", () => {
  const err = failedImagesError(["a:1: not found", "b:2: denied"], 5);
  assert.ok(isFerryError(err, "registry"));
  assert.equal(err.message, "2 of 5 images failed: a:1: not found; b:2: denied");
});

Deno.test("Semaphore: slots go to waiters in the order they asked", async () => {
  const sem = new Semaphore(1);
  await sem.acquire();
  const order: string[] = [];
  const first = sem.acquire().then(() => order.push("first"));
  const second = sem.acquire().then(() => order.push("second"));
  sem.release();
  await first;
  assert.deepEqual(order, ["first"]);
  sem.release();
  await second;
  assert.deepEqual(order, ["first", "second"]);
  sem.release();
});
