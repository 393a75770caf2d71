/**
 * The machine a benchmark ran on: CPUs, memory, kernel, the versions of deno and the peers, the
 * scratch filesystem and the load, as every section of bench/RESULTS.md names them.
 *
 * @module
 */
import { requirePeer } from "../../tests/support/mod.ts";
import { output } from "./proc.ts";

/** The machine and programs a run was measured on. */
export interface MachineInfo {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  deno: string;
  skopeo: string;
  registry: string;
  curl: string;
  /** Where the registries and destinations lived, and its filesystem. */
  workDir: string;
  filesystem: string;
  loadBefore: string;
  loadAfter: string;
}

/** Now, to the second, as reports print dates (`2026-12-07T14:38:56Z`). */
export function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

/** The 1, 5 and 15 minute load averages. */
export async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

/** Bytes free on the filesystem holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const text = await output("df", ["-Pk", dir]);
  const fields = text.trim().split("\n").pop()!.trim().split(/\s+/);
  return Number(fields[3]) * 1024;
}

/** Describes this machine, with `workDir` as scratch space; `loadAfter` is filled in later. */
export async function machineInfo(workDir: string, loadBefore: string): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const firstLine = (s: string) => s.trim().split("\n")[0];
  // The build and discovery parts need neither peer: name them only when present.
  const version = (name: "skopeo" | "docker-registry") =>
    output(requirePeer(name), ["--version"]).then(firstLine, () => `${name}: not found`);
  const df = (await output("df", ["-PTh", workDir])).trim().split("\n").pop()!.split(/\s+/);
  return {
    date: timestamp(),
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

/**
 * One line naming the machine for a section of RESULTS.md; `programs` are the peers the benchmark
 * used (e.g. `[m.skopeo, m.registry]`).
 */
export function machineLine(m: MachineInfo, programs: string[] = []): string {
  return `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${
    m.memoryGiB.toFixed(1)
  } GiB memory, Linux ${m.kernel}; ${
    [m.deno.split(" (")[0], ...programs].join("; ")
  }; scratch space ${m.filesystem}.`;
}
