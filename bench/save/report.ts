/**
 * The save benchmark's statistics, its targets (ferry against the Sealos method and against raw
 * HTTP-to-disk, peak RSS, reruns), the console table and the `## registry save` section of
 * bench/RESULTS.md.
 *
 * @module
 */
import { type MachineInfo, machineLine } from "../lib/machine.ts";
import { type ProfileSummary, profileTables } from "../lib/profile.ts";
import type { QuietSummary } from "../lib/quiet.ts";
import {
  DISTURBED_NOTE,
  fmtMiB,
  fmtS,
  isDisturbed,
  markdownTable,
  median,
  runsCell,
  type TargetCheck,
  targetRows,
  textTable,
} from "../lib/report.ts";
import { ResultsSection } from "../lib/results_section.ts";
import type { Scale } from "../lib/image_sets.ts";
import type { Diagnosis, TraceSummary } from "./diagnose.ts";
import type { Measurement, MethodId } from "./methods.ts";

/** One scale's measurements. */
export interface ScaleReport {
  scale: Scale;
  description: string;
  blobs: number;
  manifests: number;
  uniqueBytes: number;
  referencedBytes: number;
  measurements: Measurement[];
  diagnosis?: Diagnosis;
}

/** A whole save benchmark run. */
export interface SaveReport {
  machine: MachineInfo;
  command: string;
  runs: number;
  scales: ScaleReport[];
  /** `deno run -A main.ts --version`: the fixed cost of starting ferry. */
  startup: { wallMs: number[]; cpuS: number[]; rssKiB: number[] };
  /** `skopeo --version`: the fixed cost of one skopeo process. */
  skopeoStartupMs: number[];
  /** Wall time of the save benchmark, image sets and start-up runs included. */
  totalMs: number;
  /** Waiting for a quiet machine before each measurement. */
  quiet: QuietSummary;
}

/** Per-method figures over the runs of one scale. */
export interface MethodSummary {
  method: MethodId;
  /** Wall seconds of each run, in run order. */
  runs: number[];
  /** Whether other work on the machine disturbed each run (`isDisturbed`). */
  disturbed: boolean[];
  /** Median wall seconds. */
  median: number;
  /** Median CPU seconds of the client processes. */
  cpu: number;
  /** Median CPU seconds of the source registry. */
  sourceCpu: number;
  /** Median CPU seconds of the destination registry. */
  destCpu: number;
  /** Median CPU seconds of everything else on the machine. */
  otherCpu: number;
  /** Largest peak RSS over the runs, KiB. */
  peakRssKiB: number;
  /** Medians of the method's extra figures. */
  extra: Record<string, number>;
}

/** Methods in table order, with what each row means. */
export const METHODS: readonly { id: MethodId; label: string }[] = [
  { id: "ferry", label: "ferry registry save" },
  { id: "ferry-rerun", label: "ferry, rerun on the finished directory" },
  {
    id: "ferry-small-young",
    label: "ferry with DENO_V8_FLAGS=--max-semi-space-size=1 (candidate)",
  },
  { id: "sealos-serial", label: "Sealos method: registry + skopeo copy, 1 at a time" },
  { id: "sealos-parallel", label: "Sealos method, 5 images at a time" },
  { id: "curl-seq", label: "raw HTTP to disk: curl, sequential" },
  { id: "curl-parallel", label: "raw HTTP to disk: curl --parallel-max 5" },
  { id: "deno-floor", label: "minimal Deno fetch → sha256 → file (6 at a time)" },
];

/** Summaries of every method present, in {@link METHODS} order. */
export function summarizeSave(measurements: Measurement[]): MethodSummary[] {
  const out: MethodSummary[] = [];
  for (const { id } of METHODS) {
    const ms = measurements.filter((m) => m.method === id).sort((a, b) => a.run - b.run);
    if (ms.length === 0) continue;
    const keys = new Set(ms.flatMap((m) => Object.keys(m.extra)));
    const extra: Record<string, number> = {};
    for (const k of keys) {
      extra[k] = median(ms.map((m) => m.extra[k]).filter((v) => v !== undefined));
    }
    out.push({
      method: id,
      runs: ms.map((m) => m.wallMs / 1000),
      disturbed: ms.map(isDisturbed),
      median: median(ms.map((m) => m.wallMs / 1000)),
      cpu: median(ms.map((m) => m.clientCpuS)),
      sourceCpu: median(ms.map((m) => m.sourceCpuS)),
      destCpu: median(ms.map((m) => m.destCpuS)),
      otherCpu: median(ms.map((m) => m.otherCpuS)),
      peakRssKiB: Math.max(...ms.map((m) => m.peakRssKiB)),
      extra,
    });
  }
  return out;
}

function find(summaries: MethodSummary[], id: MethodId): MethodSummary | undefined {
  return summaries.find((s) => s.method === id);
}

function ratioCheck(
  target: string,
  num: MethodSummary | undefined,
  den: MethodSummary | undefined,
  limit: number,
): TargetCheck | undefined {
  if (!num || !den) return undefined;
  const ratio = num.median / den.median;
  return {
    target,
    limit: `≤ ${limit}×`,
    reached: `${ratio.toFixed(2)}×`,
    ok: ratio <= limit,
    detail: `${fmtS(num.median)} / ${fmtS(den.median)} (${den.method})`,
  };
}

/** The targets against the medians of this run. */
export function checkSaveTargets(report: SaveReport): TargetCheck[] {
  const checks: (TargetCheck | undefined)[] = [];
  const byScale = new Map(report.scales.map((s) => [s.scale, summarizeSave(s.measurements)]));
  const large = byScale.get("large");
  const small = byScale.get("small");
  if (large) {
    checks.push(ratioCheck(
      "large: ferry vs Sealos method (serial, as Sealos runs it)",
      find(large, "ferry"),
      find(large, "sealos-serial"),
      0.42,
    ));
  }
  if (small) {
    checks.push(ratioCheck(
      "small: ferry vs Sealos method (serial, as Sealos runs it)",
      find(small, "ferry"),
      find(small, "sealos-serial"),
      0.3,
    ));
  }
  const largeScale = report.scales.find((s) => s.scale === "large");
  const ferryLarge = large && find(large, "ferry");
  if (largeScale && ferryLarge) {
    // A durable raw copy: curl's download, then the fsync of its files (timed apart, per run).
    const durable = (["curl-seq", "curl-parallel"] as const).map((id) => {
      const runs = largeScale.measurements.filter((m) => m.method === id);
      return { id, s: median(runs.map((m) => (m.wallMs + (m.extra.fsyncMs ?? 0)) / 1000)) };
    }).filter((r) => Number.isFinite(r.s)).sort((a, b) => a.s - b.s)[0];
    if (durable) {
      const ratio = ferryLarge.median / durable.s;
      checks.push({
        target: "large: ferry vs raw HTTP-to-disk then fsync (the faster curl)",
        limit: "≤ 0.95×",
        reached: `${ratio.toFixed(2)}×`,
        ok: ratio <= 0.95,
        detail: `${fmtS(ferryLarge.median)} / ${fmtS(durable.s)} (${durable.id} + fsync)`,
      });
    }
  }
  const ferryRuns = report.scales.flatMap((s) =>
    s.measurements.filter((m) => m.method === "ferry" || m.method === "ferry-rerun")
  );
  if (ferryRuns.length) {
    const peak = Math.max(...ferryRuns.map((m) => m.peakRssKiB)) / 1024;
    const worst = ferryRuns.reduce((a, b) => a.peakRssKiB >= b.peakRssKiB ? a : b);
    const scaleOf = report.scales.find((s) => s.measurements.includes(worst))?.scale;
    checks.push({
      target: "ferry peak RSS (largest of all runs)",
      limit: "≤ 100 MiB",
      reached: `${peak.toFixed(0)} MiB`,
      ok: peak <= 100,
      detail: `${scaleOf} scale, ${worst.method} run ${worst.run}`,
    });
  }
  for (const [scale, summaries] of byScale) {
    const first = find(summaries, "ferry");
    const again = find(summaries, "ferry-rerun");
    if (!first || !again) continue;
    if (scale === "small") {
      checks.push({
        target: "small: rerun of a finished save",
        limit: "≤ 0.15 s",
        reached: fmtS(again.median),
        ok: again.median <= 0.15,
        detail: `${fmtS(again.median)} (first run ${fmtS(first.median)})`,
      });
      continue;
    }
    const share = again.median / first.median;
    checks.push({
      target: `${scale}: rerun of a finished save vs first run`,
      limit: "≤ 5%",
      reached: `${(share * 100).toFixed(1)}%`,
      ok: share <= 0.05,
      detail: `${fmtS(again.median)} / ${fmtS(first.median)}`,
    });
  }
  return checks.filter((c): c is TargetCheck => c !== undefined);
}

function mibKiB(kib: number): string {
  return (kib / 1024).toFixed(0);
}

function label(id: MethodId): string {
  return METHODS.find((m) => m.id === id)?.label ?? id;
}

/** Rows of the per-scale table: header first. */
function scaleRows(summaries: MethodSummary[]): string[][] {
  const rows = [[
    "method",
    "median s",
    "runs s",
    "client CPU s",
    "source reg. CPU s",
    "dest reg. CPU s",
    "peak RSS MiB",
    "other CPU s",
  ]];
  for (const s of summaries) {
    rows.push([
      label(s.method),
      s.median.toFixed(2),
      runsCell(s.runs, s.disturbed),
      s.cpu.toFixed(2),
      s.sourceCpu.toFixed(2),
      s.destCpu ? s.destCpu.toFixed(2) : "–",
      mibKiB(s.peakRssKiB),
      s.otherCpu.toFixed(2),
    ]);
  }
  return rows;
}

/** What the console shows at the end of a run. */
export function saveConsole(report: SaveReport): string {
  const parts: string[] = [];
  for (const s of report.scales) {
    parts.push(`\n${s.scale}: ${s.description}`);
    parts.push(textTable(scaleRows(summarizeSave(s.measurements))));
  }
  parts.push(DISTURBED_NOTE.replace("\\*", "*"));
  parts.push(
    `\nferry start-up (deno run -A main.ts --version): ${
      fmtS(median(report.startup.wallMs) / 1000)
    }`,
  );
  parts.push("\ntargets");
  parts.push(textTable(targetRows(checkSaveTargets(report))));
  return parts.join("\n");
}

function phaseRows(trace: TraceSummary): string[][] {
  const p = trace.phases;
  const span = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? "–" : `${((b - a) / 1000).toFixed(2)}`;
  return [
    ["phase", "s", "what"],
    ["start-up", span(0, p.firstResponseMs), "process spawn → first registry response (ping)"],
    [
      "first manifests",
      span(p.firstResponseMs, p.firstBlobMs),
      "tags resolved, manifests read, until the first blob response",
    ],
    [
      "blobs",
      span(p.firstBlobMs, p.lastBlobDoneMs),
      "first blob response → last blob stored (later images' manifests overlap)",
    ],
    ["finish", span(p.lastBlobDoneMs ?? p.firstResponseMs, p.resultMs), "→ last tag written"],
    ["exit", span(p.resultMs, p.exitMs), "result printed → process gone"],
  ];
}

function requestsLine(trace: TraceSummary): string {
  const entries = Object.entries(trace.requests).sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((n, [, c]) => n + c, 0);
  return `${total} requests (${entries.map(([k, c]) => `${c} ${k}`).join(", ")}); ` +
    `${trace.blobsCopied} blobs written, ${trace.blobsExisting} found stored`;
}

function profileSection(title: string, profile: ProfileSummary | undefined): string[] {
  if (!profile) return [`${title}: no profile was written.`];
  return [
    `${title} (V8 sampling profiler on the main thread, ${
      (profile.durationMs / 1000).toFixed(2)
    } s profiled):`,
    "",
    ...profileTables(profile, 12),
  ];
}

function diagnosisSection(s: ScaleReport, summaries: MethodSummary[]): string[] {
  const lines: string[] = [`#### ${s.scale}`, ""];
  const ferry = find(summaries, "ferry");
  const curl = [find(summaries, "curl-seq"), find(summaries, "curl-parallel")]
    .filter((x): x is MethodSummary => x !== undefined)
    .sort((a, b) => a.median - b.median)[0];
  const floor = find(summaries, "deno-floor");
  if (ferry) {
    lines.push(
      `- Throughput (timed runs, medians): ferry ${
        (s.uniqueBytes / 1024 / 1024 / ferry.median).toFixed(0)
      } MiB/s` +
        (curl ? `, curl ${(s.uniqueBytes / 1024 / 1024 / curl.median).toFixed(0)} MiB/s` : "") +
        (floor
          ? `, minimal Deno program ${
            (s.uniqueBytes / 1024 / 1024 / floor.median).toFixed(0)
          } MiB/s`
          : "") +
        ` (${fmtMiB(s.uniqueBytes)} of distinct blobs).`,
      `- CPU: ferry used ${ferry.cpu.toFixed(2)} s of CPU in ${ferry.median.toFixed(2)} s ` +
        `(${(ferry.cpu / ferry.median).toFixed(2)} cores; user ${
          (ferry.extra.userS ?? 0).toFixed(2)
        } s, system ${(ferry.extra.sysS ?? 0).toFixed(2)} s), the source registry ${
          ferry.sourceCpu.toFixed(2)
        } s` +
        (curl
          ? `; curl used ${curl.cpu.toFixed(2)} s, the registry ${curl.sourceCpu.toFixed(2)} s`
          : "") +
        ".",
    );
    if (curl?.extra.fsyncMs !== undefined) {
      lines.push(
        `- Durability: curl does not fsync; fsyncing its files afterwards took ${
          (curl.extra.fsyncMs / 1000).toFixed(2)
        } s (curl + fsync ${(curl.median + curl.extra.fsyncMs / 1000).toFixed(2)} s). ` +
          "ferry and docker-registry fsync every blob.",
      );
    }
  }
  const young = find(summaries, "ferry-small-young");
  if (ferry && young) {
    lines.push(
      `- Peak RSS: ferry ${mibKiB(ferry.peakRssKiB)} MiB (largest run); with V8's young ` +
        `generation capped (\`DENO_V8_FLAGS=--max-semi-space-size=1\`) ${
          mibKiB(young.peakRssKiB)
        } MiB, in ${fmtS(young.median)} against ${fmtS(ferry.median)} (medians), CPU ${
          young.cpu.toFixed(2)
        } s against ${ferry.cpu.toFixed(2)} s.`,
    );
  }
  const sealos = find(summaries, "sealos-serial");
  if (sealos) {
    lines.push(
      `- Sealos method (serial): ${sealos.cpu.toFixed(2)} s CPU in skopeo, ${
        sealos.destCpu.toFixed(2)
      } s in the destination registry (hashing and writing what skopeo uploads), registry ` +
        `start-up ${((sealos.extra.registryStartMs ?? 0) / 1000).toFixed(3)} s.`,
    );
  }
  const d = s.diagnosis;
  if (!d) return lines;
  if (d.ladder.length) {
    lines.push(
      "",
      "Cost ladder: the same distinct blobs, one step more each time (one process each, " +
        "start-up included; not in the medians):",
      "",
      markdownTable([
        ["step", "median s", "runs s", "CPU s", "MiB/s"],
        ...d.ladder.map((l) => {
          const wall = median(l.wallMs) / 1000;
          return [
            l.step,
            wall.toFixed(2),
            l.wallMs.map((x) => (x / 1000).toFixed(2)).join(" "),
            median(l.cpuS).toFixed(2),
            (s.uniqueBytes / 1024 / 1024 / wall).toFixed(0),
          ];
        }),
      ]),
    );
  }
  if (d.syscalls) {
    const { run, startup } = d.syscalls;
    const names = [
      "mkdir",
      "chmod",
      "fsync",
      "rename",
      "openat",
      "statx",
      "readlink",
      "read",
      "write",
      "recvfrom",
      "futex",
    ].filter((n) => run.calls[n] || startup.calls[n]);
    const cell = (c?: { calls: number; errors: number }) =>
      c ? `${c.calls}${c.errors ? ` (${c.errors} failed)` : ""}` : "0";
    lines.push(
      "",
      `System calls of one ferry run (\`strace -f -c\`; ${run.total} in all) and of start-up alone ` +
        `(\`main.ts --version\`; ${startup.total} in all):`,
      "",
      markdownTable([
        ["system call", "whole run", "start-up alone"],
        ...names.map((n) => [`\`${n}\``, cell(run.calls[n]), cell(startup.calls[n])]),
      ]),
    );
  } else if (d.syscallError) {
    lines.push("", `(${d.syscallError})`);
  }
  lines.push(
    "",
    `Traced run (\`--debug --json\`, profiled; not in the medians): ${
      (d.first.wallMs / 1000).toFixed(2)
    } s, ${requestsLine(d.first)}.`,
    "",
    markdownTable(phaseRows(d.first)),
    "",
    `Traced rerun: ${(d.rerun.wallMs / 1000).toFixed(2)} s, ${requestsLine(d.rerun)}.`,
    "",
    markdownTable(phaseRows(d.rerun)),
    "",
    ...profileSection("Profile of the first run", d.firstProfile),
    "",
    ...profileSection("Profile of the rerun", d.rerunProfile),
    "",
  );
  if (d.perf) {
    const keys: string[] = [];
    const cpu = new Map<string, { ferry: number; floor: number }>();
    const add = (t: { thread: string; dso: string; seconds: number }, who: "ferry" | "floor") => {
      const key = `${t.thread}\n${t.dso}`;
      if (!cpu.has(key)) {
        keys.push(key);
        cpu.set(key, { ferry: 0, floor: 0 });
      }
      cpu.get(key)![who] += t.seconds;
    };
    for (const t of d.perf.threads) add(t, "ferry");
    for (const t of d.floorPerf?.threads ?? []) add(t, "floor");
    const sum = (who: "ferry" | "floor") => [...cpu.values()].reduce((n, v) => n + v[who], 0);
    lines.push(
      `CPU by thread and binary (\`perf record -F ${d.perf.frequency}\`, separate untraced runs of ` +
        "ferry and of the minimal Deno program). `deno` is the main JavaScript thread (JavaScript, " +
        "Deno's ops, fetch body reads, SHA-256), `tokio-runtime-w` the runtime's I/O and " +
        "blocking-pool threads (file writes), `V8 DefaultWorke` V8's background threads (GC, " +
        "compilation); `deno` as binary is Deno's own machine code (Rust, V8, the SHA-256 code):",
      "",
      markdownTable([
        ["thread", "binary", "ferry CPU s", "minimal Deno CPU s"],
        ...keys
          .filter((k) => cpu.get(k)!.ferry >= 0.01 || cpu.get(k)!.floor >= 0.01)
          .map((k) => {
            const [thread, dso] = k.split("\n");
            const v = cpu.get(k)!;
            return [thread, dso, v.ferry.toFixed(2), d.floorPerf ? v.floor.toFixed(2) : "–"];
          }),
        ["all", "", sum("ferry").toFixed(2), d.floorPerf ? sum("floor").toFixed(2) : "–"],
      ]),
      "",
      "ferry's kernel functions with the most samples:",
      "",
      markdownTable([
        ["thread", "kernel function", "CPU s"],
        ...d.perf.kernel.map((k) => [k.thread, `\`${k.symbol}\``, k.seconds.toFixed(2)]),
      ]),
      "",
    );
  } else if (d.perfError) {
    lines.push(`(${d.perfError})`, "");
  }
  return lines;
}

/** The `## registry save` section of RESULTS.md. */
export const SAVE_SECTION = new ResultsSection("registry save", "save-analysis");

/** The `## registry save` section of RESULTS.md (ends with a newline). */
export function saveMarkdown(report: SaveReport, analysis?: string): string {
  const m = report.machine;
  const checks = checkSaveTargets(report);
  const out: string[] = [
    SAVE_SECTION.heading,
    "",
    `Measured ${m.date} with \`${report.command}\` (${report.runs} runs of each method per scale, ` +
    `order rotated between runs; medians below). ` +
    "Every figure is as measured. Times are wall-clock from process spawn to exit.",
    "",
    machineLine(m, [m.skopeo, m.registry, m.curl]) +
    ` Load average before: ${m.loadBefore}; after: ${m.loadAfter}.`,
    "",
    "### What is measured",
    "",
    "Setup (untimed): both image sets are generated as OCI layouts and pushed with skopeo into a " +
    "source docker-registry on 127.0.0.1, whose files stay in the page cache for every method.",
    "",
    ...report.scales.map((s) =>
      `- **${s.scale}**: ${s.description}; ${s.blobs} distinct blobs (layers and configs), ` +
      `${s.manifests} manifests, ${fmtMiB(s.uniqueBytes)} distinct, ${
        fmtMiB(s.referencedBytes)
      } counted per image.`
    ),
    "",
    "Methods, each into a fresh empty destination after `sync` (so no run pays for an earlier " +
    "run's writeback), destination deleted after each run:",
    "",
    "- **ferry**: `deno run -A main.ts registry save --registry-dir OUT --images <all refs>` " +
    "(default `--max-pull-procs 5`); then the same command again on the finished OUT (**rerun**). " +
    "Also, as a candidate fix for peak RSS, the same first run with " +
    "`DENO_V8_FLAGS=--max-semi-space-size=1` (V8's young generation capped at 1 MiB " +
    "semi-spaces instead of up to 16 MiB); the targets are judged on plain ferry.",
    "- **Sealos method**: start an empty docker-registry on OUT (start-up included), then " +
    "`skopeo copy docker://SRC/… docker://DST/…` per image, one at a time as Sealos does (it holds " +
    "a mutex), and, for fairness, five at a time.",
    "- **raw HTTP to disk**: one `curl` process fetching every distinct blob into plain files, " +
    "sequentially and with `--parallel --parallel-max 5` (no fsync; fsync time noted apart).",
    "- **minimal Deno**: `bench/save/floor.ts`, the least a Deno program does to store the blobs " +
    "the way ferry does (fetch, SHA-256, 1 MiB writes, fsync, rename; 6 at a time).",
    "",
    (report.quiet.enabled
      ? `Before each measurement the benchmark waits (at most ${
        (report.quiet.maxWaitMs / 1000).toFixed(0)
      } s) until the whole machine has ` +
        `used at most 0.15 cores for a second: ${report.quiet.settles} measurements waited ` +
        `${(report.quiet.waitedMs / 1000).toFixed(0)} s in all; ${report.quiet.gaveUp} started ` +
        "without a quiet second. "
      : "The benchmark did not wait for a quiet machine (`--max-wait 0`). ") +
    "CPU columns: client = the method's own processes (ferry; all skopeo processes; curl), from " +
    "GNU time; source/destination registry from `/proc/<pid>/stat`; *other* = the machine's busy " +
    "time minus those (other work on the machine, kernel writeback, the benchmark itself): a high " +
    "value marks a disturbed run. Peak RSS: ferry's process; for the Sealos method the largest " +
    "skopeo plus the destination registry (Sealos runs both in one process); curl's.",
    "",
    "### Targets",
    "",
    markdownTable(targetRows(checks)),
    "",
    `ferry's fixed start-up cost (\`deno run -A main.ts --version\`): median ${
      fmtS(median(report.startup.wallMs) / 1000)
    } wall, ${median(report.startup.cpuS).toFixed(2)} s CPU, ${
      mibKiB(median(report.startup.rssKiB))
    } MiB RSS (runs: ${report.startup.wallMs.map((x) => (x / 1000).toFixed(3)).join(", ")} s). ` +
    `One skopeo process: ${fmtS(median(report.skopeoStartupMs) / 1000)} (\`skopeo --version\`).`,
    "",
    "### Results",
    "",
  ];
  for (const s of report.scales) {
    out.push(
      `#### ${s.scale}: ${s.description}`,
      "",
      markdownTable(scaleRows(summarizeSave(s.measurements))),
      "",
    );
  }
  out.push(DISTURBED_NOTE, "");
  out.push("### Where the time goes (measured)", "");
  for (const s of report.scales) {
    out.push(...diagnosisSection(s, summarizeSave(s.measurements)), "");
  }
  out.push(
    "### Analysis",
    "",
    ...SAVE_SECTION.analysisLines(analysis),
    "",
    `Save benchmark, image sets included: ${(report.totalMs / 1000).toFixed(0)} s.`,
    "",
  );
  return out.join("\n");
}
