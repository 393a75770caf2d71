import assert from "node:assert/strict";
import {
  BUILD_SECTION,
  buildMarkdown,
  type BuildReport,
  type BuildRun,
  checkBuildTargets,
} from "./report.ts";

const GIB = 1024 * 1024 * 1024;

function runs(seconds: number[], rssMiB = 100, other = 0): BuildRun[] {
  return seconds.map((s, i) => ({
    run: i + 1,
    wallMs: s * 1000,
    cpuS: s,
    maxRssKiB: rssMiB * 1024,
    otherCpuS: other,
  }));
}

function report(over: Partial<BuildReport["results"]> = {}): BuildReport {
  return {
    date: "2026-01-01T00:00:00Z",
    command: "deno task bench --only build",
    ferryCommand: "deno run -A main.ts build",
    pigz: "pigz 2.6",
    bytes: GIB,
    files: 16,
    runs: 3,
    results: {
      pigz: runs([16, 15, 17], 4),
      fresh: runs([4, 5, 3], 110),
      single: runs([6, 6, 6], 75),
      rebuild: runs([0.3, 0.2, 0.25], 60),
      second: runs([4], 120)[0],
      merge: runs([0.3, 0.2, 0.2], 60),
      ...over,
    },
    quiet: { settles: 10, waitedMs: 12_000, gaveUp: 1 },
    totalMs: 90_000,
  };
}

Deno.test("build targets: medians against pigz, the largest RSS of any ferry run", () => {
  const [throughput, rss, rebuild, merge] = checkBuildTargets(report());
  // ferry's median 4 s against pigz's 16 s on the same bytes: 4× the throughput.
  assert.equal(throughput.reached, "4.00×");
  assert.ok(throughput.ok);
  assert.equal(rss.reached, "120 MiB");
  assert.match(rss.detail, /second context/);
  assert.ok(rss.ok);
  assert.equal(rebuild.reached, "6.3%");
  assert.ok(rebuild.ok);
  assert.equal(merge.reached, "5.0%");
  assert.ok(merge.ok);

  const bad = checkBuildTargets(report({
    fresh: runs([30, 30, 30], 151),
    merge: runs([4, 4, 4]),
  }));
  assert.deepEqual(bad.map((c) => c.ok), [false, false, true, false]);
  assert.equal(bad[0].reached, "0.53×");
});

Deno.test("build section: replaced in place, other parts and the analysis kept", () => {
  const save = "# ferry registry save: benchmark\n\n## Results\n\nsave figures\n";
  const serve = "## registry serve\n\nserve figures\n";
  const first = buildMarkdown(report());
  assert.match(first, /^## ferry build\n/);
  // `|` inside a cell is escaped, or it would split the row.
  assert.ok(
    first.includes(
      "| layer creation: ferry build vs tar \\| pigz throughput | ≥ 0.8× | 4.00× | ✓ |",
    ),
  );
  assert.ok(!/^## (?!ferry build)/m.test(first), "no other level-2 heading inside the section");

  const doc = BUILD_SECTION.replace(`${save}\n${serve}`, first);
  assert.ok(doc.startsWith(save));
  assert.ok(doc.includes(serve));
  assert.ok(doc.indexOf(serve) < doc.indexOf("## ferry build"), "appended after the others");
  assert.equal(BUILD_SECTION.extract(doc), first);

  // An analysis written by hand survives a regeneration; the rest of the file is untouched.
  const edited = doc.replace("_No analysis written yet._", "Compression is not the limit.");
  assert.equal(BUILD_SECTION.keptAnalysis(edited), "Compression is not the limit.");
  const again = BUILD_SECTION.replace(
    edited,
    buildMarkdown(report({ fresh: runs([8, 8, 8]) }), BUILD_SECTION.keptAnalysis(edited)),
  );
  assert.ok(again.startsWith(save) && again.includes(serve));
  assert.match(again, /Compression is not the limit\./);
  assert.match(again, /2\.00×/);
  assert.equal(again.match(/^## ferry build/gm)?.length, 1);
  // A section before another one is replaced where it stands.
  const middle = BUILD_SECTION.replace(`${save}\n${first}\n${serve}`, "## ferry build\n\nnew\n");
  assert.ok(middle.indexOf("new") < middle.indexOf("## registry serve"));
  assert.ok(!middle.includes("4.00×"));
});
