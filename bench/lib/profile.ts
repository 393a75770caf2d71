/**
 * V8 CPU profiles (`.cpuprofile`, written by `profile_main.ts` around the ferry CLI): self time by
 * function and by category, and the two tables RESULTS.md shows of them.
 *
 * @module
 */
import { markdownTable } from "./report.ts";

/** `profile_main.ts`, relative to the checkout: `deno run -A PROFILE_MAIN OUT ARGS…`. */
export const PROFILE_MAIN = "bench/lib/profile_main.ts";

/** One line of a CPU profile summary. */
export interface ProfileEntry {
  name: string;
  ms: number;
}

/** A V8 CPU profile, summarised. */
export interface ProfileSummary {
  /** Profiled time (the command, without module loading). */
  durationMs: number;
  /** Self time by function (top entries). */
  functions: ProfileEntry[];
  /** Self time by category (idle, GC, native ops, runtime JS, ferry, dependencies). */
  categories: ProfileEntry[];
}

/** The parts of a `.cpuprofile` the summary reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function profileCategory(functionName: string, url: string, repoUrl: string): string {
  if (functionName === "(idle)") return "idle (waiting for I/O)";
  if (functionName === "(garbage collector)") return "garbage collection";
  if (functionName === "(program)" || functionName === "(root)") {
    return "V8 and native, unattributed";
  }
  if (url === "" && functionName.startsWith("op_")) return "Deno native ops";
  if (url.startsWith(repoUrl + "src/")) return "ferry JavaScript";
  if (url.startsWith("ext:") || url.startsWith("node:")) return "Deno runtime JavaScript";
  if (url.includes("npm") || url.includes("node_modules")) return "dependencies";
  return "other JavaScript";
}

function shortUrl(url: string, repoUrl: string): string {
  if (url.startsWith(repoUrl)) return url.slice(repoUrl.length);
  return url.replace(/^ext:/, "");
}

/** Self time by function and by category from a V8 `.cpuprofile`. */
export function summarizeProfile(
  profile: CpuProfile,
  repoUrl: string,
  top = 15,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; the time after it belongs to sample i.
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + us);
  }
  const functions = new Map<string, number>();
  const categories = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const fn = functionName || "(anonymous)";
    const name = url === "" ? fn : `${fn} (${shortUrl(url, repoUrl)}:${lineNumber + 1})`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const category = profileCategory(functionName, url, repoUrl);
    categories.set(category, (categories.get(category) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].map(([name, us]) => ({ name, ms: us / 1000 })).sort((a, b) => b.ms - a.ms);
  return {
    durationMs: (profile.endTime - profile.startTime) / 1000,
    functions: sorted(functions).slice(0, top),
    categories: sorted(categories),
  };
}

/**
 * The summary of the profile ferry wrote at `path` (ferry's checkout at `repoRoot`), or undefined
 * when it wrote none (a profile is a diagnostic: its absence is reported, not fatal).
 */
export async function readProfile(
  path: string,
  repoRoot: string,
): Promise<ProfileSummary | undefined> {
  const repoUrl = new URL(`file://${repoRoot.replace(/\/?$/, "/")}`).href;
  try {
    return summarizeProfile(JSON.parse(await Deno.readTextFile(path)), repoUrl);
  } catch {
    return undefined;
  }
}

/** The by-category and the by-function (top `functions`) tables of a profile, blank-separated. */
export function profileTables(profile: ProfileSummary, functions: number): string[] {
  const total = profile.categories.reduce((n, c) => n + c.ms, 0) || 1;
  const pct = (ms: number) => `${(100 * ms / total).toFixed(1)}%`;
  return [
    markdownTable([
      ["category", "s", "share"],
      ...profile.categories.map((c) => [c.name, (c.ms / 1000).toFixed(2), pct(c.ms)]),
    ]),
    "",
    markdownTable([
      ["function (self time)", "s", "share"],
      ...profile.functions.slice(0, functions).map((f) => [
        `\`${f.name}\``,
        (f.ms / 1000).toFixed(2),
        pct(f.ms),
      ]),
    ]),
  ];
}
