import assert from "node:assert/strict";
import type { Measurement } from "./methods.ts";
import {
  checkSaveTargets,
  SAVE_SECTION,
  saveMarkdown,
  type SaveReport,
  summarizeSave,
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

function report(measurements: Measurement[], scale: "small" | "large" = "large"): SaveReport {
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

Deno.test("summarizeSave takes medians per method in table order", () => {
  const s = summarizeSave([
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

Deno.test("checkSaveTargets compares ferry with the serial Sealos method and the faster curl", () => {
  const checks = checkSaveTargets(report([
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

Deno.test("checkSaveTargets uses the 0.3× limit at the small scale", () => {
  const checks = checkSaveTargets(
    report([m("ferry", 1, 4000), m("sealos-serial", 1, 10_000)], "small"),
  );
  const sealos = checks.find((c) => c.target.includes("Sealos"))!;
  assert.equal(sealos.limit, "≤ 0.3×");
  assert.equal(sealos.ok, false);
});

Deno.test("the analysis block survives regenerating RESULTS.md", () => {
  const first = saveMarkdown(report([m("ferry", 1, 1000)]), "hand-written *notes*");
  assert.equal(SAVE_SECTION.keptAnalysis(first), "hand-written *notes*");
  const second = saveMarkdown(report([m("ferry", 1, 2000)]), SAVE_SECTION.keptAnalysis(first));
  assert.match(second, /hand-written \*notes\*/);
  assert.equal(SAVE_SECTION.keptAnalysis("no markers"), undefined);
});

Deno.test("runs where other work took more than a quarter core are marked disturbed", () => {
  const quiet = m("ferry", 1, 4000);
  const busy = { ...m("ferry", 2, 4000), otherCpuS: 1.5 };
  const [s] = summarizeSave([quiet, busy]);
  assert.deepEqual(s.disturbed, [false, true]);
  assert.match(saveMarkdown(report([quiet, busy])), /\| 4\.00 4\.00\* \|/);
});
