/**
 * The discovery benchmark (`deno task bench --only discovery`): `ferry context images` over a
 * generated 10 MB `manifests/` set (`manifests.ts`), against the same command on an empty context
 * (start-up). The figure is seconds per MB of manifests beyond start-up.
 *
 * `report.ts` turns the result into the console line and the `## context images (discovery)`
 * section of bench/RESULTS.md.
 *
 * @module
 */
import { join } from "node:path";
import { type MachineInfo, timestamp } from "../lib/machine.ts";
import { timedOk } from "../lib/proc.ts";
import { fmtS, median } from "../lib/report.ts";
import { generateManifests } from "./manifests.ts";

/** What {@link measureDiscovery} measured. */
export interface DiscoveryReport {
  date: string;
  command: string;
  machine?: MachineInfo;
  /** Bytes of the generated manifests. */
  bytes: number;
  /** Files and YAML documents generated. */
  files: number;
  documents: number;
  /** Images `context images` listed (saved and referenced). */
  images: number;
  /** Wall time of each run over the set, and over an empty context, ms. */
  setMs: number[];
  emptyMs: number[];
  /** CPU time (user + system) of the same runs, s. */
  setCpuS: number[];
  emptyCpuS: number[];
  /** Median wall seconds per MB (10^6 bytes) beyond start-up. */
  secondsPerMB: number;
  /**
   * Median CPU seconds per MB beyond start-up: on a machine shared with other work, the figure
   * that load does not inflate; the target is checked on it.
   */
  cpuSecondsPerMB: number;
}

/** Options of {@link measureDiscovery}. */
export interface DiscoveryBenchOptions {
  /** Bytes of manifests to generate (10 MB by default). */
  bytes?: number;
  runs: number;
  workDir: string;
  repoRoot: string;
  command: string;
  machine?: MachineInfo;
  log: (line: string) => void;
}

/** Generates the set and times `ferry context images` over it and over an empty context. */
export async function measureDiscovery(options: DiscoveryBenchOptions): Promise<DiscoveryReport> {
  const bytes = options.bytes ?? 10_000_000;
  const setDir = join(options.workDir, "discovery-set");
  const emptyDir = join(options.workDir, "discovery-empty");
  await Deno.mkdir(emptyDir, { recursive: true });
  const generated = await generateManifests(setDir, bytes);
  options.log(
    `\n== discovery: ${generated.files} files, ${generated.documents} documents, ` +
      `${(generated.bytes / 1e6).toFixed(1)} MB of manifests`,
  );
  const ferry = (dir: string) =>
    timedOk(Deno.execPath(), ["run", "-A", "main.ts", "context", "images", "--json", dir], {
      cwd: options.repoRoot,
    });
  // One untimed run warms the module cache.
  const warm = await ferry(setDir);
  const snapshot = JSON.parse(warm.stdout);
  const images = snapshot.images.length + snapshot.referenced.length;
  const setMs: number[] = [];
  const emptyMs: number[] = [];
  const setCpuS: number[] = [];
  const emptyCpuS: number[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const empty = await ferry(emptyDir);
    const set = await ferry(setDir);
    emptyMs.push(empty.wallMs);
    setMs.push(set.wallMs);
    emptyCpuS.push(empty.userS + empty.sysS);
    setCpuS.push(set.userS + set.sysS);
    options.log(
      `run ${run}: set ${fmtS(setMs.at(-1)! / 1000)}, empty ${fmtS(emptyMs.at(-1)! / 1000)}`,
    );
  }
  const mb = generated.bytes / 1e6;
  const secondsPerMB = (median(setMs) - median(emptyMs)) / 1000 / mb;
  const cpuSecondsPerMB = (median(setCpuS) - median(emptyCpuS)) / mb;
  await Deno.remove(setDir, { recursive: true });
  await Deno.remove(emptyDir, { recursive: true });
  return {
    date: timestamp(),
    command: options.command,
    ...(options.machine ? { machine: options.machine } : {}),
    ...generated,
    images,
    setMs,
    emptyMs,
    setCpuS,
    emptyCpuS,
    secondsPerMB,
    cpuSecondsPerMB,
  };
}
