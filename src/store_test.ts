import assert from "node:assert/strict";
import { finishStore, type Store } from "./store.ts";

function store(withAbort: boolean): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const s = {
    location: "test:",
    repository: () => assert.fail("unused"),
    repositories: () => Promise.resolve([]),
    close: () => (calls.push("close"), Promise.resolve()),
    ...(withAbort ? { abort: () => (calls.push("abort"), Promise.resolve()) } : {}),
  };
  return { store: s as Store, calls };
}

Deno.test("finishStore closes after success and aborts after failure where a store can", async () => {
  for (
    const [withAbort, ok, want] of [
      [true, true, "close"],
      [true, false, "abort"],
      [false, false, "close"],
      [false, true, "close"],
    ] as const
  ) {
    const { store: s, calls } = store(withAbort);
    await finishStore(s, ok);
    assert.deepEqual(calls, [want], `abort: ${withAbort}, ok: ${ok}`);
  }
});
