/**
 * The differential-export benchmark's target (a delta archive weighs at most the changed bytes +
 * 1%, and the site gets byte-identical images), the console lines and the
 * `## differential export (delta)` section of bench/RESULTS.md.
 *
 * @module
 */
import { machineLine } from "../lib/machine.ts";
import { fmtMiB, fmtS, markdownTable, textTable } from "../lib/report.ts";
import { ResultsSection } from "../lib/results_section.ts";
import type { DeltaCase, DeltaReport } from "./measure.ts";

/** The `## differential export (delta)` section of RESULTS.md. */
export const DELTA_SECTION = new ResultsSection("differential export (delta)", "delta-analysis");

/** Target of issue 14: the delta's bytes beyond the changed bytes, as a fraction of them. */
export const TARGET_OVERHEAD = 0.01;

/** The delta's bytes beyond the changed bytes, as a fraction of them. */
export function overhead(c: DeltaCase): number {
  return (c.deltaBytes - c.changedBytes) / c.changedBytes;
}

/** Whether a case met the target: small enough, refused alone, every image identical. */
export function deltaMet(c: DeltaCase): boolean {
  return overhead(c) <= TARGET_OVERHEAD && c.refusedAlone && c.identical === c.checked;
}

function rows(r: DeltaReport): string[][] {
  return [
    [
      "carried as",
      "whole 1.1 archive",
      "delta archive",
      "changed bytes",
      "overhead",
      "blobs carried / omitted",
      "layers reused",
      "save --base",
      "loads at the site",
      "delta alone refused",
      "identical (skopeo)",
    ],
    ...r.cases.map((c) => [
      c.name,
      fmtMiB(c.fullBytes),
      `${fmtMiB(c.deltaBytes)} (${c.deltaBytes} B)`,
      `${fmtMiB(c.changedBytes)} (${c.changedBytes} B)`,
      `${(overhead(c) * 100).toFixed(2)}%`,
      `${c.carriedBlobs} / ${c.omittedBlobs}`,
      c.layers !== undefined ? `${c.reusedLayers}/${c.layers}` : "—",
      fmtS(c.saveMs / 1000),
      fmtS(c.loadMs / 1000),
      c.refusedAlone ? "yes, nothing stored" : "NO",
      `${c.identical}/${c.checked}`,
    ]),
  ];
}

/** What the console shows at the end of the delta benchmark. */
export function deltaConsole(r: DeltaReport): string {
  return [
    `delta: ${r.images} images of ${fmtMiB(r.layerBytes)}, ${r.changed} changed`,
    textTable(rows(r)),
    ...r.cases.map((c) =>
      `${c.name}: overhead ${(overhead(c) * 100).toFixed(2)}% (target ≤ ${
        TARGET_OVERHEAD * 100
      }%), ${c.identical}/${c.checked} identical — ${deltaMet(c) ? "met" : "missed"}`
    ),
  ].join("\n");
}

/** The `## differential export (delta)` section of RESULTS.md (ends with a newline). */
export function deltaMarkdown(r: DeltaReport, analysis: string | undefined): string {
  return [
    DELTA_SECTION.heading,
    "",
    `Measured ${r.date} with \`${r.command}\` (one run: the figures are sizes, which do not vary; ` +
    "times are single wall-clock runs).",
    "",
    ...(r.machine ? [machineLine(r.machine), ""] : []),
    `A generated 1.0 → 1.1 pair: ${r.images} single-layer images of ${
      fmtMiB(r.layerBytes)
    } (pseudo-random, so gzip cannot shrink them), ${r.changed} of them changed. As a plain image ` +
    "set, `ferry save` of the 20 at 1.0, then `ferry save --base` of the 20 at 1.1 against that " +
    "archive. As a cluster image, a context whose `registry/` holds the 20 images is built as " +
    "`my-app:1.0`; then a fresh context (a new checkout or CI runner: every file written again, " +
    "with new times) whose `registry/` holds the 20 images at 1.1 (the changed ones with new " +
    "blobs) is built as `my-app:1.1` into the same image store; " +
    "`ferry save --base` of 1.1 against the 1.0 archive. _Changed bytes_ are the blobs of the 1.1 " +
    "images that the 1.0 images lack (layers, configs, manifests). At the site, a fresh image " +
    "store is given the delta alone (it must be refused, storing nothing), then the 1.0 archive " +
    "and the delta; skopeo reads every 1.1 image back by digest (for the cluster image: the image " +
    "itself, and the 20 images of its unpacked `registry/` served by docker-registry).",
    "",
    markdownTable(rows(r)),
    "",
    ...r.cases.map((c) =>
      `- ${c.name}: **${(overhead(c) * 100).toFixed(2)}%** over the changed bytes (target ≤ ${
        TARGET_OVERHEAD * 100
      }%), ${c.identical}/${c.checked} images identical: ${deltaMet(c) ? "met" : "missed"}.`
    ),
    "",
    "### Analysis",
    "",
    ...DELTA_SECTION.analysisLines(analysis),
  ].join("\n") + "\n";
}
