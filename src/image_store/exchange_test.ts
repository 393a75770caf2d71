import assert from "node:assert/strict";
import { fanOutArchive } from "../../tests/support/fuzz_archive.ts";
import { recordingOpens } from "../../tests/support/open_spy.ts";
import { tempDir } from "../../tests/support/tmp.ts";
import { loadArchive } from "./exchange.ts";
import { ImageStore } from "./store.ts";

Deno.test("ferry load reads each manifest of an archive once before loading", async () => {
  await using dir = await tempDir("ferry-exchange-test-");
  // 931 paths through 3 manifests.
  const path = dir.join("fan.tar");
  await Deno.writeFile(path, await fanOutArchive(dir.path, 30));

  const store = await ImageStore.open({ root: dir.join("store") });
  try {
    // The check of signatures comes right after the archive's completeness is checked: stopping
    // there counts the reads of that check alone.
    const stop = new Error("stop after the completeness check");
    const { opened } = await recordingOpens(() =>
      loadArchive(store, path, { check: () => Promise.reject(stop) }).catch((err) => {
        if (err !== stop) throw err;
      })
    );
    const reads = opened.filter((p) => p === path).length;
    assert.ok(reads < 20, `the archive was opened ${reads} times`);
  } finally {
    await store.close();
  }
});
