import assert from "node:assert/strict";
import { summarizeProfile } from "./profile.ts";

Deno.test("summarizeProfile attributes sample time to functions and categories", () => {
  const repo = "file:///repo/";
  const profile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 } },
      { id: 2, callFrame: { functionName: "download", url: `${repo}src/x.ts`, lineNumber: 9 } },
      { id: 3, callFrame: { functionName: "op_write", url: "", lineNumber: -1 } },
      { id: 4, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
    ],
    samples: [2, 3, 3, 4],
    timeDeltas: [0, 1000, 2000, 3000],
    startTime: 0,
    endTime: 10_000,
  };
  const s = summarizeProfile(profile, repo);
  assert.equal(s.durationMs, 10);
  assert.deepEqual(s.functions, [
    { name: "op_write", ms: 5 },
    { name: "download (src/x.ts:10)", ms: 1 },
    { name: "(idle)", ms: 0 },
  ]);
  assert.deepEqual(s.categories.map((c) => c.name), [
    "Deno native ops",
    "ferry JavaScript",
    "idle (waiting for I/O)",
  ]);
});
