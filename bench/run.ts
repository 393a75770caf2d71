/**
 * `deno task bench`: ferry registry save against the Sealos method (empty docker-registry +
 * `skopeo copy` per image) and raw HTTP-to-disk, on loopback, in one run, at two scales; then
 * `ferry registry serve` against docker-registry, skopeo pulling and pushing the large set
 * (`serve.ts`); then `ferry build` and `ferry merge` of a 1 GiB registry context against
 * `tar | pigz` (`build.ts`).
 *
 * ```sh
 * deno task bench                       # both scales, 3 runs each, writes bench/RESULTS.md
 * deno task bench --scale small --runs 1
 * deno task bench --keep                # keep the scratch directory (source registry data)
 * deno task bench --only serve          # only the registry serve part
 * deno task bench --only build          # only the build part
 * deno task bench --only discovery      # only context discovery over 10 MB of manifests
 * ```
 *
 * Options: `--scale small|large|both` (default both), `--runs N` (default 3), `--keep`,
 * `--work-dir DIR` (scratch space, default the system temp dir; the large scale needs about
 * 8 GB, the build part about 6.5 GB), `--no-diagnose` (skip the traced, profiled and perf runs),
 * `--results FILE` (default `bench/RESULTS.md`), `--max-wait S` (wait at most S seconds for a
 * quiet machine before each measurement, default 60; 0 does not wait),
 * `--only save|serve|build|discovery` (one part; default all). The serve part runs on the large set (on the small one with
 * `--scale small`); the build part on 1 GiB of registry data (128 MiB with `--scale small`).
 *
 * RESULTS.md is rewritten part by part: the save report when both scales were saved, the
 * `## registry serve` section when the large set was served, the `## ferry build` section when
 * the 1 GiB context was built (each always with `--results`); a part that did not run stays as it
 * was. The raw figures go to `bench/out/results.json` (save), `bench/out/serve.json` (serve) and
 * `bench/out/build.json` (build).
 *
 * Everything started is stopped and the scratch directory removed at the end, also on failure or
 * Ctrl-C.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { removeTree, requirePeer } from "../tests/support/mod.ts";
import { diagnose } from "./diagnose.ts";
import { type ImageSet, prepareSet, type Scale, SCALES } from "./image_sets.ts";
import {
  type BenchContext,
  measureCurl,
  measureDenoFloor,
  measureFerry,
  type Measurement,
  measureSealos,
} from "./methods.ts";
import { output, quietSettings, quietStats, timedOk } from "./proc.ts";
import { type BenchRegistry, startBenchRegistry } from "./registry.ts";
import { measureBuild } from "./build.ts";
import {
  BUILD_SECTION,
  buildMarkdown,
  type BuildReport,
  buildSummaryLines,
} from "./build_report.ts";
import { measureServe, type ServeReport, stopServeServers } from "./serve.ts";
import {
  DISCOVERY_SECTION,
  discoveryMarkdown,
  type DiscoveryReport,
  discoverySummary,
  measureDiscovery,
} from "./discovery.ts";
import { SERVE_SECTION, serveConsoleReport, serveMarkdown } from "./serve_report.ts";
import {
  type BenchReport,
  consoleReport,
  fmtS,
  keptAnalysis,
  type MachineInfo,
  markdownReport,
  type ScaleReport,
} from "./report.ts";

/** Command-line options. */
export interface BenchOptions {
  scales: Scale[];
  runs: number;
  keep: boolean;
  workDir?: string;
  diagnose: boolean;
  results?: string;
  /** Longest wait for a quiet machine before each measurement, ms (0: no waiting). */
  maxWaitMs: number;
  /** Run the `registry save` part. */
  save: boolean;
  /** Run the `registry serve` part. */
  serve: boolean;
  /** Run the `build` part. */
  build: boolean;
  /** Run the `context images` discovery part. */
  discovery: boolean;
}

/** Registry data per context of the build part: 1 GiB, 128 MiB for `--scale small` alone. */
export function buildBytes(options: BenchOptions): number {
  return (options.scales.includes("large") ? 1024 : 128) * 1024 * 1024;
}

/** Parses the command line; throws a usage message on bad input. */
export function parseOptions(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      scale: { type: "string", default: "both" },
      runs: { type: "string", default: "3" },
      keep: { type: "boolean", default: false },
      "work-dir": { type: "string" },
      "no-diagnose": { type: "boolean", default: false },
      results: { type: "string" },
      "max-wait": { type: "string", default: "60" },
      only: { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const scale = values.scale;
  if (scale !== "small" && scale !== "large" && scale !== "both") {
    throw new Error(`--scale must be small, large or both, not ${JSON.stringify(scale)}`);
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`--runs must be a positive integer, not ${JSON.stringify(values.runs)}`);
  }
  const maxWaitMs = Number(values["max-wait"]) * 1000;
  if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
    throw new Error(`--max-wait must be a number of seconds, not ${values["max-wait"]}`);
  }
  const only = values.only;
  const parts = ["save", "serve", "build", "discovery"];
  if (only !== undefined && !parts.includes(only)) {
    throw new Error(`--only must be save, serve, build or discovery, not ${JSON.stringify(only)}`);
  }
  return {
    scales: scale === "both" ? [...SCALES] : [scale],
    runs,
    keep: values.keep,
    workDir: values["work-dir"],
    diagnose: !values["no-diagnose"],
    results: values.results,
    maxWaitMs,
    save: only === undefined || only === "save",
    serve: only === undefined || only === "serve",
    build: only === undefined || only === "build",
    discovery: only === undefined || only === "discovery",
  };
}

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));

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

function log(line: string): void {
  console.error(line);
}

async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

async function freeBytes(dir: string): Promise<number> {
  const text = await output("df", ["-Pk", dir]);
  const fields = text.trim().split("\n").pop()!.trim().split(/\s+/);
  return Number(fields[3]) * 1024;
}

async function machineInfo(workDir: string, loadBefore: string): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const firstLine = (s: string) => s.trim().split("\n")[0];
  // The build part alone needs neither peer: name them only when present.
  const version = (name: "skopeo" | "docker-registry") =>
    output(requirePeer(name), ["--version"]).then(firstLine, () => `${name}: not found`);
  const df = (await output("df", ["-PTh", workDir])).trim().split("\n").pop()!.split(/\s+/);
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpus: navigator.hardwareConcurrency,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    memoryGiB: Deno.systemMemoryInfo().total / 1024 ** 3,
    kernel: Deno.osRelease(),
    deno: (await output(Deno.execPath(), ["--version"])).trim().split("\n").join(", "),
    skopeo: await version("skopeo"),
    registry: await version("docker-registry"),
    curl: firstLine(await output("curl", ["--version"])).split(" ").slice(0, 2).join(" "),
    workDir,
    filesystem: `${df[1]}, ${df[4]} free of ${df[2]}`,
    loadBefore,
    loadAfter: "",
  };
}

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

async function measureScale(
  ctx: BenchContext,
  scale: Scale,
  options: BenchOptions,
): Promise<{ report: ScaleReport; set: ImageSet }> {
  log(`\n== ${scale}: generating the images and pushing them to ${ctx.source.host} (untimed)`);
  const t0 = performance.now();
  const set = await prepareSet(scale, ctx.workDir, ctx.source.host);
  log(
    `   ${set.refs.length} images, ${set.blobs.length} distinct blobs, ` +
      `${(set.uniqueBytes / 1024 / 1024).toFixed(0)} MiB, ready in ${
        fmtS((performance.now() - t0) / 1000)
      }`,
  );
  const measurements: Measurement[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const shift = (run - 1) % ROTATION.length;
    const order = [...ROTATION.slice(shift), ...ROTATION.slice(0, shift)];
    for (const method of order) {
      for (const m of await measureRun(ctx, set, run, method)) {
        measurements.push(m);
        log(
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
    log(`   ${scale}: traced, profiled and perf runs, cost ladder (not in the medians)`);
    report.diagnosis = await diagnose(ctx, set, options.runs);
  }
  return { report, set };
}

async function startupCost(): Promise<BenchReport["startup"]> {
  const startup: BenchReport["startup"] = { wallMs: [], cpuS: [], rssKiB: [] };
  // The first run fills Deno's module and code caches; it does not count.
  await timedOk(Deno.execPath(), ["run", "-A", "main.ts", "--version"], { cwd: REPO_ROOT });
  for (let i = 0; i < 5; i++) {
    const r = await timedOk(Deno.execPath(), ["run", "-A", "main.ts", "--version"], {
      cwd: REPO_ROOT,
    });
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
 * Writes the raw figures and RESULTS.md: the save report when both scales were saved, the serve
 * section when the large set was served, the build section when the 1 GiB context was built
 * (each always with `--results`); a part not written keeps what the file held.
 */
async function writeResults(
  report: BenchReport | undefined,
  serve: ServeReport | undefined,
  build: BuildReport | undefined,
  options: BenchOptions,
  discovery?: DiscoveryReport,
): Promise<void> {
  const outDir = join(REPO_ROOT, "bench", "out");
  await Deno.mkdir(outDir, { recursive: true });
  const written: string[] = [];
  if (report) {
    const json = join(outDir, "results.json");
    await Deno.writeTextFile(json, JSON.stringify(report, null, 2) + "\n");
    written.push(json);
  }
  if (serve) {
    const json = join(outDir, "serve.json");
    await Deno.writeTextFile(json, JSON.stringify(serve, null, 2) + "\n");
    written.push(json);
  }
  if (build) {
    const json = join(outDir, "build.json");
    await Deno.writeTextFile(json, JSON.stringify(build, null, 2) + "\n");
    written.push(json);
  }
  if (discovery) {
    const json = join(outDir, "discovery.json");
    await Deno.writeTextFile(json, JSON.stringify(discovery, null, 2) + "\n");
    written.push(json);
  }
  const writeSave = report !== undefined &&
    (options.results !== undefined || options.scales.length === SCALES.length);
  const writeServe = serve !== undefined &&
    (options.results !== undefined || serve.scale === "large");
  const writeBuild = build !== undefined &&
    (options.results !== undefined || build.bytes >= 1024 * 1024 * 1024);
  const writeDiscovery = discovery !== undefined;
  if (!writeSave && !writeServe && !writeBuild && !writeDiscovery) {
    log("\n(only part of the benchmark ran: RESULTS.md left alone; --results FILE writes one)");
    return;
  }
  const path = options.results ?? join(REPO_ROOT, "bench", "RESULTS.md");
  const existing = await Deno.readTextFile(path).catch(() => undefined);
  const saveText = report && writeSave
    ? markdownReport(report, keptAnalysis(existing))
    : existing ?? "";
  const serveSection = serve && writeServe
    ? serveMarkdown(serve, SERVE_SECTION.keptAnalysis(existing))
    : SERVE_SECTION.extract(existing);
  const buildSection = build && writeBuild
    ? buildMarkdown(build, BUILD_SECTION.keptAnalysis(existing))
    : BUILD_SECTION.extract(existing);
  const discoverySection = discovery
    ? discoveryMarkdown(discovery, DISCOVERY_SECTION.keptAnalysis(existing))
    : DISCOVERY_SECTION.extract(existing);
  // A regenerated save report has no other section: each goes back in (serve, build, discovery).
  await Deno.writeTextFile(
    path,
    DISCOVERY_SECTION.replace(
      BUILD_SECTION.replace(SERVE_SECTION.replace(saveText, serveSection), buildSection),
      discoverySection,
    ),
  );
  // The checkout's `deno fmt --check` covers RESULTS.md: write it the way fmt would.
  await output(Deno.execPath(), ["fmt", "--quiet", path], REPO_ROOT).catch((err) =>
    log(`could not format ${path}: ${(err as Error).message}`)
  );
  log(`\nwrote ${[path, ...written].join(", ")}`);
}

/** Runs the benchmark; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(args);
  } catch (err) {
    log(`bench: ${(err as Error).message}`);
    return 2;
  }
  const started = performance.now();
  quietSettings.enabled = options.maxWaitMs > 0;
  quietSettings.maxWaitMs = options.maxWaitMs;
  if (options.save || options.serve) {
    requirePeer("skopeo");
    requirePeer("docker-registry");
  }
  const base = options.workDir ?? Deno.env.get("TMPDIR") ?? "/tmp";
  const registryNeed = !options.save && !options.serve
    ? 0
    : options.scales.includes("large")
    ? (options.serve ? 8e9 : 6e9)
    : 1e9;
  // Two contexts, the store with both images, one pigz output: about 6 × the registry data.
  const needed = registryNeed + (options.build ? 6.5 * buildBytes(options) : 0);
  const free = await freeBytes(base);
  if (free < needed) {
    log(
      `bench: ${base} has ${(free / 1e9).toFixed(1)} GB free; this run needs about ${
        needed / 1e9
      } GB (--work-dir DIR elsewhere)`,
    );
    return 1;
  }
  const workDir = await Deno.makeTempDir({ dir: base, prefix: "ferry-bench-" });
  let source: BenchRegistry | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    cleaned ??= (async () => {
      await stopServeServers();
      await source?.stop().catch(() => {});
      if (options.keep) log(`kept ${workDir}`);
      else await removeTree(workDir).catch((e) => log(`could not remove ${workDir}: ${e}`));
    })();
  const onSignal = async () => {
    log("\ninterrupted: cleaning up");
    await cleanup();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const loadBefore = await loadAverage();
    log(`scratch: ${workDir} (${(free / 1e9).toFixed(1)} GB free); load average ${loadBefore}`);
    const machine = await machineInfo(workDir, loadBefore);
    let report: BenchReport | undefined;
    let serveReport: ServeReport | undefined;
    let buildReport: BuildReport | undefined;
    const command = "deno task bench" + (args.length ? ` ${args.join(" ")}` : "");
    // The save and serve parts read from a local registry; the build part needs none.
    if (options.save || options.serve) {
      source = await startBenchRegistry(join(workDir, "source"), workDir);
    }
    const ctx: BenchContext | undefined = source
      ? { deno: Deno.execPath(), repoRoot: REPO_ROOT, workDir, source }
      : undefined;
    // The serve part runs on the large set when it is among the scales.
    const serveScale: Scale = options.scales.includes("large") ? "large" : options.scales[0];
    let serveSet: ImageSet | undefined;
    if (options.save && ctx) {
      const startup = await startupCost();
      const skopeoStartupMs = await skopeoStartup();
      log(`ferry start-up: ${startup.wallMs.map((x) => fmtS(x / 1000)).join(", ")}`);
      const scales: ScaleReport[] = [];
      for (const scale of options.scales) {
        const measured = await measureScale(ctx, scale, options);
        scales.push(measured.report);
        if (scale === serveScale) serveSet = measured.set;
      }
      machine.loadAfter = await loadAverage();
      report = {
        machine,
        command,
        runs: options.runs,
        scales,
        startup,
        skopeoStartupMs,
        totalMs: performance.now() - started,
        quiet: { enabled: quietSettings.enabled, maxWaitMs: options.maxWaitMs, ...quietStats },
      };
      console.log(consoleReport(report));
    }
    if (options.serve && ctx) {
      if (!serveSet) {
        log(
          `\n== ${serveScale}: generating the images and pushing them to ${ctx.source.host} (untimed)`,
        );
        serveSet = await prepareSet(serveScale, workDir, ctx.source.host);
      }
      serveReport = await measureServe(ctx, serveSet, {
        runs: options.runs,
        diagnose: options.diagnose,
        command,
        log,
        machine,
      });
      console.log(serveConsoleReport(serveReport));
    }
    if (options.build) {
      const buildDir = join(workDir, "build");
      await Deno.mkdir(buildDir);
      buildReport = await measureBuild({
        size: buildBytes(options),
        files: 16,
        runs: options.runs,
        workDir: buildDir,
        command,
        repoRoot: REPO_ROOT,
        machine,
        log,
      });
      await removeTree(buildDir);
      console.log(buildSummaryLines(buildReport).join("\n"));
    }
    let discoveryReport: DiscoveryReport | undefined;
    if (options.discovery) {
      discoveryReport = await measureDiscovery({
        runs: options.runs,
        workDir,
        repoRoot: REPO_ROOT,
        command,
        machine,
        log,
      });
      console.log(discoverySummary(discoveryReport));
    }
    await writeResults(report, serveReport, buildReport, options, discoveryReport);
    return 0;
  } catch (err) {
    log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanup();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
