/**
 * The `ferry registry serve` benchmark: skopeo pulling the image set out of, and pushing it into,
 * `ferry registry serve filesystem DIR` against docker-registry on the same directory.
 *
 * - **pull**: a fresh server on the source registry's directory (which holds the set), then one
 *   `skopeo copy docker://127.0.0.1:PORT/… dir:OUT` per image, one at a time and all at once.
 * - **push**: a fresh server on an empty directory, then one
 *   `skopeo copy oci:LAYOUT:NAME docker://127.0.0.1:PORT/…` per image, the same two ways.
 *
 * ferry runs as it ships (`deno run -A --v8-flags=… main.ts`, the flags of main.ts's shebang);
 * docker-registry as in the save benchmark (`lib/registry.ts`). Each measurement starts its own server
 * (start-up untimed), waits for a quiet machine, times the copies from the first spawn to the last
 * exit, and charges the server's CPU (`/proc/<pid>/stat`) and peak RSS (`VmHWM`) to it. Methods
 * run in an order rotated between runs; the report takes medians.
 *
 * `report.ts` turns the results into the console table and the `## registry serve` section of
 * bench/RESULTS.md.
 *
 * @module
 */
import { join } from "node:path";
import { makeLayout, removeTree, requirePeer } from "../../tests/support/mod.ts";
import { denoRunArgs } from "../lib/ferry.ts";
import {
  type BenchContext,
  type ImageSet,
  setSpecs,
  verifyRegistryDir,
} from "../lib/image_sets.ts";
import { type MachineInfo, timestamp } from "../lib/machine.ts";
import { PROFILE_MAIN, type ProfileSummary, readProfile } from "../lib/profile.ts";
import {
  machineBusySeconds,
  otherCpuSeconds,
  pool,
  rotated,
  spawnListening,
  timedOk,
  type TimedRun,
} from "../lib/proc.ts";
import { quietSince, quietStats, type QuietSummary, settle } from "../lib/quiet.ts";
import { type BenchRegistry, serverChild, startBenchRegistry } from "../lib/registry.ts";
import { fmtS, mibPerS } from "../lib/report.ts";

/** Which server a measurement ran against. */
export type ServerKind = "ferry" | "docker-registry";

/** Servers of the blob-GET diagnostic: also the minimal Deno blob server (`floor.ts`). */
export type RawServerKind = ServerKind | "deno-floor";

/** Which way the bytes went: out of the server, or into it. */
export type Direction = "pull" | "push";

/** One measured way of using a server. */
export interface ServeMethod {
  server: ServerKind;
  direction: Direction;
  /** Images copied at a time. */
  width: number;
}

/** Images at a time in the parallel methods: the large set's four images at once. */
export const PARALLEL_WIDTH = 4;

/** The measured methods, in table order (each ferry row next to its docker-registry row). */
export const SERVE_METHODS: readonly ServeMethod[] = (["pull", "push"] as const).flatMap((
  direction,
) =>
  [1, PARALLEL_WIDTH].flatMap((width) =>
    (["ferry", "docker-registry"] as const).map((server) => ({ server, direction, width }))
  )
);

/** What one measured run cost. */
export interface ServeMeasurement extends ServeMethod {
  /** Run number, from 1. */
  run: number;
  /** Wall time from the first skopeo spawn to the last skopeo exit, ms. */
  wallMs: number;
  /** Bytes of layers and configs copied (each image's own, shared blobs counted per image). */
  bytes: number;
  /** CPU seconds of all skopeo processes. */
  clientCpuS: number;
  /** Largest peak RSS of one skopeo process, KiB. */
  clientPeakRssKiB: number;
  /** CPU seconds the server used during the copies. */
  serverCpuS: number;
  /** Peak RSS of the server process since its start (`VmHWM`), KiB. */
  serverPeakRssKiB: number;
  /** CPU seconds the rest of the machine used meanwhile (see `Measurement.otherCpuS`). */
  otherCpuS: number;
  /** From spawn to ready to serve, ms (not part of `wallMs`). */
  serverStartMs: number;
}

/** The server alone: curl fetching every distinct blob into /dev/null (diagnostic). */
export interface RawGetMeasurement {
  server: RawServerKind;
  /** Blobs fetched at a time. */
  width: number;
  run: number;
  wallMs: number;
  /** Bytes of the distinct blobs. */
  bytes: number;
  /** CPU seconds of curl. */
  clientCpuS: number;
  serverCpuS: number;
  serverPeakRssKiB: number;
  otherCpuS: number;
}

/** Servers and widths of the blob-GET diagnostic, in table order. */
export const RAW_GET_METHODS: readonly { server: RawServerKind; width: number }[] = [1, 4]
  .flatMap((width) =>
    (["ferry", "deno-floor", "docker-registry"] as const).map((server) => ({ server, width }))
  );

/** A profiled ferry server run (not in the medians). */
export interface ServeProfile {
  direction: Direction;
  width: number;
  /** Wall time of the copies, ms. */
  wallMs: number;
  /** Server CPU seconds during the copies. */
  serverCpuS: number;
  /** V8's sampling profile of the server's main thread, start-up to exit. */
  profile?: ProfileSummary;
}

/** The whole serve benchmark. */
export interface ServeReport {
  date: string;
  command: string;
  /** The set's scale and description (`image_sets.ts`). */
  scale: string;
  description: string;
  images: number;
  /** Bytes of layers and configs counted per image: what every method copies. */
  bytes: number;
  runs: number;
  measurements: ServeMeasurement[];
  /** The blob-GET diagnostic (empty without diagnostics). */
  rawGets: RawGetMeasurement[];
  profiles: ServeProfile[];
  /** How ferry was started. */
  ferryCommand: string;
  /** Waiting for a quiet machine before each measurement. */
  quiet: QuietSummary;
  totalMs: number;
  machine?: MachineInfo;
}

/** Options of {@link measureServe}. */
export interface ServeOptions {
  /** Measured runs of each method. */
  runs: number;
  /** Also run a profiled ferry server for each direction (not in the medians). */
  diagnose: boolean;
  /** The command line, for the report. */
  command: string;
  /** Receives progress lines. */
  log?: (line: string) => void;
  /** The machine, for the report. */
  machine?: MachineInfo;
}

/** A short name for a method: `pull ferry ×4`. */
export function methodName(m: ServeMethod): string {
  return `${m.direction} ${m.server} ×${m.width}`;
}

/** Whether two methods are the same. */
export function sameMethod(a: ServeMethod, b: ServeMethod): boolean {
  return a.server === b.server && a.direction === b.direction && a.width === b.width;
}

/** The minimal Deno blob server (`floor.ts`), relative to the checkout. */
const FLOOR_SCRIPT = "bench/serve/floor.ts";

/** The arguments after `deno` that start ferry's server on `root` at any free port. */
async function ferryServeArgs(ctx: BenchContext, root: string, profile?: string) {
  const entry = profile ? [PROFILE_MAIN, profile] : ["main.ts"];
  return await denoRunArgs(ctx.repoRoot, {
    script: [...entry, "registry", "serve", "filesystem", root, "-p", "0", "--disable-logging"],
  });
}

/**
 * Starts `ferry registry serve filesystem ROOT -p 0 --disable-logging` as ferry ships; ready once
 * it printed its address. With `profile`, the server runs under V8's sampling profiler
 * (`profile_main.ts`) and writes the profile there when stopped.
 */
export async function startFerryServer(
  ctx: BenchContext,
  root: string,
  profile?: string,
): Promise<BenchRegistry> {
  await Deno.mkdir(root, { recursive: true });
  return await startDenoServer(ctx, root, await ferryServeArgs(ctx, root, profile), "ferry");
}

/** Starts `floor.ts` (the minimal Deno blob server) on `root`, with ferry's V8 flags. */
export async function startFloorServer(ctx: BenchContext, root: string): Promise<BenchRegistry> {
  const args = await denoRunArgs(ctx.repoRoot, { script: [FLOOR_SCRIPT, root] });
  return await startDenoServer(ctx, root, args, FLOOR_SCRIPT);
}

/** Runs `deno ARGS` in the checkout; ready once it printed `Listening on URL`. */
async function startDenoServer(
  ctx: BenchContext,
  root: string,
  args: string[],
  what: string,
): Promise<BenchRegistry> {
  const child = await spawnListening({
    program: ctx.deno,
    args,
    cwd: ctx.repoRoot,
    what,
    // A profiled server writes its profile on the way out: give it time.
    graceMs: 15_000,
  });
  return serverChild(child.pid, child.url, root, child.stop);
}

/** Servers started and not yet stopped, so that an interrupted run can stop them. */
const running = new Set<BenchRegistry>();

/** Starts a server of `kind` on `root`, tracked until stopped (see {@link stopServeServers}). */
async function startServer(
  kind: RawServerKind,
  ctx: BenchContext,
  root: string,
  profile?: string,
): Promise<BenchRegistry> {
  const server = kind === "ferry"
    ? await startFerryServer(ctx, root, profile)
    : kind === "deno-floor"
    ? await startFloorServer(ctx, root)
    : await startBenchRegistry(root, ctx.workDir);
  running.add(server);
  return {
    ...server,
    stop: async () => {
      await server.stop();
      running.delete(server);
    },
  };
}

/** Stops every server the serve benchmark started and has not stopped yet (on interruption). */
export async function stopServeServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop().catch(() => {})));
  running.clear();
}

/** Runs `skopeo --insecure-policy ARGS`, measured; throws unless it succeeds. */
function skopeo(args: string[]): Promise<TimedRun> {
  return timedOk(requirePeer("skopeo"), ["--insecure-policy", ...args]);
}

/** The layout ref name of each image of the set, in the order of `set.images`. */
function layoutNames(set: ImageSet): string[] {
  return setSpecs(set.scale).specs.map((s) => s.name);
}

/** Throws unless the `dir:` copies under `out` hold the set's layer and config bytes. */
async function verifyPulled(out: string, set: ImageSet): Promise<void> {
  let bytes = 0;
  for (let i = 0; i < set.images.length; i++) {
    const dir = join(out, String(i));
    await Deno.stat(join(dir, "manifest.json")).catch(() => {
      throw new Error(`pull: ${dir} has no manifest.json`);
    });
    for await (const entry of Deno.readDir(dir)) {
      if (/^[a-f0-9]{64}$/.test(entry.name)) bytes += (await Deno.stat(join(dir, entry.name))).size;
    }
  }
  if (bytes !== set.referencedBytes) {
    throw new Error(`pull: ${out} holds ${bytes} bytes of blobs, want ${set.referencedBytes}`);
  }
}

interface Copies {
  wallMs: number;
  copies: TimedRun[];
  serverCpuS: number;
  busyS: number;
}

/** Runs one skopeo copy per image, `width` at a time, noting the server's and machine's CPU. */
async function timedCopies(
  server: BenchRegistry,
  set: ImageSet,
  width: number,
  copyArgs: (image: number) => string[],
): Promise<Copies> {
  const copies: TimedRun[] = [];
  const busy0 = await machineBusySeconds();
  const cpu0 = await server.cpuSeconds();
  const t0 = performance.now();
  await pool(set.images.map((_, i) => i), width, async (i) => {
    copies.push(await skopeo(copyArgs(i)));
  });
  const wallMs = performance.now() - t0;
  const serverCpuS = await server.cpuSeconds() - cpu0;
  return { wallMs, copies, serverCpuS, busyS: await machineBusySeconds() - busy0 };
}

function pullArgs(server: BenchRegistry, set: ImageSet, out: string) {
  return (i: number) => {
    const image = set.images[i];
    return [
      "copy",
      "--src-tls-verify=false",
      `docker://${server.host}/${image.repository}:${image.tag}`,
      `dir:${join(out, String(i))}`,
    ];
  };
}

function pushArgs(server: BenchRegistry, set: ImageSet, layout: string) {
  const names = layoutNames(set);
  return (i: number) => {
    const image = set.images[i];
    return [
      "copy",
      "--dest-tls-verify=false",
      `oci:${layout}:${names[i]}`,
      `docker://${server.host}/${image.repository}:${image.tag}`,
    ];
  };
}

/** What {@link copySet} measured. */
interface CopiedSet extends Copies {
  /** From spawn to ready to serve, ms. */
  serverStartMs: number;
  /** Peak RSS of the server since its start, KiB. */
  serverPeakRssKiB: number;
}

/**
 * Starts a fresh `server` (pulls read the source registry's directory, pushes fill an empty one;
 * with `profile`, ferry's server under the profiler), waits for a quiet machine, copies the set
 * through it `width` images at a time, stops it and checks what arrived. Everything it wrote is
 * removed again.
 */
async function copySet(
  ctx: BenchContext,
  set: ImageSet,
  layout: string,
  method: ServeMethod,
  profile?: string,
): Promise<CopiedSet> {
  const pull = method.direction === "pull";
  const root = pull ? ctx.source.root : join(ctx.workDir, "dst-serve-push");
  const out = join(ctx.workDir, "dst-serve-pull");
  let server: BenchRegistry | undefined;
  try {
    await removeTree(out);
    if (!pull) await removeTree(root);
    await Deno.mkdir(out, { recursive: true });
    const t0 = performance.now();
    server = await startServer(method.server, ctx, root, profile);
    const serverStartMs = performance.now() - t0;
    await settle();
    const args = pull ? pullArgs(server, set, out) : pushArgs(server, set, layout);
    const copies = await timedCopies(server, set, method.width, args);
    const serverPeakRssKiB = await server.peakRssKiB();
    await server.stop();
    server = undefined;
    if (pull) await verifyPulled(out, set);
    else await verifyRegistryDir(root, set, `push into ${method.server}`);
    return { ...copies, serverStartMs, serverPeakRssKiB };
  } finally {
    await server?.stop();
    await removeTree(out);
    if (!pull) await removeTree(root);
  }
}

/** One measured run of `method`; `layout` holds the set as an OCI layout (for pushes). */
export async function measureServeMethod(
  ctx: BenchContext,
  set: ImageSet,
  layout: string,
  method: ServeMethod,
  run: number,
): Promise<ServeMeasurement> {
  const c = await copySet(ctx, set, layout, method);
  const clientCpuS = c.copies.reduce((n, r) => n + r.userS + r.sysS, 0);
  return {
    ...method,
    run,
    wallMs: c.wallMs,
    bytes: set.referencedBytes,
    clientCpuS,
    clientPeakRssKiB: Math.max(...c.copies.map((r) => r.maxRssKiB)),
    serverCpuS: c.serverCpuS,
    serverPeakRssKiB: c.serverPeakRssKiB,
    otherCpuS: otherCpuSeconds(c.busyS, clientCpuS, c.serverCpuS),
    serverStartMs: c.serverStartMs,
  };
}

/**
 * The server alone, without skopeo: one curl process fetching every distinct blob of the set from
 * a fresh server on the source directory into /dev/null, `width` at a time.
 */
export async function measureRawGets(
  ctx: BenchContext,
  set: ImageSet,
  server: RawServerKind,
  width: number,
  run: number,
): Promise<RawGetMeasurement> {
  let s: BenchRegistry | undefined;
  try {
    s = await startServer(server, ctx, ctx.source.root);
    const args = ["-sS", "--fail"];
    if (width > 1) args.push("--parallel", "--parallel-max", String(width));
    for (const blob of set.blobs) {
      args.push("-o", "/dev/null", `${s.url}/v2/${blob.repository}/blobs/${blob.digest}`);
    }
    await settle();
    const busy0 = await machineBusySeconds();
    const cpu0 = await s.cpuSeconds();
    const r = await timedOk("curl", args);
    const serverCpuS = await s.cpuSeconds() - cpu0;
    const busyS = await machineBusySeconds() - busy0;
    const serverPeakRssKiB = await s.peakRssKiB();
    const clientCpuS = r.userS + r.sysS;
    return {
      server,
      width,
      run,
      wallMs: r.wallMs,
      bytes: set.uniqueBytes,
      clientCpuS,
      serverCpuS,
      serverPeakRssKiB,
      otherCpuS: otherCpuSeconds(busyS, clientCpuS, serverCpuS),
    };
  } finally {
    await s?.stop();
  }
}

/** A ferry server under the profiler, pulling or pushing the set once at full width. */
async function profiledRun(
  ctx: BenchContext,
  set: ImageSet,
  layout: string,
  direction: Direction,
): Promise<ServeProfile> {
  const profilePath = join(ctx.workDir, `serve-${direction}.cpuprofile`);
  try {
    const method: ServeMethod = { server: "ferry", direction, width: PARALLEL_WIDTH };
    const c = await copySet(ctx, set, layout, method, profilePath);
    return {
      direction,
      width: PARALLEL_WIDTH,
      wallMs: c.wallMs,
      serverCpuS: c.serverCpuS,
      profile: await readProfile(profilePath, ctx.repoRoot),
    };
  } finally {
    await removeTree(profilePath);
  }
}

/**
 * Runs the serve benchmark on `set`, which the source registry (`ctx.source`) holds: every method
 * of {@link SERVE_METHODS} `options.runs` times, order rotated between runs, then (with
 * `options.diagnose`) a profiled ferry server per direction. Writes the set's OCI layout under
 * `ctx.workDir` for the pushes and removes it at the end.
 */
export async function measureServe(
  ctx: BenchContext,
  set: ImageSet,
  options: ServeOptions,
): Promise<ServeReport> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const date = timestamp();
  const layout = join(ctx.workDir, `serve-layout-${set.scale}`);
  const quiet0 = { ...quietStats };
  try {
    log(`\n== registry serve (${set.scale} set): writing the OCI layout for the pushes (untimed)`);
    await makeLayout(layout, setSpecs(set.scale).specs);
    const measurements: ServeMeasurement[] = [];
    for (let run = 1; run <= options.runs; run++) {
      for (const method of rotated(SERVE_METHODS, run)) {
        const m = await measureServeMethod(ctx, set, layout, method, run);
        measurements.push(m);
        log(
          `   serve run ${run}/${options.runs}  ${methodName(m).padEnd(24)} ${
            fmtS(m.wallMs / 1000).padStart(8)
          }  ${mibPerS(m.bytes, m.wallMs / 1000).padStart(5)} MiB/s  server cpu ${
            m.serverCpuS.toFixed(2)
          } s  rss ${(m.serverPeakRssKiB / 1024).toFixed(0)} MiB  skopeo cpu ${
            m.clientCpuS.toFixed(2)
          } s  other cpu ${m.otherCpuS.toFixed(2)} s`,
        );
      }
    }
    const profiles: ServeProfile[] = [];
    const rawGets: RawGetMeasurement[] = [];
    if (options.diagnose) {
      for (let run = 1; run <= options.runs; run++) {
        for (const { server, width } of rotated(RAW_GET_METHODS, run)) {
          const m = await measureRawGets(ctx, set, server, width, run);
          rawGets.push(m);
          log(
            `   blob GETs run ${run}/${options.runs}  curl ×${width} from ${server.padEnd(16)} ${
              fmtS(m.wallMs / 1000).padStart(8)
            }  ${mibPerS(m.bytes, m.wallMs / 1000).padStart(5)} MiB/s  server cpu ${
              m.serverCpuS.toFixed(2)
            } s  rss ${(m.serverPeakRssKiB / 1024).toFixed(0)} MiB  other cpu ${
              m.otherCpuS.toFixed(2)
            } s`,
          );
        }
      }
      for (const direction of ["pull", "push"] as const) {
        log(
          `   serve: profiled ferry server, ${direction} ×${PARALLEL_WIDTH} (not in the medians)`,
        );
        profiles.push(await profiledRun(ctx, set, layout, direction));
      }
    }
    return {
      date,
      command: options.command,
      scale: set.scale,
      description: set.description,
      images: set.images.length,
      bytes: set.referencedBytes,
      runs: options.runs,
      measurements,
      rawGets,
      profiles,
      ferryCommand: `deno ${
        (await ferryServeArgs(ctx, "DIR")).join(" ").replace("-p 0", "-p PORT")
      }`,
      quiet: quietSince(quiet0),
      totalMs: performance.now() - started,
      machine: options.machine,
    };
  } finally {
    await removeTree(layout);
  }
}
