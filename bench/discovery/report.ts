/**
 * The discovery benchmark's target (at most 0.1 s per MB of manifests beyond start-up, checked on
 * CPU time, which other work on the machine does not inflate), the console line and the
 * `## context images (discovery)` section of bench/RESULTS.md.
 *
 * @module
 */
import { machineLine } from "../lib/machine.ts";
import { fmtS, markdownTable, median } from "../lib/report.ts";
import { ResultsSection } from "../lib/results_section.ts";
import type { DiscoveryReport } from "./measure.ts";

/** The `## context images (discovery)` section of RESULTS.md. */
export const DISCOVERY_SECTION = new ResultsSection(
  "context images (discovery)",
  "discovery-analysis",
);

/** Target of issue 10: seconds per MB of manifests beyond start-up. */
export const TARGET_S_PER_MB = 0.1;

/** Whether the run met the target (on CPU time; see {@link DiscoveryReport.cpuSecondsPerMB}). */
export function discoveryMet(r: DiscoveryReport): boolean {
  return r.cpuSecondsPerMB <= TARGET_S_PER_MB;
}

/** What the console shows at the end of the discovery benchmark. */
export function discoveryConsole(r: DiscoveryReport): string {
  return `discovery: ${(r.bytes / 1e6).toFixed(1)} MB in ${fmtS(median(r.setMs) / 1000)} ` +
    `(empty context ${fmtS(median(r.emptyMs) / 1000)}): beyond start-up ` +
    `${r.cpuSecondsPerMB.toFixed(3)} CPU s/MB, ${r.secondsPerMB.toFixed(3)} wall s/MB ` +
    `(target ≤ ${TARGET_S_PER_MB}) — ${discoveryMet(r) ? "met" : "missed"}`;
}

/** The `## context images (discovery)` section of RESULTS.md (ends with a newline). */
export function discoveryMarkdown(r: DiscoveryReport, analysis: string | undefined): string {
  const runs = r.setMs.length;
  return [
    DISCOVERY_SECTION.heading,
    "",
    `Measured ${r.date} with \`${r.command}\` (${runs} run${runs === 1 ? "" : "s"} over the set ` +
    "and over the empty context, alternating; medians below). Every figure is as measured.",
    "",
    ...(r.machine ? [machineLine(r.machine), ""] : []),
    `\`ferry context images --json\` over ${r.files} generated files (${r.documents} YAML ` +
    `documents, ${(r.bytes / 1e6).toFixed(1)} MB: 60% CRDs with large schemas, 30% ` +
    `Deployments with containers, env and args, 10% ConfigMaps; ${r.images} images found), ` +
    `against an empty context (start-up).`,
    "",
    markdownTable([
      ["run", "10 MB set: wall", "CPU", "empty context: wall", "CPU"],
      ...r.setMs.map((ms, i) => [
        String(i + 1),
        fmtS(ms / 1000),
        fmtS(r.setCpuS[i]),
        fmtS(r.emptyMs[i] / 1000),
        fmtS(r.emptyCpuS[i]),
      ]),
    ]),
    "",
    `Median beyond start-up: **${r.cpuSecondsPerMB.toFixed(3)} CPU s per MB** ` +
    `(${r.secondsPerMB.toFixed(3)} wall s per MB); target ≤ ${TARGET_S_PER_MB} s/MB: ` +
    `${discoveryMet(r) ? "met" : "missed"}.`,
    "",
    "### Analysis",
    "",
    ...DISCOVERY_SECTION.analysisLines(analysis),
  ].join("\n") + "\n";
}
