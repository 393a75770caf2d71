/**
 * `deno task bench`: the benchmarks of ferry, each in its own folder over the shared `lib/`:
 *
 * - `save/`: `ferry registry save` against the Sealos method (empty docker-registry + `skopeo
 *   copy` per image) and raw HTTP-to-disk, on loopback, at two scales;
 * - `serve/`: `ferry registry serve` against docker-registry, skopeo pulling and pushing the large
 *   set;
 * - `build/`: `ferry build` and `ferry merge` of a 1 GiB registry context against `tar | pigz`;
 * - `discovery/`: `ferry context images` over 10 MB of generated manifests;
 * - `delta/`: `ferry save --base` of a generated 1.0 → 1.1 pair (20 images, 2 changed), as plain
 *   image sets and as cluster images, and the load at the site;
 * - `wan/`: `ferry registry save` against skopeo through a userspace WAN link (40 ms round trip,
 *   200 Mbit/s), with and without a token per repository.
 *
 * Each folder's `measure.ts` runs its benchmark and returns a report; its `report.ts` turns that
 * into the console summary, the targets and its section of RESULTS.md. `lib/` holds what they
 * share: running and measuring programs (`proc.ts`), the quiet-machine wait (`quiet.ts`), the
 * docker-registry and image sets (`registry.ts`, `image_sets.ts`), ferry as it ships
 * (`ferry.ts`), the machine (`machine.ts`), CPU profiles (`profile.ts`), report tables
 * (`report.ts`) and RESULTS.md sections (`results_section.ts`).
 *
 * ```sh
 * deno task bench                       # all, both scales, 3 runs each, writes bench/RESULTS.md
 * deno task bench --scale small --runs 1
 * deno task bench --keep                # keep the scratch directory (source registry data)
 * deno task bench --only serve          # only the registry serve part
 * deno task bench --only build          # only the build part
 * deno task bench --only discovery      # only context discovery over 10 MB of manifests
 * deno task bench --only delta          # only the differential export of a 1.0 → 1.1 pair
 * deno task bench --only wan            # only registry save through the WAN link
 * ```
 *
 * Options: `--scale small|large|both` (default both), `--runs N` (default 3), `--keep`,
 * `--work-dir DIR` (scratch space, default the system temp dir; the large scale needs about
 * 8 GB, the build part about 6.5 GB), `--no-diagnose` (skip the traced, profiled and perf runs),
 * `--results FILE` (default `bench/RESULTS.md`), `--max-wait S` (wait at most S seconds for a
 * quiet machine before each measurement, default 60; 0 does not wait),
 * `--only save|serve|build|discovery|delta|wan` (one part; default all), `--wan-baseline DIR` (the
 * WAN part also runs the ferry of another checkout, e.g. a worktree of the previous release, side
 * by side). The serve part runs on the large set (on the small one with `--scale small`); the build
 * part on 1 GiB of registry data (128 MiB with `--scale small`).
 *
 * RESULTS.md holds one `## ` section per benchmark, each rewritten on its own: the save section
 * when both scales were saved, the serve section when the large set was served, the build section
 * when the 1 GiB context was built, the discovery, delta and WAN sections whenever they ran (each
 * always with `--results`); a section that did not run stays as it was, and so does the hand-written analysis
 * of each. The raw figures go to `bench/out/<part>.json`.
 *
 * Everything started is stopped and the scratch directory removed at the end, also on failure or
 * Ctrl-C.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { removeTree, requirePeer } from "../tests/support/mod.ts";
import { measureBuild } from "./build/measure.ts";
import { BUILD_SECTION, buildConsole, buildMarkdown } from "./build/report.ts";
import { measureDelta } from "./delta/measure.ts";
import { DELTA_SECTION, deltaConsole, deltaMarkdown } from "./delta/report.ts";
import { measureDiscovery } from "./discovery/measure.ts";
import { DISCOVERY_SECTION, discoveryConsole, discoveryMarkdown } from "./discovery/report.ts";
import { REPO_ROOT } from "./lib/ferry.ts";
import { type BenchContext, type ImageSet, type Scale, SCALES } from "./lib/image_sets.ts";
import { freeBytes, loadAverage, machineInfo } from "./lib/machine.ts";
import { output } from "./lib/proc.ts";
import { quietSettings } from "./lib/quiet.ts";
import { type BenchRegistry, startBenchRegistry } from "./lib/registry.ts";
import type { ResultsSection } from "./lib/results_section.ts";
import { measureSave, pushSet } from "./save/measure.ts";
import { SAVE_SECTION, saveConsole, saveMarkdown } from "./save/report.ts";
import { measureServe, stopServeServers } from "./serve/measure.ts";
import { SERVE_SECTION, serveConsole, serveMarkdown } from "./serve/report.ts";
import { measureWan } from "./wan/measure.ts";
import { WAN_SECTION, wanConsole, wanMarkdown } from "./wan/report.ts";

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
  /** Run the differential export part. */
  delta: boolean;
  /** Run the WAN part. */
  wan: boolean;
  /** Another ferry checkout the WAN part measures beside this one. */
  wanBaseline?: string;
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
      "wan-baseline": { type: "string" },
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
  const parts = ["save", "serve", "build", "discovery", "delta", "wan"];
  if (only !== undefined && !parts.includes(only)) {
    throw new Error(
      `--only must be save, serve, build, discovery, delta or wan, not ${JSON.stringify(only)}`,
    );
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
    delta: only === undefined || only === "delta",
    wan: only === undefined || only === "wan",
    wanBaseline: values["wan-baseline"],
  };
}

function log(line: string): void {
  console.error(line);
}

/** What RESULTS.md starts with when it does not exist yet. */
const RESULTS_HEADER = `# ferry benchmarks

\`deno task bench\` measures ferry against the tools it replaces, one section per benchmark
(\`bench/run.ts\` says how to run each). A run rewrites its section: the latest figures, the command
that produced them, the machine and the date; the analysis between each section's markers is
written by hand and kept. Earlier figures and analyses are in git: \`git log -p bench/RESULTS.md\`.
`;

/** One benchmark's outcome, as {@link writeResults} writes it. */
interface PartResult {
  /** The raw figures' file name under `bench/out/`. */
  json: string;
  report: unknown;
  /** The section of RESULTS.md the benchmark owns. */
  section: ResultsSection;
  /** The section's text, with the analysis kept from the file. */
  markdown: (analysis: string | undefined) => string;
  /** Whether the figures replace the section (a smaller run than the committed one does not). */
  write: boolean;
}

/**
 * A finished part: prints `console` of the report and returns what {@link writeResults} needs,
 * `markdown` being the part's section of RESULTS.md.
 */
function finished<R>(
  json: string,
  report: R,
  show: {
    section: ResultsSection;
    console: (report: R) => string;
    markdown: (report: R, analysis: string | undefined) => string;
  },
  write: boolean,
): PartResult {
  console.log(show.console(report));
  return {
    json,
    report,
    section: show.section,
    markdown: (analysis) => show.markdown(report, analysis),
    write,
  };
}

/**
 * Writes each part's raw figures to `bench/out/` and its section of RESULTS.md (`--results FILE`
 * instead) when it should; every other section of the file stays as it is.
 */
async function writeResults(parts: PartResult[], options: BenchOptions): Promise<void> {
  const outDir = join(REPO_ROOT, "bench", "out");
  await Deno.mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const part of parts) {
    const json = join(outDir, part.json);
    await Deno.writeTextFile(json, JSON.stringify(part.report, null, 2) + "\n");
    written.push(json);
  }
  const sections = parts.filter((p) => p.write);
  if (sections.length === 0) {
    log("\n(only part of the benchmark ran: RESULTS.md left alone; --results FILE writes one)");
    return;
  }
  const path = options.results ?? join(REPO_ROOT, "bench", "RESULTS.md");
  const existing = await Deno.readTextFile(path).catch(() => undefined);
  let doc = existing ?? RESULTS_HEADER;
  for (const { section, markdown } of sections) {
    doc = section.replace(doc, markdown(section.keptAnalysis(existing)));
  }
  await Deno.writeTextFile(path, doc);
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
  quietSettings.enabled = options.maxWaitMs > 0;
  quietSettings.maxWaitMs = options.maxWaitMs;
  if (options.save || options.serve || options.wan) {
    requirePeer("skopeo");
    requirePeer("docker-registry");
  }
  const base = options.workDir ?? Deno.env.get("TMPDIR") ?? "/tmp";
  const registryNeed = !options.save && !options.serve
    ? (options.wan ? 0.5e9 : 0)
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
    const command = "deno task bench" + (args.length ? ` ${args.join(" ")}` : "");
    const parts: PartResult[] = [];
    // The save, serve and WAN parts read from a local registry; the others need none.
    if (options.save || options.serve || options.wan) {
      source = await startBenchRegistry(join(workDir, "source"), workDir);
    }
    const ctx: BenchContext | undefined = source
      ? { deno: Deno.execPath(), repoRoot: REPO_ROOT, workDir, source }
      : undefined;
    // The serve part runs on the large set when it is among the scales.
    const serveScale: Scale = options.scales.includes("large") ? "large" : options.scales[0];
    let serveSet: ImageSet | undefined;
    if (options.save && ctx) {
      const { report, sets } = await measureSave(ctx, {
        scales: options.scales,
        runs: options.runs,
        diagnose: options.diagnose,
        command,
        machine,
        log,
      });
      serveSet = sets.get(serveScale);
      const show = { section: SAVE_SECTION, console: saveConsole, markdown: saveMarkdown };
      const whole = options.scales.length === SCALES.length;
      parts.push(finished("results.json", report, show, options.results !== undefined || whole));
    }
    if (options.serve && ctx) {
      serveSet ??= await pushSet(ctx, serveScale, log);
      const report = await measureServe(ctx, serveSet, {
        runs: options.runs,
        diagnose: options.diagnose,
        command,
        log,
        machine,
      });
      const show = { section: SERVE_SECTION, console: serveConsole, markdown: serveMarkdown };
      const whole = report.scale === "large";
      parts.push(finished("serve.json", report, show, options.results !== undefined || whole));
    }
    if (options.build) {
      const buildDir = join(workDir, "build");
      await Deno.mkdir(buildDir);
      const report = await measureBuild({
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
      const show = { section: BUILD_SECTION, console: buildConsole, markdown: buildMarkdown };
      const whole = report.bytes >= 1024 * 1024 * 1024;
      parts.push(finished("build.json", report, show, options.results !== undefined || whole));
    }
    if (options.discovery) {
      const report = await measureDiscovery({
        runs: options.runs,
        workDir,
        repoRoot: REPO_ROOT,
        command,
        machine,
        log,
      });
      const show = {
        section: DISCOVERY_SECTION,
        console: discoveryConsole,
        markdown: discoveryMarkdown,
      };
      parts.push(finished("discovery.json", report, show, true));
    }
    if (options.delta) {
      const report = await measureDelta({
        workDir,
        repoRoot: REPO_ROOT,
        command,
        machine,
        log,
      });
      const show = { section: DELTA_SECTION, console: deltaConsole, markdown: deltaMarkdown };
      parts.push(finished("delta.json", report, show, true));
    }
    if (options.wan && ctx) {
      const report = await measureWan(ctx, {
        runs: options.runs,
        command,
        machine,
        log,
        baseline: options.wanBaseline,
      });
      const show = { section: WAN_SECTION, console: wanConsole, markdown: wanMarkdown };
      parts.push(finished("wan.json", report, show, true));
    }
    await writeResults(parts, options);
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
