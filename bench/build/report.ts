/**
 * The build benchmark's figures, its targets (layer creation at least 0.8× the throughput of
 * `tar | pigz`, peak RSS at most 150 MiB, a rebuild of the unchanged context and a merge of two
 * such images each at most 10% of a fresh build), the console lines and the `## ferry build`
 * section of bench/RESULTS.md.
 *
 * @module
 */
import { type MachineInfo, machineLine } from "../lib/machine.ts";
import type { QuietCounts } from "../lib/quiet.ts";
import {
  DISTURBED_NOTE,
  escapedTable,
  fmtS,
  isDisturbed,
  median,
  runsCell,
  type TargetCheck,
  targetRows,
} from "../lib/report.ts";
import { ResultsSection } from "../lib/results_section.ts";

/** One measured run. */
export interface BuildRun {
  /** 1-based run number. */
  run: number;
  wallMs: number;
  /** User plus system CPU of the process tree. */
  cpuS: number;
  /** Peak RSS of the largest process of the tree (ferry: one process, workers included). */
  maxRssKiB: number;
  /** CPU the rest of the machine used during the run. */
  otherCpuS: number;
}

/** What `measureBuild` measured. */
export interface BuildReport {
  date: string;
  command: string;
  machine?: MachineInfo;
  /** How ferry was started (`deno run -A … main.ts build`). */
  ferryCommand: string;
  /** `pigz --version`. */
  pigz: string;
  /** Registry data per context. */
  bytes: number;
  files: number;
  runs: number;
  results: {
    /** `tar -c registry | pigz -6`. */
    pigz: BuildRun[];
    /** `ferry build` into an empty store, default compression threads. */
    fresh: BuildRun[];
    /** The same with `--compression-threads 1`. */
    single: BuildRun[];
    /** `ferry build` of the unchanged context again. */
    rebuild: BuildRun[];
    /** `ferry build` of a second context into the same store. */
    second: BuildRun;
    /** `ferry merge` of the two images. */
    merge: BuildRun[];
  };
  quiet: QuietCounts;
  totalMs: number;
}

/** Figures of one method over its runs. */
export interface BuildSummary {
  label: string;
  runs: BuildRun[];
  /** Median wall seconds. */
  median: number;
  /** Registry MiB per second at the median. */
  mibPerS: number;
  /** Median CPU seconds. */
  cpu: number;
  /** Largest peak RSS, KiB. */
  peakRssKiB: number;
  /** Median CPU of other work, seconds. */
  otherCpu: number;
}

function summarize(label: string, runs: BuildRun[], bytes: number): BuildSummary {
  const wall = median(runs.map((r) => r.wallMs / 1000));
  return {
    label,
    runs,
    median: wall,
    mibPerS: bytes / 1024 / 1024 / wall,
    cpu: median(runs.map((r) => r.cpuS)),
    peakRssKiB: Math.max(...runs.map((r) => r.maxRssKiB)),
    otherCpu: median(runs.map((r) => r.otherCpuS)),
  };
}

/** Summaries in report order: pigz, fresh, one thread, rebuild, second context, merge. */
export function summarizeBuild(report: BuildReport): Record<
  keyof BuildReport["results"],
  BuildSummary
> {
  const r = report.results;
  const b = report.bytes;
  return {
    pigz: summarize("`tar -c registry | pigz -6`", r.pigz, b),
    fresh: summarize("`ferry build`, empty store", r.fresh, b),
    single: summarize("`ferry build --compression-threads 1`, empty store", r.single, b),
    rebuild: summarize("`ferry build` again, unchanged context", r.rebuild, b),
    second: summarize("`ferry build`, second context, same store", [r.second], b),
    merge: summarize("`ferry merge` of the two images", r.merge, b),
  };
}

/** The largest peak RSS of any ferry run, and which. */
function ferryPeak(report: BuildReport): { kib: number; where: string } {
  const s = summarizeBuild(report);
  const all = [s.fresh, s.single, s.rebuild, s.second, s.merge];
  const worst = all.reduce((a, b) => (b.peakRssKiB > a.peakRssKiB ? b : a));
  const run = worst.runs.reduce((a, b) => (b.maxRssKiB > a.maxRssKiB ? b : a));
  return { kib: worst.peakRssKiB, where: `${worst.label.replace(/`/g, "")}, run ${run.run}` };
}

/** The four targets. */
export function checkBuildTargets(report: BuildReport): TargetCheck[] {
  const s = summarizeBuild(report);
  const ratio = s.fresh.mibPerS / s.pigz.mibPerS;
  const peak = ferryPeak(report);
  const rebuild = s.rebuild.median / s.fresh.median;
  const merge = s.merge.median / s.fresh.median;
  return [
    {
      target: "layer creation: ferry build vs tar | pigz throughput",
      limit: "≥ 0.8×",
      reached: `${ratio.toFixed(2)}×`,
      ok: ratio >= 0.8,
      detail: `${s.fresh.mibPerS.toFixed(0)} / ${s.pigz.mibPerS.toFixed(0)} MiB/s (${
        fmtS(s.fresh.median)
      } / ${fmtS(s.pigz.median)})`,
    },
    {
      target: "ferry peak RSS (largest of all runs)",
      limit: "≤ 150 MiB",
      reached: `${(peak.kib / 1024).toFixed(0)} MiB`,
      ok: peak.kib / 1024 <= 150,
      detail: peak.where,
    },
    {
      target: "rebuild of the unchanged context vs first build",
      limit: "≤ 10%",
      reached: `${(100 * rebuild).toFixed(1)}%`,
      ok: rebuild <= 0.1,
      detail: `${fmtS(s.rebuild.median)} / ${fmtS(s.fresh.median)}`,
    },
    {
      target: "merge of two such images vs a fresh build",
      limit: "≤ 10%",
      reached: `${(100 * merge).toFixed(1)}%`,
      ok: merge <= 0.1,
      detail: `${fmtS(s.merge.median)} / ${fmtS(s.fresh.median)}`,
    },
  ];
}

function resultRows(report: BuildReport): string[][] {
  const s = summarizeBuild(report);
  const rows = [[
    "run",
    "median s",
    "runs s",
    "MiB/s",
    "vs pigz",
    "CPU s",
    "peak RSS MiB",
    "other CPU s",
  ]];
  for (const x of Object.values(s)) {
    // Rebuilds and merges write no layer: no throughput to compare.
    const compared = x === s.fresh || x === s.single || x === s.second;
    rows.push([
      x.label,
      x.median.toFixed(2),
      runsCell(x.runs.map((r) => r.wallMs / 1000), x.runs.map(isDisturbed)),
      x.mibPerS.toFixed(0),
      compared ? `${(x.mibPerS / s.pigz.mibPerS).toFixed(2)}×` : "",
      x.cpu.toFixed(2),
      (x.peakRssKiB / 1024).toFixed(0),
      x.otherCpu.toFixed(2),
    ]);
  }
  return rows;
}

/** What the console shows at the end of the build benchmark: the targets. */
export function buildConsole(report: BuildReport): string {
  return [
    "",
    "ferry build targets:",
    ...checkBuildTargets(report).map((c) =>
      `  ${c.ok ? "✓" : "✗"} ${c.target}: ${c.reached} (limit ${c.limit}; ${c.detail})`
    ),
  ].join("\n");
}

/** The `## ferry build` section of RESULTS.md. */
export const BUILD_SECTION = new ResultsSection("ferry build", "build-analysis");

/** The `## ferry build` section of RESULTS.md (ends with a newline). */
export function buildMarkdown(report: BuildReport, analysis?: string): string {
  const q = report.quiet;
  const mib = (report.bytes / 1024 / 1024).toFixed(0);
  const out = [
    BUILD_SECTION.heading,
    "",
    `Measured ${report.date} with \`${report.command}\` (${report.runs} run${
      report.runs === 1 ? "" : "s"
    } of each fresh build and of pigz, order rotated between runs; rebuilds and merges ${report.results.rebuild.length} times; medians below). Every figure is as measured.`,
    "",
    ...(report.machine ? [machineLine(report.machine) + ` ${report.pigz}.`, ""] : []),
    `Context: \`FROM scratch\` + \`COPY registry ./registry\`, where \`registry/\` holds ${report.files}` +
    ` blob files of random data (${mib} MiB) and their link files, as a saved registry does; a` +
    " second context of the same shape for the merge. MiB/s = the registry data over the wall" +
    " time.",
    "",
    "### What is measured",
    "",
    `- **ferry**: \`${report.ferryCommand} --root STORE --save-image=false -t bench:1 CTX\`` +
    " (the V8 flags of main.ts's shebang, as ferry ships), from spawn to exit: starting deno," +
    " tarring and compressing the layer, fsyncing it into the store, writing config and manifest.",
    "- **pigz**: `tar -c -C CTX registry | pigz -6 > FILE`, the same bytes with every core.",
    "- Fresh builds go into an empty store; the rebuild runs on the store of the last fresh build;" +
    " the merge takes that image and one built from the second context.",
    "- Before each run: `sync`, " +
    (q.settles > 0
      ? `a wait for a quiet machine (${q.settles} waits, ${
        (q.waitedMs / 1000).toFixed(0)
      } s in all, ${q.gaveUp} gave up), `
      : "") +
    "page cache warm. CPU and peak RSS from GNU time (ferry is one process: its compression" +
    " workers are threads, counted in); *other* = the machine's busy time minus the run's.",
    "",
    "### Targets",
    "",
    escapedTable(targetRows(checkBuildTargets(report))),
    "",
    "### Results",
    "",
    escapedTable(resultRows(report)),
    "",
    DISTURBED_NOTE,
    "",
    `Build benchmark, context generation included: ${(report.totalMs / 1000).toFixed(0)} s.`,
    "",
    "### Analysis",
    "",
    ...BUILD_SECTION.analysisLines(analysis),
    "",
  ];
  return out.join("\n");
}
