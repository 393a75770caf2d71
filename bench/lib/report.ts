/**
 * What every benchmark's report is made of: medians, the disturbed-run rule, targets checked
 * against a limit, and tables for the console and for bench/RESULTS.md.
 *
 * @module
 */

/** One target, checked. */
export interface TargetCheck {
  target: string;
  limit: string;
  reached: string;
  ok: boolean;
  /** The figures the ratio comes from. */
  detail: string;
}

/**
 * A run counts as disturbed when the rest of the machine used more than this many cores on
 * average while it ran.
 */
export const DISTURBED_CORES = 0.25;

/** Whether other work used more than {@link DISTURBED_CORES} cores during a run. */
export function isDisturbed(run: { wallMs: number; otherCpuS: number }): boolean {
  return run.otherCpuS > DISTURBED_CORES * run.wallMs / 1000;
}

/** The note under a table whose runs carry the disturbed mark (`*`). */
export const DISTURBED_NOTE =
  `\\* disturbed: other work on the machine used more than ${DISTURBED_CORES} ` +
  "cores on average during the run (see *other CPU*).";

/** The median (mean of the middle two for even counts); NaN for none. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Seconds with two decimals and a unit. */
export function fmtS(seconds: number): string {
  return `${seconds.toFixed(2)} s`;
}

/** Whole MiB of a byte count, with the unit. */
export function fmtMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** Whole MiB per second. */
export function mibPerS(bytes: number, seconds: number): string {
  return (bytes / 1024 / 1024 / seconds).toFixed(0);
}

/** The "runs s" cell of a table: each run's seconds, disturbed ones marked `*`. */
export function runsCell(seconds: number[], disturbed: boolean[]): string {
  return seconds.map((s, i) => `${s.toFixed(2)}${disturbed[i] ? "*" : ""}`).join(" ");
}

/** The rows of a targets table, header first. */
export function targetRows(checks: TargetCheck[]): string[][] {
  return [
    ["target", "limit", "reached", "", "from"],
    ...checks.map((c) => [c.target, c.limit, c.reached, c.ok ? "✓" : "✗", c.detail]),
  ];
}

/** A plain-text table with aligned columns. */
export function textTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? "")].length)));
  return rows
    .map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

/** A Markdown table. */
export function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...body.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/** A Markdown table with `|` inside cells escaped (GitHub tables split on it, code spans too). */
export function escapedTable(rows: string[][]): string {
  return markdownTable(rows.map((row) => row.map((cell) => cell.replace(/\|/g, "\\|"))));
}
