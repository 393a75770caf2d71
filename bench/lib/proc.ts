/**
 * Running programs under measurement: wall time from this process, CPU time and peak RSS from
 * GNU time (`/usr/bin/time`), CPU and peak RSS of long-running children from `/proc`, the CPU the
 * rest of the machine used meanwhile, and the order measured methods run in.
 *
 * @module
 */

/** What one measured program run cost, and what it printed. */
export interface TimedRun {
  /** Wall time from spawn to exit, in milliseconds. */
  wallMs: number;
  /** User CPU seconds (the program and the children it waited for). */
  userS: number;
  /** System CPU seconds. */
  sysS: number;
  /** Peak resident set size in KiB (the largest of the program and its waited-for children). */
  maxRssKiB: number;
  /** Exit code. */
  code: number;
  /** Standard output (at most {@link OUTPUT_LIMIT} characters, the rest dropped). */
  stdout: string;
  /** Standard error (same limit). */
  stderr: string;
}

/** A line a program printed and when, in ms since the spawn. */
export interface TimedLine {
  stream: "stdout" | "stderr";
  atMs: number;
  text: string;
}

/** Options of {@link timed}. */
export interface TimedOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Receives every output line with its arrival time (for phase timing). */
  onLine?: (line: TimedLine) => void;
  /** Wrap the program, e.g. `["perf", "record", "-o", "x", "--"]` (inside GNU time). */
  wrapper?: string[];
}

/** Output kept per stream; a debug trace of a large save stays well below it. */
export const OUTPUT_LIMIT = 8 * 1024 * 1024;

const GNU_TIME = "/usr/bin/time";
const TIME_FORMAT = "%e %U %S %M";

/** Parses the last line GNU time wrote with {@link TIME_FORMAT}. */
export function parseTimeOutput(text: string): { userS: number; sysS: number; maxRssKiB: number } {
  const lines = text.trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  const fields = last.trim().split(/\s+/).map(Number);
  if (fields.length !== 4 || fields.some((n) => !Number.isFinite(n))) {
    throw new Error(`unexpected output of ${GNU_TIME}: ${JSON.stringify(text)}`);
  }
  return { userS: fields[1], sysS: fields[2], maxRssKiB: fields[3] };
}

async function collect(
  stream: ReadableStream<Uint8Array>,
  name: "stdout" | "stderr",
  start: number,
  onLine?: (line: TimedLine) => void,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  let pending = "";
  for await (const chunk of stream) {
    const atMs = performance.now() - start;
    const piece = decoder.decode(chunk, { stream: true });
    if (text.length < OUTPUT_LIMIT) text += piece;
    if (!onLine) continue;
    pending += piece;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine({ stream: name, atMs, text: line });
  }
  if (onLine && pending) onLine({ stream: name, atMs: performance.now() - start, text: pending });
  return text.slice(0, OUTPUT_LIMIT);
}

/** Runs `program args…` under GNU time and measures it. Never throws on a non-zero exit. */
export async function timed(
  program: string,
  args: string[],
  options: TimedOptions = {},
): Promise<TimedRun> {
  const timeFile = await Deno.makeTempFile({ prefix: "ferry-bench-time-" });
  try {
    const start = performance.now();
    const child = new Deno.Command(GNU_TIME, {
      args: [
        "-f",
        TIME_FORMAT,
        "-o",
        timeFile,
        ...(options.wrapper ?? []),
        program,
        ...args,
      ],
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const [stdout, stderr, status] = await Promise.all([
      collect(child.stdout, "stdout", start, options.onLine),
      collect(child.stderr, "stderr", start, options.onLine),
      child.status,
    ]);
    const wallMs = performance.now() - start;
    const usage = parseTimeOutput(await Deno.readTextFile(timeFile));
    return { wallMs, ...usage, code: status.code, stdout, stderr };
  } finally {
    await Deno.remove(timeFile).catch(() => {});
  }
}

/** Like {@link timed}, but throws with the program's output unless it exits 0. */
export async function timedOk(
  program: string,
  args: string[],
  options: TimedOptions = {},
): Promise<TimedRun> {
  const result = await timed(program, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${program} ${args.slice(0, 6).join(" ")}… exited with ${result.code}:\n` +
        `${result.stderr.slice(-4000)}\n${result.stdout.slice(-2000)}`,
    );
  }
  return result;
}

/** Runs a program to completion and returns its standard output; throws unless it exits 0. */
export async function output(program: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(program, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${program} ${args.join(" ")} exited with ${out.code}: ${dec.decode(out.stderr)}`,
    );
  }
  return dec.decode(out.stdout);
}

let clockTicks: number | undefined;

async function ticksPerSecond(): Promise<number> {
  clockTicks ??= Number((await output("getconf", ["CLK_TCK"])).trim()) || 100;
  return clockTicks;
}

/** User plus system CPU seconds a running process has used so far (`/proc/<pid>/stat`). */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / await ticksPerSecond();
}

/** Peak resident set size of a running process in KiB (`VmHWM` in `/proc/<pid>/status`). */
export async function processPeakRssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : 0;
}

/**
 * CPU seconds the whole machine has spent busy so far (`/proc/stat`: everything but idle and
 * iowait), to tell how much CPU other processes took during a measurement.
 */
export async function machineBusySeconds(): Promise<number> {
  const stat = await Deno.readTextFile("/proc/stat");
  const fields = stat.slice(0, stat.indexOf("\n")).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / await ticksPerSecond();
}

/**
 * CPU the rest of the machine used while ours ran: the machine's busy seconds minus `ours`, never
 * below zero (the counters tick at 10 ms).
 */
export function otherCpuSeconds(busyS: number, ...ours: number[]): number {
  return Math.max(0, busyS - ours.reduce((a, b) => a + b, 0));
}

/**
 * `items` in the order of run `run` (from 1): run 1 in the given order, each later run starting one
 * further on, so that no method always runs first (on a warm or a cold machine).
 */
export function rotated<T>(items: readonly T[], run: number): T[] {
  const shift = (run - 1) % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** Runs `fn` over `items`, at most `width` at a time. */
export async function pool<T>(
  items: T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/**
 * Stops a server child: SIGTERM, then SIGKILL if it is still running after `graceMs`. Resolves
 * once `status` (the child's exit, output drained) has settled.
 */
export async function stopChild(
  child: Deno.ChildProcess,
  status: Promise<unknown>,
  graceMs: number,
): Promise<void> {
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // Exited meanwhile.
    }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), graceMs);
  try {
    await status;
  } finally {
    clearTimeout(timer);
  }
}

/** Lines a server child printed last, kept for the error when it does not come up. */
const KEPT_LINES = 200;

/**
 * Reads a child's output stream to its end, keeping its last lines in `keep`; calls `watch.found`
 * for each line matching `watch.pattern` (a server announcing its address).
 */
export async function keepLines(
  stream: ReadableStream<Uint8Array>,
  keep: string[],
  watch?: { pattern: RegExp; found: (m: RegExpExecArray) => void },
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      keep.push(line);
      if (keep.length > KEPT_LINES) keep.splice(0, keep.length - KEPT_LINES);
      const m = watch?.pattern.exec(line);
      if (m) watch!.found(m);
    }
  }
  if (pending) keep.push(pending);
}

/** A server child that announced its address. */
export interface ListeningChild {
  pid: number;
  /** The URL it printed (`Listening on <url>`). */
  url: string;
  /** SIGTERM, then SIGKILL after the grace time; resolves once it exited and its output drained. */
  stop(): Promise<void>;
}

/**
 * Spawns `program` with `args` in `cwd` and resolves once it prints `Listening on <url>` on its
 * standard output. When it exits first or says nothing of the kind within 30 s, it is stopped and
 * the error names `what` with its last lines of output.
 */
export async function spawnListening(options: {
  program: string;
  args: string[];
  cwd: string;
  what: string;
  /** Time between SIGTERM and SIGKILL when stopped (default 5 s). */
  graceMs?: number;
}): Promise<ListeningChild> {
  const child = new Deno.Command(options.program, {
    args: options.args,
    cwd: options.cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  let listening: (url: string) => void = () => {};
  const ready = new Promise<string>((resolve) => listening = resolve);
  const drained = Promise.all([
    keepLines(child.stdout, logs, {
      pattern: /^Listening on (http:\/\/\S+)/,
      found: (m) => listening(m[1]),
    }),
    keepLines(child.stderr, logs),
  ]);
  const status = child.status.then(async (s) => {
    await drained.catch(() => {});
    return s;
  });
  const stop = () => stopChild(child, status, options.graceMs ?? 5000);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const url = await Promise.race([
    ready,
    status.then(() => undefined),
    new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), 30_000)),
  ]);
  clearTimeout(timer);
  if (url === undefined) {
    await stop();
    throw new Error(`${options.what} did not come up; its output:\n${logs.join("\n")}`);
  }
  return { pid: child.pid, url, stop };
}
