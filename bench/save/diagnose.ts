/**
 * Where ferry's time goes, measured on extra runs that do not count towards the medians:
 *
 * - a traced run (`--debug --json` under V8's sampling profiler, see `lib/profile_main.ts`): requests by
 *   kind, phase boundaries from the timestamps of trace lines and events, and the JavaScript
 *   profile by function and by category;
 * - the same on the finished directory (the rerun);
 * - a run under `perf record` (when perf works here): CPU by thread and by binary, which also
 *   sees what V8 does not (Deno's Rust side, the kernel, file I/O threads); the same for the
 *   minimal Deno program (`floor.ts`), for comparison;
 * - a cost ladder: the same distinct blobs moved by curl and by the minimal Deno program, one step
 *   more each time (read and drop, hash, write, fsync), to price each step;
 * - system calls of a run and of start-up alone (`strace -c`, when strace works here).
 *
 * @module
 */
import { join } from "node:path";
import { digestHex } from "../../src/digest.ts";
import { removeTree } from "../../tests/support/mod.ts";
import { type BenchContext, type ImageSet, verifyRegistryDir } from "../lib/image_sets.ts";
import { PROFILE_MAIN, type ProfileSummary, readProfile } from "../lib/profile.ts";
import { output, type TimedLine, timedOk } from "../lib/proc.ts";
import { settle } from "../lib/quiet.ts";
import { FLOOR_STEPS, type FloorSteps } from "./floor.ts";
import { ferryArgs, FLOOR_SCRIPT, writeFloorJobs } from "./methods.ts";

/** Phase boundaries of one ferry run, in ms since the process was spawned. */
export interface Phases {
  /** First registry response (the `/v2/` ping): start-up is everything before it. */
  firstResponseMs?: number;
  /** First blob response: tags resolved and manifests read before it. */
  firstBlobMs?: number;
  /** Last blob stored. */
  lastBlobDoneMs?: number;
  /** The final `result` event. */
  resultMs?: number;
  /** Process exit. */
  exitMs: number;
}

/** What a traced ferry run did. */
export interface TraceSummary {
  wallMs: number;
  userS: number;
  sysS: number;
  maxRssKiB: number;
  /** Requests by `METHOD kind` (`GET blob`, `HEAD manifest`, `ping`). */
  requests: Record<string, number>;
  /** Blobs written, and blobs found already stored. */
  blobsCopied: number;
  blobsExisting: number;
  phases: Phases;
}

/** `perf` samples of one run, as CPU seconds. */
export interface PerfSummary {
  /** Sampling frequency used. */
  frequency: number;
  /** CPU seconds by thread name and binary. */
  threads: { thread: string; dso: string; seconds: number }[];
  /** Kernel functions with the most samples. */
  kernel: { thread: string; symbol: string; seconds: number }[];
}

/** One rung of the cost ladder. */
export interface LadderStep {
  step: string;
  /** Wall ms per run. */
  wallMs: number[];
  /** CPU seconds (user + system) per run. */
  cpuS: number[];
}

/** System call counts of one run (`strace -f -c`). */
export interface SyscallSummary {
  /** Calls and failed calls by system call. */
  calls: Record<string, { calls: number; errors: number }>;
  total: number;
}

/** Everything the diagnostic runs of one scale found. */
export interface Diagnosis {
  first: TraceSummary;
  firstProfile?: ProfileSummary;
  rerun: TraceSummary;
  rerunProfile?: ProfileSummary;
  perf?: PerfSummary;
  /** The same for `floor.ts`. */
  floorPerf?: PerfSummary;
  perfError?: string;
  ladder: LadderStep[];
  /** System calls of a whole run, and of `main.ts --version` (start-up alone). */
  syscalls?: { run: SyscallSummary; startup: SyscallSummary };
  syscallError?: string;
}

const REQUEST_RE = /^debug: (GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) -> (\d+)/;

function requestKind(url: string): string {
  if (/\/blobs\/uploads\//.test(url)) return "upload";
  if (/\/manifests\//.test(url)) return "manifest";
  if (/\/blobs\//.test(url)) return "blob";
  return "other";
}

/** Summarises the timestamped output of a `--debug --json` run. */
export function summarizeTrace(
  lines: TimedLine[],
  run: { wallMs: number; userS: number; sysS: number; maxRssKiB: number },
): TraceSummary {
  const requests: Record<string, number> = {};
  const phases: Phases = { exitMs: run.wallMs };
  let blobsCopied = 0;
  let blobsExisting = 0;
  const count = (key: string) => requests[key] = (requests[key] ?? 0) + 1;
  for (const line of lines) {
    if (line.stream === "stderr") {
      const m = REQUEST_RE.exec(line.text);
      if (/^debug: ping /.test(line.text)) {
        count("ping");
        phases.firstResponseMs ??= line.atMs;
      } else if (m) {
        const kind = requestKind(m[2]);
        count(`${m[1]} ${kind}`);
        phases.firstResponseMs ??= line.atMs;
        if (kind === "blob" && m[1] === "GET") phases.firstBlobMs ??= line.atMs;
      }
      continue;
    }
    let event: { type?: string; status?: string };
    try {
      event = JSON.parse(line.text);
    } catch {
      continue;
    }
    if (event.type === "blob-done") {
      if (event.status === "copied") {
        blobsCopied++;
        phases.lastBlobDoneMs = line.atMs;
      } else blobsExisting++;
    } else if (event.type === "result") {
      phases.resultMs = line.atMs;
    }
  }
  return {
    wallMs: run.wallMs,
    userS: run.userS,
    sysS: run.sysS,
    maxRssKiB: run.maxRssKiB,
    requests,
    blobsCopied,
    blobsExisting,
    phases,
  };
}

/** Parses `perf report --stdio -n` rows (`  12.34%   567  col1  col2 …`). */
export function parsePerfRows(text: string): { samples: number; columns: string[] }[] {
  const rows: { samples: number; columns: string[] }[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s+[\d.]+%\s+(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    rows.push({ samples: Number(m[1]), columns: m[2].trim().split(/\s{2,}/) });
  }
  return rows;
}

const PERF_FREQUENCY = 499;

async function perfWorks(): Promise<string | undefined> {
  try {
    await output("perf", ["record", "-q", "-F", "99", "-o", "/dev/null", "--", "true"]);
    return undefined;
  } catch (err) {
    return `perf unusable: ${(err as Error).message.split("\n")[0]}`;
  }
}

async function perfReport(data: string): Promise<PerfSummary> {
  const report = (sort: string, extra: string[] = []) =>
    output("perf", [
      "report",
      "-i",
      data,
      "--stdio",
      "--no-children",
      "-n",
      "--sort",
      sort,
      ...extra,
    ]);
  const threads = parsePerfRows(await report("comm,dso")).map((r) => ({
    thread: r.columns[0] ?? "?",
    dso: (r.columns[1] ?? "?").replace(/^\[JIT\] tid \d+$/, "[JIT]"),
    seconds: r.samples / PERF_FREQUENCY,
  }));
  const kernel = parsePerfRows(await report("comm,sym", ["--dsos", "[kernel.kallsyms]"]))
    .slice(0, 10)
    .map((r) => ({
      thread: r.columns[0] ?? "?",
      symbol: (r.columns[1] ?? "?").replace(/^\[k\]\s*/, ""),
      seconds: r.samples / PERF_FREQUENCY,
    }));
  return { frequency: PERF_FREQUENCY, threads, kernel };
}

async function tracedRun(
  ctx: BenchContext,
  set: ImageSet,
  out: string,
  profilePath: string,
): Promise<{ trace: TraceSummary; profile?: ProfileSummary }> {
  const lines: TimedLine[] = [];
  const result = await timedOk(ctx.deno, [
    "run",
    "-A",
    PROFILE_MAIN,
    profilePath,
    "--debug",
    ...ferryArgs(set, out).slice(0, 2),
    "--json",
    ...ferryArgs(set, out).slice(2),
  ], { cwd: ctx.repoRoot, env: { NO_COLOR: "1" }, onLine: (l) => lines.push(l) });
  const profile = await readProfile(profilePath, ctx.repoRoot);
  return { trace: summarizeTrace(lines, result), profile };
}

/** Parses the table `strace -c` writes. */
export function parseStraceSummary(text: string): SyscallSummary {
  const calls: SyscallSummary["calls"] = {};
  let total = 0;
  for (const line of text.split("\n")) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$/.exec(line);
    if (!m) continue;
    if (m[3] === "total") {
      total = Number(m[1]);
      continue;
    }
    calls[m[3]] = { calls: Number(m[1]), errors: Number(m[2] ?? 0) };
  }
  return { calls, total };
}

/**
 * Runs `deno run -A ARGS` in the checkout under a tracer `wrapper` that writes to `file` (in the
 * scratch directory), and returns what `read` makes of that file; the file is removed after.
 */
async function underTracer<T>(
  ctx: BenchContext,
  args: string[],
  name: string,
  wrapper: (file: string) => string[],
  read: (file: string) => Promise<T>,
): Promise<T> {
  const file = join(ctx.workDir, name);
  try {
    await settle();
    await timedOk(ctx.deno, ["run", "-A", ...args], {
      cwd: ctx.repoRoot,
      env: { NO_COLOR: "1" },
      wrapper: wrapper(file),
    });
    return await read(file);
  } finally {
    await removeTree(file);
  }
}

/** System calls of `deno run -A ARGS` in the checkout (`strace -f -c`). */
function underStrace(ctx: BenchContext, args: string[]): Promise<SyscallSummary> {
  return underTracer(
    ctx,
    args,
    "strace.txt",
    (file) => ["strace", "-f", "-c", "-o", file, "--"],
    async (file) => parseStraceSummary(await Deno.readTextFile(file)),
  );
}

async function straceWorks(): Promise<string | undefined> {
  try {
    await output("strace", ["-c", "-o", "/dev/null", "--", "true"]);
    return undefined;
  } catch (err) {
    return `strace unusable: ${(err as Error).message.split("\n")[0]}`;
  }
}

/** Runs `deno run -A ARGS` in the checkout under `perf record` and summarises the samples. */
function underPerf(ctx: BenchContext, args: string[]): Promise<PerfSummary> {
  return underTracer(
    ctx,
    args,
    "perf.data",
    (file) => ["perf", "record", "-q", "-F", String(PERF_FREQUENCY), "-o", file, "--"],
    perfReport,
  );
}

const FLOOR_LABELS: Record<FloorSteps, string> = {
  read: "Deno: fetch, bytes dropped",
  hash: "Deno: fetch + SHA-256",
  write: "Deno: fetch + SHA-256 + 1 MiB writes",
  all: "Deno: fetch + SHA-256 + writes + fsync + rename (minimal Deno)",
};

/** Prices each step of moving the set's distinct blobs, with curl and with a minimal Deno program. */
async function costLadder(ctx: BenchContext, set: ImageSet, runs: number): Promise<LadderStep[]> {
  const out = join(ctx.workDir, "dst-ladder");
  const jobs = join(ctx.workDir, "ladder-jobs.json");
  const urls = set.blobs.map((b) => `${ctx.source.url}/v2/${b.repository}/blobs/${b.digest}`);
  const files = set.blobs.map((b) => join(out, digestHex(b.digest)));
  const curl = async (targets: string[]) => {
    const args = ["-sS", "--fail"];
    urls.forEach((u, i) => args.push("-o", targets[i], u));
    const r = await timedOk("curl", args);
    return { wallMs: r.wallMs, cpuS: r.userS + r.sysS };
  };
  const steps: { step: string; run: () => Promise<{ wallMs: number; cpuS: number }> }[] = [
    { step: "curl → /dev/null", run: () => curl(urls.map(() => "/dev/null")) },
    { step: "curl → files", run: () => curl(files) },
    {
      step: "curl → files, then fsync them",
      run: async () => {
        const t0 = performance.now();
        const r = await curl(files);
        await output("sync", files);
        return { wallMs: performance.now() - t0, cpuS: r.cpuS };
      },
    },
    ...FLOOR_STEPS.map((steps) => ({
      step: FLOOR_LABELS[steps],
      run: async () => {
        const r = await timedOk(ctx.deno, ["run", "-A", FLOOR_SCRIPT, jobs, out, steps], {
          cwd: ctx.repoRoot,
        });
        return { wallMs: r.wallMs, cpuS: r.userS + r.sysS };
      },
    })),
  ];
  const results: LadderStep[] = steps.map((s) => ({ step: s.step, wallMs: [], cpuS: [] }));
  try {
    await writeFloorJobs(ctx, set, jobs);
    for (let run = 0; run < runs; run++) {
      for (const [i, s] of steps.entries()) {
        await removeTree(out);
        await Deno.mkdir(out, { recursive: true });
        await settle();
        const r = await s.run();
        results[i].wallMs.push(r.wallMs);
        results[i].cpuS.push(r.cpuS);
      }
    }
    return results;
  } finally {
    await removeTree(out);
    await removeTree(jobs);
  }
}

/** Runs the diagnostic runs of one scale (fresh directory, rerun, perf run). */
export async function diagnose(
  ctx: BenchContext,
  set: ImageSet,
  runs: number,
): Promise<Diagnosis> {
  const out = join(ctx.workDir, "dst-diagnose");
  const profilePath = join(ctx.workDir, "ferry.cpuprofile");
  const jobsPath = join(ctx.workDir, "diagnose-jobs.json");
  try {
    await removeTree(out);
    await settle();
    const first = await tracedRun(ctx, set, out, profilePath);
    await verifyRegistryDir(out, set, "ferry (traced)");
    await settle();
    const rerun = await tracedRun(ctx, set, out, profilePath);
    await removeTree(out);
    const diagnosis: Diagnosis = {
      first: first.trace,
      firstProfile: first.profile,
      rerun: rerun.trace,
      rerunProfile: rerun.profile,
      ladder: await costLadder(ctx, set, runs),
    };
    diagnosis.syscallError = await straceWorks();
    if (!diagnosis.syscallError) {
      const run = await underStrace(ctx, ["main.ts", ...ferryArgs(set, out)]);
      await removeTree(out);
      const startup = await underStrace(ctx, ["main.ts", "--version"]);
      diagnosis.syscalls = { run, startup };
    }
    diagnosis.perfError = await perfWorks();
    if (!diagnosis.perfError) {
      diagnosis.perf = await underPerf(ctx, ["main.ts", ...ferryArgs(set, out)]);
      await removeTree(out);
      await writeFloorJobs(ctx, set, jobsPath);
      diagnosis.floorPerf = await underPerf(ctx, [FLOOR_SCRIPT, jobsPath, out]);
    }
    return diagnosis;
  } finally {
    await removeTree(out);
    await removeTree(profilePath);
    await removeTree(jobsPath);
  }
}
