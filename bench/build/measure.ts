/**
 * `ferry build` and `ferry merge` benchmark (the `build` part of `deno task bench`): a context
 * whose `registry/` holds about 1 GiB of random data (the shape of a cluster image: big, already
 * compressed blobs), measured in one run against `tar -c registry | pigz` on the same tree.
 *
 * ```sh
 * deno task bench --only build                        # 1 GiB, 3 runs, writes its RESULTS.md section
 * deno run -A bench/build/measure.ts --size-mib 256   # standalone: prints the section
 * ```
 *
 * Standalone options: `--size-mib N` (registry data per context, default 1024), `--files N` (blob
 * files per context, default 16), `--runs N` (default 3), `--work-dir DIR` (scratch space, about
 * 6 × the size; default the system temp dir), `--keep`.
 *
 * Measured (wall time from spawn to exit; CPU and peak RSS of the whole process tree from GNU
 * time, worker threads included; page cache warm; dirty pages flushed and a quiet machine waited
 * for before each run):
 *
 * 1. per run, in an order rotated between runs: `tar -c -C CTX registry | pigz -6 > FILE` (the
 *    bytes a layer holds, with every core), `ferry build` of `FROM scratch` + `COPY registry
 *    ./registry` into an empty store with the default compression threads, and the same with
 *    `--compression-threads 1`;
 * 2. the same build again, `runs` times (unchanged context: the layer cache must make it cheap);
 * 3. a build of a second such context into the same store, then `ferry merge` of the two images,
 *    `runs` times.
 *
 * ferry runs as `deno run -A` with the V8 flags of main.ts's shebang, as it ships.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createCipheriv, randomBytes } from "node:crypto";
import { denoRunArgs, REPO_ROOT } from "../lib/ferry.ts";
import { type MachineInfo, timestamp } from "../lib/machine.ts";
import {
  machineBusySeconds,
  otherCpuSeconds,
  output,
  rotated,
  timedOk,
  type TimedRun,
} from "../lib/proc.ts";
import { quietSince, quietStats, settle } from "../lib/quiet.ts";
import { buildConsole, buildMarkdown, type BuildReport, type BuildRun } from "./report.ts";

const MIB = 1024 * 1024;

/** Options of {@link measureBuild}. */
export interface BuildBenchOptions {
  /** Registry data per context, bytes. */
  size: number;
  /** Blob files per context. */
  files: number;
  /** Runs of each measured method (at least 1; rebuilds and merges at least 3). */
  runs: number;
  /** Scratch directory (created inside, removed by the caller). */
  workDir: string;
  /** The command line, for the report. */
  command: string;
  /** The checkout holding main.ts. */
  repoRoot: string;
  machine?: MachineInfo;
  log: (line: string) => void;
}

/** Writes `size` random bytes (AES-CTR over zeros: fast and incompressible). */
async function randomFile(path: string, size: number): Promise<void> {
  const cipher = createCipheriv("aes-128-ctr", randomBytes(16), randomBytes(16));
  const zeros = new Uint8Array(4 * MIB);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let left = size; left > 0; left -= zeros.length) {
      const chunk = cipher.update(zeros.subarray(0, Math.min(left, zeros.length)));
      let at = 0;
      while (at < chunk.length) at += await file.write(chunk.subarray(at));
    }
  } finally {
    file.close();
  }
}

/** A context shaped like a saved registry: blob files plus small link files. */
async function makeContext(ctx: string, size: number, files: number): Promise<void> {
  const v2 = join(ctx, "registry/docker/registry/v2");
  for (let i = 0; i < files; i++) {
    const hex = Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, "0")).join("");
    const dir = join(v2, "blobs/sha256", hex.slice(0, 2), hex);
    await Deno.mkdir(dir, { recursive: true });
    await randomFile(join(dir, "data"), Math.floor(size / files));
    const link = join(v2, "repositories/bench/app/_layers/sha256", hex);
    await Deno.mkdir(link, { recursive: true });
    await Deno.writeTextFile(join(link, "link"), `sha256:${hex}`);
  }
  await Deno.writeTextFile(join(ctx, "Kubefile"), "FROM scratch\nCOPY registry ./registry\n");
}

/** Reads every file once, so that every measured run finds the tree in the page cache. */
async function warm(dir: string): Promise<void> {
  await output("sh", ["-c", `find "${dir}" -type f -exec cat {} + > /dev/null`]);
}

/** Settles the machine, then runs and measures; notes the CPU other processes used meanwhile. */
async function measured(run: number, fn: () => Promise<TimedRun>): Promise<BuildRun> {
  await settle();
  const busy = await machineBusySeconds();
  const r = await fn();
  const otherCpuS = otherCpuSeconds(await machineBusySeconds() - busy, r.userS, r.sysS);
  return {
    run,
    wallMs: r.wallMs,
    cpuS: r.userS + r.sysS,
    maxRssKiB: r.maxRssKiB,
    otherCpuS,
  };
}

/** Runs the build benchmark in `options.workDir`. */
export async function measureBuild(options: BuildBenchOptions): Promise<BuildReport> {
  const started = performance.now();
  const quietBefore = { ...quietStats };
  const { workDir: work, log, size, files } = options;
  const runs = Math.max(1, options.runs);
  const repeats = Math.max(3, runs);
  const ferryArgs = await denoRunArgs(options.repoRoot, { denoFlags: ["--quiet"] });
  const ferry = (args: string[]) =>
    timedOk(Deno.execPath(), [...ferryArgs, ...args], {
      cwd: options.repoRoot,
      env: { NO_COLOR: "1" },
    });
  const ctx1 = join(work, "ctx1");
  const ctx2 = join(work, "ctx2");
  const root = join(work, "root");
  log(`\n== build: generating 2 × ${size / MIB} MiB of random registry data (untimed)`);
  await makeContext(ctx1, size, files);
  await makeContext(ctx2, size, files);
  await warm(ctx1);
  await warm(ctx2);

  const build = (ctx: string, store: string, tag: string, extra: string[] = []) =>
    ferry(["build", "--root", store, "--save-image=false", ...extra, "-t", tag, ctx]);
  const pigz: BuildRun[] = [];
  const fresh: BuildRun[] = [];
  const single: BuildRun[] = [];
  const methods = ["pigz", "ferry", "ferry-1"] as const;
  const show = (what: string, r: BuildRun) =>
    log(
      `   ${what.padEnd(34)} ${(r.wallMs / 1000).toFixed(2).padStart(7)} s  cpu ${
        r.cpuS.toFixed(2)
      } s  rss ${(r.maxRssKiB / 1024).toFixed(0)} MiB  other cpu ${r.otherCpuS.toFixed(2)} s`,
    );
  for (let run = 1; run <= runs; run++) {
    for (const method of rotated(methods, run)) {
      if (method === "pigz") {
        const out = join(work, "pigz.tgz");
        const r = await measured(
          run,
          () => timedOk("sh", ["-c", `tar -c -C "${ctx1}" registry | pigz -6 > "${out}"`]),
        );
        await Deno.remove(out);
        pigz.push(r);
        show(`run ${run} tar | pigz`, r);
        continue;
      }
      // Each fresh build goes into an empty store; the last default one stays for the rest.
      const store = method === "ferry" ? root : join(work, "root-1");
      await Deno.remove(store, { recursive: true }).catch(() => {});
      const extra = method === "ferry" ? [] : ["--compression-threads", "1"];
      const r = await measured(run, () => build(ctx1, store, "bench:1", extra));
      (method === "ferry" ? fresh : single).push(r);
      show(`run ${run} ferry build${method === "ferry" ? "" : ", 1 thread"}`, r);
      if (method !== "ferry") await Deno.remove(store, { recursive: true });
    }
  }
  const rebuild: BuildRun[] = [];
  for (let run = 1; run <= repeats; run++) {
    const r = await measured(run, () => build(ctx1, root, "bench:1"));
    rebuild.push(r);
    show(`run ${run} ferry build again`, r);
  }
  const second = await measured(1, () => build(ctx2, root, "bench:2"));
  show("ferry build, second context", second);
  const merge: BuildRun[] = [];
  for (let run = 1; run <= repeats; run++) {
    const r = await measured(
      run,
      () => ferry(["merge", "--root", root, "-t", `bench:merged-${run}`, "bench:1", "bench:2"]),
    );
    merge.push(r);
    show(`run ${run} ferry merge`, r);
  }
  const pigzVersion = (await output("pigz", ["--version"]).catch(() => "pigz")).trim();
  return {
    date: timestamp(),
    command: options.command,
    machine: options.machine,
    ferryCommand: `deno ${[...ferryArgs, "build"].join(" ")}`,
    pigz: pigzVersion,
    bytes: Math.floor(size / files) * files,
    files,
    runs,
    results: { pigz, fresh, single, rebuild, second, merge },
    quiet: quietSince(quietBefore),
    totalMs: performance.now() - started,
  };
}

async function main(): Promise<void> {
  const args = parseArgs({
    args: Deno.args,
    options: {
      "size-mib": { type: "string", default: "1024" },
      files: { type: "string", default: "16" },
      runs: { type: "string", default: "3" },
      "work-dir": { type: "string" },
      keep: { type: "boolean", default: false },
    },
  });
  const work = await Deno.makeTempDir({
    dir: args.values["work-dir"],
    prefix: "ferry-bench-build-",
  });
  try {
    const report = await measureBuild({
      size: Number(args.values["size-mib"]) * MIB,
      files: Number(args.values.files),
      runs: Number(args.values.runs),
      workDir: work,
      command: `deno run -A bench/build/measure.ts${
        Deno.args.length ? " " + Deno.args.join(" ") : ""
      }`,
      repoRoot: REPO_ROOT,
      log: (line) => console.error(line),
    });
    console.error(buildConsole(report));
    console.log(buildMarkdown(report));
  } finally {
    if (!args.values.keep) await Deno.remove(work, { recursive: true }).catch(() => {});
    else console.error(`kept ${work}`);
  }
}

if (import.meta.main) await main();
