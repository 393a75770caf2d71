/**
 * The `ferry registry save` benchmark (`deno task bench --only save`): per scale, the image set
 * pushed into the source registry (untimed), then every method of `methods.ts` `runs` times in
 * an order rotated between runs, then (with diagnostics) the runs of `diagnose.ts` that show
 * where ferry's time goes; and ferry's and skopeo's fixed start-up cost.
 *
 * `report.ts` turns the result into the console table and the `## registry save` section of
 * bench/RESULTS.md.
 *
 * @module
 */
import { requirePeer } from "../../tests/support/mod.ts";
import { type BenchContext, type ImageSet, prepareSet, type Scale } from "../lib/image_sets.ts";
import { loadAverage, type MachineInfo } from "../lib/machine.ts";
import { rotated, timedOk } from "../lib/proc.ts";
import { quietSince, quietStats } from "../lib/quiet.ts";
import { fmtS } from "../lib/report.ts";
import { diagnose } from "./diagnose.ts";
import {
  measureCurl,
  measureDenoFloor,
  measureFerry,
  type Measurement,
  measureSealos,
} from "./methods.ts";
import type { SaveReport, ScaleReport } from "./report.ts";

/** Options of {@link measureSave}. */
export interface SaveOptions {
  /** The scales to measure, in order. */
  scales: Scale[];
  /** Measured runs of each method per scale. */
  runs: number;
  /** Also the traced, profiled and perf runs and the cost ladder (not in the medians). */
  diagnose: boolean;
  /** The command line, for the report. */
  command: string;
  /** The machine, for the report (`loadAfter` is filled in at the end). */
  machine: MachineInfo;
  /** Receives progress lines. */
  log: (line: string) => void;
}

/** Measured methods in the order of run 1; later runs rotate it. */
const ROTATION = [
  "ferry",
  "ferry-small-young",
  "sealos-serial",
  "sealos-parallel",
  "curl-seq",
  "curl-parallel",
  "deno-floor",
] as const;

async function measureRun(
  ctx: BenchContext,
  set: ImageSet,
  run: number,
  method: (typeof ROTATION)[number],
): Promise<Measurement[]> {
  switch (method) {
    case "ferry":
      return await measureFerry(ctx, set, run);
    case "ferry-small-young":
      return await measureFerry(ctx, set, run, true);
    case "sealos-serial":
      return [await measureSealos(ctx, set, run, 1)];
    case "sealos-parallel":
      return [await measureSealos(ctx, set, run, 5)];
    case "curl-seq":
      return [await measureCurl(ctx, set, run, false)];
    case "curl-parallel":
      return [await measureCurl(ctx, set, run, true)];
    case "deno-floor":
      return [await measureDenoFloor(ctx, set, run)];
  }
}

/** Generates a scale's set and pushes it to the source registry (untimed), logging its size. */
export async function pushSet(
  ctx: BenchContext,
  scale: Scale,
  log: (line: string) => void,
): Promise<ImageSet> {
  log(`\n== ${scale}: generating the images and pushing them to ${ctx.source.host} (untimed)`);
  const t0 = performance.now();
  const set = await prepareSet(scale, ctx.workDir, ctx.source.host);
  log(
    `   ${set.refs.length} images, ${set.blobs.length} distinct blobs, ` +
      `${(set.uniqueBytes / 1024 / 1024).toFixed(0)} MiB, ready in ${
        fmtS((performance.now() - t0) / 1000)
      }`,
  );
  return set;
}

async function measureScale(
  ctx: BenchContext,
  scale: Scale,
  options: SaveOptions,
): Promise<{ report: ScaleReport; set: ImageSet }> {
  const set = await pushSet(ctx, scale, options.log);
  const measurements: Measurement[] = [];
  for (let run = 1; run <= options.runs; run++) {
    for (const method of rotated(ROTATION, run)) {
      for (const m of await measureRun(ctx, set, run, method)) {
        measurements.push(m);
        options.log(
          `   ${scale} run ${run}/${options.runs}  ${m.method.padEnd(16)} ${
            fmtS(m.wallMs / 1000).padStart(8)
          }  cpu ${m.clientCpuS.toFixed(2)} s  rss ${(m.peakRssKiB / 1024).toFixed(0)} MiB` +
            `  other cpu ${m.otherCpuS.toFixed(2)} s`,
        );
      }
    }
  }
  const report: ScaleReport = {
    scale,
    description: set.description,
    blobs: set.blobs.length,
    manifests: set.manifests,
    uniqueBytes: set.uniqueBytes,
    referencedBytes: set.referencedBytes,
    measurements,
  };
  if (options.diagnose) {
    options.log(`   ${scale}: traced, profiled and perf runs, cost ladder (not in the medians)`);
    report.diagnosis = await diagnose(ctx, set, options.runs);
  }
  return { report, set };
}

async function startupCost(ctx: BenchContext): Promise<SaveReport["startup"]> {
  const startup: SaveReport["startup"] = { wallMs: [], cpuS: [], rssKiB: [] };
  const version = () =>
    timedOk(ctx.deno, ["run", "-A", "main.ts", "--version"], { cwd: ctx.repoRoot });
  // The first run fills Deno's module and code caches; it does not count.
  await version();
  for (let i = 0; i < 5; i++) {
    const r = await version();
    startup.wallMs.push(r.wallMs);
    startup.cpuS.push(r.userS + r.sysS);
    startup.rssKiB.push(r.maxRssKiB);
  }
  return startup;
}

async function skopeoStartup(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 3; i++) {
    out.push((await timedOk(requirePeer("skopeo"), ["--version"])).wallMs);
  }
  return out;
}

/**
 * Runs the save benchmark against the source registry of `ctx`. Resolves to the report and the
 * sets it pushed, by scale (the serve benchmark reuses one).
 */
export async function measureSave(
  ctx: BenchContext,
  options: SaveOptions,
): Promise<{ report: SaveReport; sets: Map<Scale, ImageSet> }> {
  const started = performance.now();
  const quiet0 = { ...quietStats };
  const startup = await startupCost(ctx);
  const skopeoStartupMs = await skopeoStartup();
  options.log(`ferry start-up: ${startup.wallMs.map((x) => fmtS(x / 1000)).join(", ")}`);
  const scales: ScaleReport[] = [];
  const sets = new Map<Scale, ImageSet>();
  for (const scale of options.scales) {
    const measured = await measureScale(ctx, scale, options);
    scales.push(measured.report);
    sets.set(scale, measured.set);
  }
  options.machine.loadAfter = await loadAverage();
  const report: SaveReport = {
    machine: options.machine,
    command: options.command,
    runs: options.runs,
    scales,
    startup,
    skopeoStartupMs,
    totalMs: performance.now() - started,
    quiet: quietSince(quiet0),
  };
  return { report, sets };
}
