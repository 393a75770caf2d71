import assert from "node:assert/strict";
import { join } from "node:path";
import { discoverImages } from "../../src/context/mod.ts";
import { generateManifests } from "./manifests.ts";
import { discoveryMarkdown } from "./report.ts";

Deno.test("the generated manifest set is what discovery reads, and reports its figures", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-bench-discovery-" });
  try {
    const set = await generateManifests(dir, 300_000);
    assert.ok(set.bytes >= 300_000 && set.documents >= 8, JSON.stringify(set));
    const found = await discoverImages(dir, { helm: null });
    assert.ok(found.images.length > 0 && found.referenced.length > 0);
    assert.deepEqual(found.warnings, []);
    const text = discoveryMarkdown({
      date: "2026-12-07T00:00:00Z",
      command: "deno task bench --only discovery",
      ...set,
      images: found.images.length,
      setMs: [1500],
      emptyMs: [500],
      setCpuS: [1.2],
      emptyCpuS: [0.3],
      secondsPerMB: 0.1,
      cpuSecondsPerMB: 0.09,
    }, undefined);
    assert.match(text, /^## context images \(discovery\)\n/);
    assert.match(text, /0\.090 CPU s per MB.*met/);
    await Deno.stat(join(dir, "manifests"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
