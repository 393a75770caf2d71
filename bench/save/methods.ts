/**
 * The measured ways of moving an image set out of the source registry onto local disk:
 *
 * - `ferry`: `ferry registry save` as a user runs it (`deno run -A main.ts …`), then the same
 *   command again on the finished directory (`ferry-rerun`); and a variant with V8's young
 *   generation capped (`ferry-small-young`, a candidate fix for peak RSS).
 * - `sealos-*`: what Sealos does: an empty docker-registry on the output directory, then one
 *   `skopeo copy docker://SRC docker://DST` per image, one at a time (Sealos holds a mutex) or five
 *   at a time. The registry's start-up is part of the time.
 * - `curl-*`: every distinct blob fetched with curl straight into files: the floor for moving these
 *   bytes over loopback HTTP. One curl process, sequential or `--parallel --parallel-max 5`.
 * - `deno-floor`: the least a Deno program does to store the blobs as ferry does (fetch, SHA-256,
 *   write, fsync, rename; six at a time; see `floor.ts`): what the runtime costs.
 *
 * Each measurement starts from an empty destination after `sync` (so that no run pays for the
 * previous run's writeback) and a quiet second on the machine (see `settle`); the destination is
 * deleted afterwards.
 *
 * @module
 */
import { join } from "node:path";
import { digestHex } from "../../src/digest.ts";
import { removeTree, requirePeer } from "../../tests/support/mod.ts";
import { denoRunArgs } from "../lib/ferry.ts";
import { type BenchContext, type ImageSet, verifyRegistryDir } from "../lib/image_sets.ts";
import {
  machineBusySeconds,
  otherCpuSeconds,
  output,
  pool,
  timedOk,
  type TimedRun,
} from "../lib/proc.ts";
import { settle } from "../lib/quiet.ts";
import { type BenchRegistry, startBenchRegistry } from "../lib/registry.ts";

/** The measured methods. */
export type MethodId =
  | "ferry"
  | "ferry-rerun"
  | "ferry-small-young"
  | "sealos-serial"
  | "sealos-parallel"
  | "curl-seq"
  | "curl-parallel"
  | "deno-floor";

/** What one measured run of a method cost. */
export interface Measurement {
  method: MethodId;
  /** Run number, from 1. */
  run: number;
  /** Wall time in ms. */
  wallMs: number;
  /** CPU seconds of the client processes (ferry; every skopeo; curl). */
  clientCpuS: number;
  /** CPU seconds the source registry used meanwhile. */
  sourceCpuS: number;
  /** CPU seconds of the destination registry (Sealos methods; 0 otherwise). */
  destCpuS: number;
  /**
   * CPU seconds the rest of the machine used meanwhile (busy time of all CPUs minus the figures
   * above): other work running concurrently, writeback, and the benchmark itself. High values mark
   * disturbed runs.
   */
  otherCpuS: number;
  /** Peak RSS in KiB: ferry's; the largest skopeo plus the destination registry; curl's. */
  peakRssKiB: number;
  /** Method-specific figures (registry start-up, fsync time, …), in ms or KiB. */
  extra: Record<string, number>;
}

/** The minimal Deno program (`floor.ts`), relative to the checkout. */
export const FLOOR_SCRIPT = "bench/save/floor.ts";

/** The arguments of `ferry registry save` for the set. */
export function ferryArgs(set: ImageSet, outDir: string): string[] {
  return ["registry", "save", "--registry-dir", outDir, "--images", set.refs.join(",")];
}

/**
 * V8 flags of the `ferry-small-young` variant: young-generation semi-spaces of 1 MiB instead of
 * V8's default (up to 16 MiB), which is where much of ferry's peak RSS goes.
 */
export const SMALL_YOUNG_FLAGS = "--max-semi-space-size=1";

/**
 * Runs ferry with `args` in the checkout as it ships (see `lib/ferry.ts`), measured; throws unless
 * it succeeds. `v8Flags` go in `DENO_V8_FLAGS`.
 */
export async function runFerry(
  ctx: BenchContext,
  args: string[],
  v8Flags?: string,
): Promise<TimedRun> {
  const script = ["main.ts", ...args];
  return await timedOk(ctx.deno, await denoRunArgs(ctx.repoRoot, { script }), {
    cwd: ctx.repoRoot,
    env: { NO_COLOR: "1", ...(v8Flags ? { DENO_V8_FLAGS: v8Flags } : {}) },
  });
}

/** Runs `fn`, noting the CPU time the source registry and the whole machine used meanwhile. */
async function withSourceCpu<T>(
  ctx: BenchContext,
  fn: () => Promise<T>,
): Promise<{ result: T; sourceCpuS: number; busyS: number }> {
  const busy = await machineBusySeconds();
  const before = await ctx.source.cpuSeconds();
  const result = await fn();
  const sourceCpuS = await ctx.source.cpuSeconds() - before;
  return { result, sourceCpuS, busyS: await machineBusySeconds() - busy };
}

/**
 * The measurement of a method that is one client process (ferry, curl, the minimal Deno program)
 * against the source registry.
 */
function clientMeasurement(
  method: MethodId,
  run: number,
  m: { result: TimedRun; sourceCpuS: number; busyS: number },
  extra: Record<string, number>,
): Measurement {
  const { userS, sysS } = m.result;
  return {
    method,
    run,
    wallMs: m.result.wallMs,
    clientCpuS: userS + sysS,
    sourceCpuS: m.sourceCpuS,
    destCpuS: 0,
    otherCpuS: otherCpuSeconds(m.busyS, userS, sysS, m.sourceCpuS),
    peakRssKiB: m.result.maxRssKiB,
    extra,
  };
}

/**
 * ferry into a fresh directory, then ferry again on the finished directory; or, with
 * `smallYoung`, only the first run with {@link SMALL_YOUNG_FLAGS}.
 */
export async function measureFerry(
  ctx: BenchContext,
  set: ImageSet,
  run: number,
  smallYoung = false,
): Promise<Measurement[]> {
  const out = join(ctx.workDir, "dst-ferry");
  const flags = smallYoung ? SMALL_YOUNG_FLAGS : undefined;
  await removeTree(out);
  try {
    await settle();
    const first = await withSourceCpu(ctx, () => runFerry(ctx, ferryArgs(set, out), flags));
    await verifyRegistryDir(out, set, "ferry");
    const measurement = (method: MethodId, m: typeof first) =>
      clientMeasurement(method, run, m, { userS: m.result.userS, sysS: m.result.sysS });
    if (smallYoung) return [measurement("ferry-small-young", first)];
    await settle();
    const again = await withSourceCpu(ctx, () => runFerry(ctx, ferryArgs(set, out)));
    await verifyRegistryDir(out, set, "ferry rerun");
    return [measurement("ferry", first), measurement("ferry-rerun", again)];
  } finally {
    await removeTree(out);
  }
}

/** One `skopeo copy` between two plain-HTTP registries, measured. */
export async function skopeoCopy(from: string, to: string): Promise<TimedRun> {
  return await timedOk(requirePeer("skopeo"), [
    "--insecure-policy",
    "copy",
    "--src-tls-verify=false",
    "--dest-tls-verify=false",
    `docker://${from}`,
    `docker://${to}`,
  ]);
}

/**
 * The Sealos method: an empty docker-registry on a fresh directory, then `skopeo copy` per image,
 * `width` images at a time. Timed from the registry's spawn to the last copy's exit.
 */
export async function measureSealos(
  ctx: BenchContext,
  set: ImageSet,
  run: number,
  width: number,
): Promise<Measurement> {
  const out = join(ctx.workDir, "dst-sealos");
  await removeTree(out);
  let dest: BenchRegistry | undefined;
  try {
    await settle();
    const copies: TimedRun[] = [];
    let startMs = 0;
    let destCpuS = 0;
    let destRssKiB = 0;
    const { result: wallMs, sourceCpuS, busyS } = await withSourceCpu(ctx, async () => {
      const t0 = performance.now();
      dest = await startBenchRegistry(out, ctx.workDir);
      startMs = performance.now() - t0;
      const dst = dest;
      await pool(
        set.images.map((image, i) => ({ image, ref: set.refs[i] })),
        width,
        async (job) => {
          copies.push(
            await skopeoCopy(job.ref, `${dst.host}/${job.image.repository}:${job.image.tag}`),
          );
        },
      );
      const wall = performance.now() - t0;
      destCpuS = await dst.cpuSeconds();
      destRssKiB = await dst.peakRssKiB();
      return wall;
    });
    await dest!.stop();
    dest = undefined;
    await verifyRegistryDir(out, set, "sealos method");
    const skopeoRss = Math.max(...copies.map((c) => c.maxRssKiB));
    const clientCpuS = copies.reduce((n, c) => n + c.userS + c.sysS, 0);
    return {
      method: width === 1 ? "sealos-serial" : "sealos-parallel",
      run,
      wallMs,
      clientCpuS,
      sourceCpuS,
      destCpuS,
      otherCpuS: otherCpuSeconds(busyS, clientCpuS, sourceCpuS, destCpuS),
      peakRssKiB: skopeoRss + destRssKiB,
      extra: {
        registryStartMs: startMs,
        skopeoRssKiB: skopeoRss,
        registryRssKiB: destRssKiB,
        skopeoWallSumMs: copies.reduce((n, c) => n + c.wallMs, 0),
      },
    };
  } finally {
    await dest?.stop();
    await removeTree(out);
  }
}

/**
 * Every distinct blob of the set fetched by one curl process into plain files; then the files are
 * fsynced (timed separately: curl does not sync, ferry and docker-registry do).
 */
export async function measureCurl(
  ctx: BenchContext,
  set: ImageSet,
  run: number,
  parallel: boolean,
): Promise<Measurement> {
  const out = join(ctx.workDir, "dst-curl");
  await removeTree(out);
  await Deno.mkdir(out, { recursive: true });
  try {
    await settle();
    const args = ["-sS", "--fail"];
    if (parallel) args.push("--parallel", "--parallel-max", "5");
    const files: string[] = [];
    for (const blob of set.blobs) {
      const file = join(out, digestHex(blob.digest));
      files.push(file);
      args.push("-o", file, `${ctx.source.url}/v2/${blob.repository}/blobs/${blob.digest}`);
    }
    const measured = await withSourceCpu(ctx, () => timedOk("curl", args));
    const t0 = performance.now();
    await output("sync", files);
    const fsyncMs = performance.now() - t0;
    for (const [i, blob] of set.blobs.entries()) {
      const size = (await Deno.stat(files[i])).size;
      if (size !== blob.size) {
        throw new Error(`curl: ${files[i]} has ${size} bytes, want ${blob.size}`);
      }
    }
    return clientMeasurement(parallel ? "curl-parallel" : "curl-seq", run, measured, { fsyncMs });
  } finally {
    await removeTree(out);
  }
}

/** Writes the job list `floor.ts` reads: every distinct blob of the set. */
export async function writeFloorJobs(
  ctx: BenchContext,
  set: ImageSet,
  path: string,
): Promise<void> {
  await Deno.writeTextFile(
    path,
    JSON.stringify(set.blobs.map((b) => ({
      url: `${ctx.source.url}/v2/${b.repository}/blobs/${b.digest}`,
      digest: b.digest,
      size: b.size,
    }))),
  );
}

/** The minimal Deno fetch → hash → file program over every distinct blob (`floor.ts`). */
export async function measureDenoFloor(
  ctx: BenchContext,
  set: ImageSet,
  run: number,
): Promise<Measurement> {
  const out = join(ctx.workDir, "dst-floor");
  const jobsPath = join(ctx.workDir, `floor-jobs-${set.scale}.json`);
  await removeTree(out);
  try {
    await writeFloorJobs(ctx, set, jobsPath);
    await settle();
    const measured = await withSourceCpu(
      ctx,
      () => timedOk(ctx.deno, ["run", "-A", FLOOR_SCRIPT, jobsPath, out], { cwd: ctx.repoRoot }),
    );
    return clientMeasurement("deno-floor", run, measured, {});
  } finally {
    await removeTree(out);
    await removeTree(jobsPath);
  }
}
