/**
 * The WAN benchmark's target (ferry ≤ 1.2× the link floor, with and without token auth), the
 * console table and the `## registry save over a WAN link` section of bench/RESULTS.md.
 *
 * @module
 */
import { machineLine } from "../lib/machine.ts";
import {
  fmtS,
  markdownTable,
  median,
  type TargetCheck,
  targetRows,
  textTable,
} from "../lib/report.ts";
import { ResultsSection } from "../lib/results_section.ts";
import type { WanMeasurement, WanMethod, WanReport } from "./measure.ts";

/** The section of RESULTS.md. */
export const WAN_SECTION = new ResultsSection("registry save over a WAN link", "wan-analysis");

/** Target of issue 12: ferry's wall time over the link floor. */
export const TARGET_FLOOR_RATIO = 1.2;

const NAMES: Record<WanMethod, string> = {
  "ferry": "ferry registry save",
  "ferry-baseline": "ferry registry save, baseline checkout",
  "sealos-serial": "Sealos method: registry + skopeo copy, 1 at a time",
  "skopeo-sync": "registry + one skopeo sync of every image",
  "curl-seq": "curl, one blob at a time (one process)",
  "curl-par": "curl, six blobs at a time (one process)",
};

/** Request kinds in the order the table shows them. */
const KINDS = [
  "ping",
  "token",
  "HEAD manifest",
  "GET manifest",
  "HEAD blob",
  "GET blob",
];

interface Row {
  method: WanMethod;
  auth: boolean;
  runs: WanMeasurement[];
  medianS: number;
}

function rows(r: WanReport): Row[] {
  const out: Row[] = [];
  for (const auth of [false, true]) {
    for (const method of Object.keys(NAMES) as WanMethod[]) {
      const runs = r.measurements.filter((m) => m.method === method && m.auth === auth);
      if (runs.length === 0) continue;
      out.push({ method, auth, runs, medianS: median(runs.map((m) => m.wallMs)) / 1000 });
    }
  }
  return out;
}

/** Per-image figure of the first run (counts do not vary between runs of one method). */
function perImage(n: number | undefined, images: number): string {
  return n ? (n / images).toFixed(2).replace(/\.?0+$/, "") : "–";
}

/** The median of the runs' figures in seconds, `–` when a run has none. */
function medianOf(ms: (number | undefined)[]): string {
  return ms.every((n) => n !== undefined) ? fmtS(median(ms as number[]) / 1000) : "–";
}

function table(r: WanReport): string[][] {
  return [
    [
      "method",
      "auth",
      "median s",
      "runs s",
      "× floor",
      "client CPU s",
      "first blob byte s",
      "after last byte s",
      "requests / image",
      "connections / image",
      ...KINDS.map((k) => `${k} / image`),
      "401 / image",
    ],
    ...rows(r).map((row) => {
      const c = row.runs[0].counts;
      const total = Object.values(c.requests).reduce((a, b) => a + b, 0);
      return [
        NAMES[row.method],
        row.auth ? "token" : "none",
        fmtS(row.medianS),
        row.runs.map((m) => fmtS(m.wallMs / 1000)).join(" "),
        `${(row.medianS / r.floorS).toFixed(2)}×`,
        fmtS(median(row.runs.map((m) => m.clientCpuS))),
        medianOf(row.runs.map((m) => m.counts.firstBlobByteMs)),
        medianOf(row.runs.map((m) => m.counts.lastByteMs && m.wallMs - m.counts.lastByteMs)),
        perImage(total, r.images),
        perImage(c.connections, r.images),
        ...KINDS.map((k) => perImage(c.requests[k], r.images)),
        row.auth ? perImage(c.unauthorized, r.images) : "–",
      ];
    }),
  ];
}

/** The targets: ferry ≤ {@link TARGET_FLOOR_RATIO}× the floor, without and with auth. */
export function wanTargets(r: WanReport): TargetCheck[] {
  return rows(r).filter((row) => row.method === "ferry").map((row) => {
    const ratio = row.medianS / r.floorS;
    return {
      target: `ferry vs the link floor, ${row.auth ? "token per repository" : "no auth"}`,
      limit: `≤ ${TARGET_FLOOR_RATIO}×`,
      reached: `${ratio.toFixed(2)}×`,
      ok: ratio <= TARGET_FLOOR_RATIO,
      detail: `${fmtS(row.medianS)} / ${fmtS(r.floorS)}`,
    };
  });
}

/** What the console shows at the end. */
export function wanConsole(r: WanReport): string {
  return [
    `WAN link (${r.oneWayDelayMs} ms each way, ${r.bitsPerSecond / 1e6} Mbit/s): floor ${
      fmtS(r.floorS)
    }`,
    textTable(table(r).map((row) => row.slice(0, 10))),
    textTable(targetRows(wanTargets(r))),
  ].join("\n");
}

/** The section of RESULTS.md (ends with a newline). */
export function wanMarkdown(r: WanReport, analysis: string | undefined): string {
  const m = r.machine;
  return [
    WAN_SECTION.heading,
    "",
    `Measured ${r.date} with \`${r.command}\` (${r.runs} run${r.runs === 1 ? "" : "s"} of each ` +
    "method, order rotated between runs; medians below). Every figure is as measured. Times are " +
    "wall-clock from process spawn to exit (for the registry methods, from the destination " +
    "registry's spawn to the last copy's exit).",
    "",
    machineLine(m, [m.skopeo, m.registry, m.curl]) +
    ` Load average before: ${m.loadBefore}; after: ${m.loadAfter}.`,
    "",
    `Set: ${r.description}; ${
      (r.uniqueBytes / 1024 / 1024).toFixed(1)
    } MiB distinct. The source docker-registry on 127.0.0.1 sits behind \`bench/lib/wan_link.ts\`: ` +
    `${r.oneWayDelayMs} ms added each way (${
      2 * r.oneWayDelayMs
    } ms round trip; a new connection ` +
    `costs one round trip before its first byte), ${r.bitsPerSecond / 1e6} Mbit/s per direction ` +
    "shared by all connections. With token auth a second docker-registry on the same storage " +
    "demands a Bearer token per repository (`auth: token`, as Docker Hub), from a token server " +
    "behind a link of its own (as auth.docker.io is another host); _401_ counts the requests sent " +
    "without a token, each answered with a challenge. " +
    `Link floor: distinct bytes at the link's rate plus three round trips = ${fmtS(r.floorS)}. ` +
    `Requests and new connections are counted at the link and divided by the ${r.images} images; ` +
    "_first blob byte_ is when the link delivered the first byte of an answer to a blob GET, " +
    "_after last byte_ the time from the last byte it delivered to the end of the run." +
    (r.baseline
      ? ` The baseline is the ferry of \`${r.baseline}\`, run in the same rotation.`
      : ""),
    "",
    "### Targets",
    "",
    markdownTable(targetRows(wanTargets(r))),
    "",
    "### Results",
    "",
    markdownTable(table(r)),
    "",
    ...WAN_SECTION.analysisLines(analysis),
    "",
  ].join("\n");
}
