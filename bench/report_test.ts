import assert from "node:assert/strict";
import { parsePerfRows, parseStraceSummary, summarizeProfile, summarizeTrace } from "./diagnose.ts";
import type { Measurement } from "./methods.ts";
import { parseTimeOutput } from "./proc.ts";
import {
  type BenchReport,
  checkTargets,
  keptAnalysis,
  markdownReport,
  median,
  summarizeMethods,
} from "./report.ts";

function m(method: Measurement["method"], run: number, wallMs: number, rss = 50_000): Measurement {
  return {
    method,
    run,
    wallMs,
    clientCpuS: 1,
    sourceCpuS: 0.5,
    destCpuS: 0,
    otherCpuS: 0,
    peakRssKiB: rss,
    extra: {},
  };
}

function report(measurements: Measurement[], scale: "small" | "large" = "large"): BenchReport {
  return {
    machine: {
      date: "2026-01-01T00:00:00Z",
      cpus: 2,
      cpuModel: "cpu",
      memoryGiB: 4,
      kernel: "6",
      deno: "deno 2",
      skopeo: "skopeo 1",
      registry: "registry 2",
      curl: "curl 7",
      workDir: "/tmp/x",
      filesystem: "ext4",
      loadBefore: "0 0 0",
      loadAfter: "0 0 0",
    },
    command: "deno task bench",
    runs: 3,
    scales: [{
      scale,
      description: "set",
      blobs: 1,
      manifests: 1,
      uniqueBytes: 1024 * 1024,
      referencedBytes: 1024 * 1024,
      measurements,
    }],
    startup: { wallMs: [100], cpuS: [0.1], rssKiB: [50_000] },
    skopeoStartupMs: [10],
    totalMs: 1000,
    quiet: { enabled: true, maxWaitMs: 30_000, settles: 1, waitedMs: 1000, gaveUp: 0 },
  };
}

Deno.test("median takes the middle value, or the mean of the middle two", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("parseTimeOutput reads the last line GNU time wrote", () => {
  assert.deepEqual(
    parseTimeOutput("Command exited with non-zero status 1\n1.50 0.70 0.20 123456\n"),
    { userS: 0.7, sysS: 0.2, maxRssKiB: 123456 },
  );
  assert.throws(() => parseTimeOutput("garbage"), /unexpected output/);
});

Deno.test("summarizeMethods takes medians per method in table order", () => {
  const s = summarizeMethods([
    m("curl-seq", 1, 1000),
    m("ferry", 2, 3000, 90_000),
    m("ferry", 1, 1000, 70_000),
    m("ferry", 3, 2000),
  ]);
  assert.deepEqual(s.map((x) => x.method), ["ferry", "curl-seq"]);
  assert.equal(s[0].median, 2);
  assert.deepEqual(s[0].runs, [1, 3, 2]);
  assert.deepEqual(s[0].disturbed, [false, false, false]);
  assert.equal(s[0].peakRssKiB, 90_000);
});

Deno.test("checkTargets compares ferry with the serial Sealos method and the faster curl", () => {
  const checks = checkTargets(report([
    m("ferry", 1, 4000, 130 * 1024),
    m("ferry-rerun", 1, 100),
    m("sealos-serial", 1, 10_000),
    m("curl-seq", 1, 5000),
    m("curl-parallel", 1, 3000),
  ]));
  const sealos = checks.find((c) => c.target.includes("Sealos"))!;
  assert.equal(sealos.reached, "0.40×");
  assert.equal(sealos.ok, true);
  const raw = checks.find((c) => c.target.includes("raw"))!;
  assert.equal(raw.reached, "1.33×");
  assert.equal(raw.ok, false);
  assert.match(raw.detail, /curl-parallel/);
  const rss = checks.find((c) => c.target.includes("RSS"))!;
  assert.equal(rss.ok, false);
  assert.equal(rss.reached, "130 MiB");
  const rerun = checks.find((c) => c.target.includes("rerun"))!;
  assert.equal(rerun.reached, "2.5%");
  assert.equal(rerun.ok, true);
});

Deno.test("checkTargets uses the 0.3× limit at the small scale", () => {
  const checks = checkTargets(
    report([m("ferry", 1, 4000), m("sealos-serial", 1, 10_000)], "small"),
  );
  const sealos = checks.find((c) => c.target.includes("Sealos"))!;
  assert.equal(sealos.limit, "≤ 0.3×");
  assert.equal(sealos.ok, false);
});

Deno.test("the analysis block survives regenerating RESULTS.md", () => {
  const first = markdownReport(report([m("ferry", 1, 1000)]), "hand-written *notes*");
  assert.equal(keptAnalysis(first), "hand-written *notes*");
  const second = markdownReport(report([m("ferry", 1, 2000)]), keptAnalysis(first));
  assert.match(second, /hand-written \*notes\*/);
  assert.equal(keptAnalysis("no markers"), undefined);
});

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

Deno.test("runs where other work took more than a quarter core are marked disturbed", () => {
  const quiet = m("ferry", 1, 4000);
  const busy = { ...m("ferry", 2, 4000), otherCpuS: 1.5 };
  const [s] = summarizeMethods([quiet, busy]);
  assert.deepEqual(s.disturbed, [false, true]);
  assert.match(markdownReport(report([quiet, busy])), /\| 4\.00 4\.00\* \|/);
});
