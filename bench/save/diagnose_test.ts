import assert from "node:assert/strict";
import { parsePerfRows, parseStraceSummary, summarizeTrace } from "./diagnose.ts";

Deno.test("summarizeTrace counts requests and finds phase boundaries", () => {
  const t = summarizeTrace([
    { stream: "stderr", atMs: 100, text: "debug: ping http://h/v2/ -> 200" },
    { stream: "stderr", atMs: 110, text: "debug: HEAD http://h/v2/a/manifests/1.0 -> 200" },
    { stream: "stderr", atMs: 120, text: "debug: GET http://h/v2/a/manifests/sha256:ab -> 200" },
    { stream: "stderr", atMs: 130, text: "debug: GET http://h/v2/a/blobs/sha256:cd -> 200" },
    { stream: "stdout", atMs: 400, text: '{"type":"blob-done","status":"copied"}' },
    { stream: "stdout", atMs: 410, text: '{"type":"blob-done","status":"exists"}' },
    { stream: "stdout", atMs: 450, text: '{"type":"result"}' },
    { stream: "stdout", atMs: 451, text: "not json" },
  ], { wallMs: 500, userS: 0.1, sysS: 0.1, maxRssKiB: 1 });
  assert.deepEqual(t.requests, { ping: 1, "HEAD manifest": 1, "GET manifest": 1, "GET blob": 1 });
  assert.deepEqual(t.phases, {
    firstResponseMs: 100,
    firstBlobMs: 130,
    lastBlobDoneMs: 400,
    resultMs: 450,
    exitMs: 500,
  });
  assert.equal(t.blobsCopied, 1);
  assert.equal(t.blobsExisting, 1);
});

Deno.test("parsePerfRows splits perf report columns on runs of spaces", () => {
  const rows = parsePerfRows(
    "# comment\n    59.93%          2175  deno             deno\n" +
      "     7.77%           282  V8 DefaultWorke  [kernel.kallsyms]\n",
  );
  assert.deepEqual(rows, [
    { samples: 2175, columns: ["deno", "deno"] },
    { samples: 282, columns: ["V8 DefaultWorke", "[kernel.kallsyms]"] },
  ]);
});

Deno.test("parseStraceSummary reads calls and errors, with or without an errors column", () => {
  const s = parseStraceSummary(
    "% time     seconds  usecs/call     calls    errors syscall\n" +
      "------ ----------- ----------- --------- --------- ----------------\n" +
      " 91.25    5.401011        1219      4430        92 futex\n" +
      "  0.89    0.052675         105       500       248 mkdir\n" +
      "  1.12    0.066432         644       103           fsync\n" +
      "------ ----------- ----------- --------- --------- ----------------\n" +
      "100.00    5.918827         324     18226      4591 total\n",
  );
  assert.deepEqual(s.calls, {
    futex: { calls: 4430, errors: 92 },
    mkdir: { calls: 500, errors: 248 },
    fsync: { calls: 103, errors: 0 },
  });
  assert.equal(s.total, 18226);
});
