/**
 * The serve benchmark's statistics, its targets (ferry's throughput at least docker-registry's,
 * pulling and pushing; ferry's server at most 120 MiB), the console table and the
 * `## registry serve` section of bench/RESULTS.md.
 *
 * @module
 */
import { machineLine } from "../lib/machine.ts";
import { profileTables } from "../lib/profile.ts";
import {
  DISTURBED_NOTE,
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
import {
  methodName,
  PARALLEL_WIDTH,
  RAW_GET_METHODS,
  type RawGetMeasurement,
  sameMethod,
  SERVE_METHODS,
  type ServeMeasurement,
  type ServeMethod,
  type ServeProfile,
  type ServeReport,
  type ServerKind,
} from "./measure.ts";

/** Figures over the runs of one server and width, medians unless said otherwise. */
export interface ServerRunsSummary {
  /** Wall seconds of each run, in run order. */
  runs: number[];
  /** Whether other work disturbed each run (`isDisturbed`). */
  disturbed: boolean[];
  /** Median wall seconds. */
  median: number;
  /** MiB per second at the median. */
  mibPerS: number;
  clientCpu: number;
  serverCpu: number;
  otherCpu: number;
  /** Largest server peak RSS over the runs, KiB. */
  serverPeakRssKiB: number;
}

/** Per-method figures over the runs. */
export interface ServeSummary extends ServeMethod, ServerRunsSummary {
  /** Largest skopeo peak RSS over the runs, KiB. */
  clientPeakRssKiB: number;
  /** Median server start-up, ms. */
  serverStartMs: number;
}

/** What {@link summarizeRuns} reads of a measurement. */
type ServerRun = Pick<
  RawGetMeasurement,
  "run" | "wallMs" | "bytes" | "clientCpuS" | "serverCpuS" | "serverPeakRssKiB" | "otherCpuS"
>;

/** The runs of one server and width, summarised (`ms` not empty, all of the same bytes). */
function summarizeRuns(ms: ServerRun[]): ServerRunsSummary {
  const sorted = [...ms].sort((a, b) => a.run - b.run);
  const wall = median(sorted.map((m) => m.wallMs / 1000));
  return {
    runs: sorted.map((m) => m.wallMs / 1000),
    disturbed: sorted.map(isDisturbed),
    median: wall,
    mibPerS: sorted[0].bytes / 1024 / 1024 / wall,
    clientCpu: median(sorted.map((m) => m.clientCpuS)),
    serverCpu: median(sorted.map((m) => m.serverCpuS)),
    otherCpu: median(sorted.map((m) => m.otherCpuS)),
    serverPeakRssKiB: Math.max(...sorted.map((m) => m.serverPeakRssKiB)),
  };
}

/** Summaries of every method present, in {@link SERVE_METHODS} order. */
export function summarizeServe(measurements: ServeMeasurement[]): ServeSummary[] {
  const out: ServeSummary[] = [];
  for (const method of SERVE_METHODS) {
    const ms = measurements.filter((m) => sameMethod(m, method));
    if (ms.length === 0) continue;
    out.push({
      ...method,
      ...summarizeRuns(ms),
      clientPeakRssKiB: Math.max(...ms.map((m) => m.clientPeakRssKiB)),
      serverStartMs: median(ms.map((m) => m.serverStartMs)),
    });
  }
  return out;
}

function widthLabel(width: number): string {
  return width === 1 ? "1 image at a time" : `${width} images at a time`;
}

/** The targets: throughput ratios ferry / docker-registry ≥ 1.0×, server RSS ≤ 120 MiB. */
export function checkServeTargets(measurements: ServeMeasurement[]): TargetCheck[] {
  const summaries = summarizeServe(measurements);
  const checks: TargetCheck[] = [];
  for (const direction of ["pull", "push"] as const) {
    for (const width of [1, PARALLEL_WIDTH]) {
      const find = (server: ServerKind) =>
        summaries.find((s) => sameMethod(s, { server, direction, width }));
      const ferry = find("ferry");
      const registry = find("docker-registry");
      if (!ferry || !registry) continue;
      const ratio = ferry.mibPerS / registry.mibPerS;
      checks.push({
        target: `${direction}, ${widthLabel(width)}: ferry vs docker-registry throughput`,
        limit: "≥ 1.0×",
        reached: `${ratio.toFixed(2)}×`,
        ok: ratio >= 1,
        detail: `${ferry.mibPerS.toFixed(0)} / ${registry.mibPerS.toFixed(0)} MiB/s (${
          fmtS(ferry.median)
        } / ${fmtS(registry.median)})`,
      });
    }
  }
  const ferryRuns = measurements.filter((m) => m.server === "ferry");
  if (ferryRuns.length) {
    const worst = ferryRuns.reduce((a, b) => a.serverPeakRssKiB >= b.serverPeakRssKiB ? a : b);
    const peak = worst.serverPeakRssKiB / 1024;
    checks.push({
      target: "ferry server peak RSS (largest of all runs)",
      limit: "≤ 120 MiB",
      reached: `${peak.toFixed(0)} MiB`,
      ok: peak <= 120,
      detail: `${methodName(worst)}, run ${worst.run}`,
    });
  }
  return checks;
}

function resultRows(summaries: ServeSummary[]): string[][] {
  const rows = [[
    "direction",
    "server",
    "images at a time",
    "median s",
    "runs s",
    "MiB/s",
    "ferry / docker-registry",
    "server CPU s",
    "server peak RSS MiB",
    "skopeo CPU s",
    "other CPU s",
  ]];
  for (const s of summaries) {
    const other = summaries.find((o) =>
      o.server !== s.server && o.direction === s.direction && o.width === s.width
    );
    const ratio = s.server === "ferry" && other ? `${(s.mibPerS / other.mibPerS).toFixed(2)}×` : "";
    rows.push([
      s.direction,
      s.server,
      String(s.width),
      s.median.toFixed(2),
      runsCell(s.runs, s.disturbed),
      s.mibPerS.toFixed(0),
      ratio,
      s.serverCpu.toFixed(2),
      (s.serverPeakRssKiB / 1024).toFixed(0),
      s.clientCpu.toFixed(2),
      s.otherCpu.toFixed(2),
    ]);
  }
  return rows;
}

/** What the console shows at the end of the serve benchmark. */
export function serveConsole(report: ServeReport): string {
  const parts = [
    `\nregistry serve: ${report.description} (${(report.bytes / 1024 / 1024).toFixed(0)} MiB)`,
    textTable(resultRows(summarizeServe(report.measurements))),
  ];
  if (report.rawGets.length) {
    parts.push("\nblob GETs alone (curl → /dev/null)", textTable(rawGetRows(report.rawGets)));
  }
  parts.push(
    "\nserve targets",
    textTable(targetRows(checkServeTargets(report.measurements))),
  );
  return parts.join("\n");
}

/** Per server and width of the blob-GET diagnostic: medians over the runs. */
export interface RawGetSummary extends ServerRunsSummary {
  server: RawGetMeasurement["server"];
  width: number;
}

/** Summaries of the blob-GET diagnostic, in {@link RAW_GET_METHODS} order. */
export function summarizeRawGets(measurements: RawGetMeasurement[]): RawGetSummary[] {
  const out: RawGetSummary[] = [];
  for (const { server, width } of RAW_GET_METHODS) {
    const ms = measurements.filter((m) => m.server === server && m.width === width);
    if (ms.length) out.push({ server, width, ...summarizeRuns(ms) });
  }
  return out;
}

function rawGetRows(measurements: RawGetMeasurement[]): string[][] {
  const rows = [[
    "server",
    "blobs at a time",
    "median s",
    "runs s",
    "MiB/s",
    "server CPU s",
    "server peak RSS MiB",
    "curl CPU s",
  ]];
  for (const s of summarizeRawGets(measurements)) {
    rows.push([
      s.server === "deno-floor" ? "minimal Deno server (`serve/floor.ts`)" : s.server,
      String(s.width),
      s.median.toFixed(2),
      runsCell(s.runs, s.disturbed),
      s.mibPerS.toFixed(0),
      s.serverCpu.toFixed(2),
      (s.serverPeakRssKiB / 1024).toFixed(0),
      s.clientCpu.toFixed(2),
    ]);
  }
  return rows;
}

function profileLines(p: ServeProfile): string[] {
  const title = `Profiled ferry server, ${p.direction} of ${widthLabel(p.width)}: copies took ${
    fmtS(p.wallMs / 1000)
  }, server CPU ${p.serverCpuS.toFixed(2)} s`;
  if (!p.profile) return [`${title}; no profile was written.`];
  return [
    `${title}; V8 sampling profile of the main thread, ${
      (p.profile.durationMs / 1000).toFixed(2)
    } s from start-up to exit (idle includes the wait before and after the copies):`,
    "",
    ...profileTables(p.profile, 10),
    "",
  ];
}

/** The `## registry serve` section of RESULTS.md. */
export const SERVE_SECTION = new ResultsSection("registry serve", "serve-analysis");

/** The `## registry serve` section of RESULTS.md (ends with a newline). */
export function serveMarkdown(report: ServeReport, analysis?: string): string {
  const summaries = summarizeServe(report.measurements);
  const startOf = (server: ServerKind) =>
    median(summaries.filter((s) => s.server === server).map((s) => s.serverStartMs)) / 1000;
  const q = report.quiet;
  const out = [
    SERVE_SECTION.heading,
    "",
    `Measured ${report.date} with \`${report.command}\` (${report.runs} run${
      report.runs === 1 ? "" : "s"
    } of each method, ` +
    "order rotated between runs; medians below). Every figure is as measured.",
    "",
    ...(report.machine
      ? [machineLine(report.machine, [report.machine.skopeo, report.machine.registry]), ""]
      : []),
    `Set: the ${report.scale} set, ${report.description}; ${report.images} images, ${
      (report.bytes / 1024 / 1024).toFixed(0)
    } MiB of layers and configs, which every method copies (MiB/s = these bytes / wall time).`,
    "",
    "### What is measured",
    "",
    `- **ferry**: \`${report.ferryCommand}\` (the V8 flags of main.ts's shebang, as ferry ships).`,
    "- **docker-registry**: `docker-registry serve CONFIG` with the same root directory " +
    "(filesystem driver, access log off).",
    "- **pull**: the server on the directory the save benchmark's source registry filled " +
    "(files in the page cache); one `skopeo copy --src-tls-verify=false " +
    "docker://127.0.0.1:PORT/bench/… dir:OUT` per image, into a fresh OUT.",
    "- **push**: the server on an empty directory; one `skopeo copy --dest-tls-verify=false " +
    "oci:LAYOUT:… docker://127.0.0.1:PORT/bench/…` per image from an OCI layout of the set; " +
    "the directory is checked to hold every blob and tag afterwards.",
    `- Each measurement starts its own server (start-up not timed: median ${
      fmtS(startOf("ferry"))
    } for ferry, ${fmtS(startOf("docker-registry"))} for docker-registry), runs \`sync\`, ` +
    (q.enabled
      ? `waits for a quiet machine (${q.settles} waits, ${
        (q.waitedMs / 1000).toFixed(0)
      } s in all, ${q.gaveUp} gave up), `
      : "") +
    "then times the copies from the first skopeo spawn to the last exit. Server CPU from " +
    "`/proc/<pid>/stat` over the copies; server peak RSS is `VmHWM` of the server process, read " +
    "before stopping it; skopeo CPU from GNU time; *other* = the machine's busy time minus both.",
    "",
    "### Targets",
    "",
    markdownTable(targetRows(checkServeTargets(report.measurements))),
    "",
    "### Results",
    "",
    markdownTable(resultRows(summaries)),
    "",
    DISTURBED_NOTE,
    "",
    `Largest skopeo process: ${
      (Math.max(...summaries.map((s) => s.clientPeakRssKiB)) / 1024).toFixed(0)
    } MiB. Serve benchmark, layout generation included: ${(report.totalMs / 1000).toFixed(0)} s.`,
    "",
  ];
  if (report.rawGets.length) {
    out.push(
      "### The servers alone (diagnostic, not in the targets)",
      "",
      "One `curl` process fetching every distinct blob of the set once into /dev/null " +
        "(`--parallel --parallel-max 4` for 4 at a time), from a fresh server on the same " +
        "directory: what each server costs without skopeo. The minimal Deno server " +
        "(`bench/serve/floor.ts`, run with the same V8 flags) answers a blob `GET` the way ferry's " +
        "does (open the data file, respond with its stream) and does nothing else.",
      "",
      markdownTable(rawGetRows(report.rawGets)),
      "",
    );
  }
  if (report.profiles.length) {
    out.push("### Where ferry's server time goes (profiled runs, not in the medians)", "");
    for (const p of report.profiles) out.push(...profileLines(p));
  }
  out.push(
    "### Analysis",
    "",
    ...SERVE_SECTION.analysisLines(analysis),
    "",
  );
  return out.join("\n");
}
