/**
 * Runs the ferry CLI as a user would: a separate process, real arguments, real exit code. The one
 * CLI runner of the tests, with the one check that a run succeeded ({@link ok}).
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** What a ferry run printed and how it ended. */
export interface FerryRun {
  /** The arguments ferry was run with. */
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link ferry} and {@link spawnFerry}. */
export interface FerryRunOptions {
  /** Extra environment (`NO_COLOR=1` and `HOME` are set unless given here). */
  env?: Record<string, string>;
  cwd?: string;
  /** Text fed to standard input. */
  stdin?: string;
  /** Receives the child so a test can kill it. */
  onSpawn?: (child: Deno.ChildProcess) => void;
}

/**
 * Starts `ferry ARGS…` and returns at once: stdout and stderr piped (stderr discarded with
 * `stderr: "null"`), stdin piped only when `stdin` is `"piped"`. For runs a test reads while they
 * go (a server's first line, a save killed part-way).
 */
export function spawnFerry(
  args: string[],
  options: Omit<FerryRunOptions, "stdin" | "onSpawn"> & {
    stdin?: "piped" | "null";
    stderr?: "piped" | "null";
  } = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/root", ...options.env },
    cwd: options.cwd,
    stdout: "piped",
    stderr: options.stderr ?? "piped",
    stdin: options.stdin ?? "null",
  }).spawn();
}

/** Runs `ferry ARGS…` and waits for it. */
export async function ferry(args: string[], options: FerryRunOptions = {}): Promise<FerryRun> {
  const child = spawnFerry(args, {
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
  });
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  options.onSpawn?.(child);
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    args,
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/**
 * Asserts that a run exited 0 and returns it; the failure message names the run (`what`, or the
 * command line) and shows what it printed.
 */
export function ok(run: FerryRun, what?: string): FerryRun {
  const printed = [run.stderr, run.stdout].filter((t) => t.trim() !== "").join("\n");
  assert.equal(
    run.code,
    0,
    `${what ?? `ferry ${run.args.join(" ")}`} failed (exit ${run.code}):\n${printed}`,
  );
  return run;
}

/** Writes an auth file holding `user:password` for `host` and returns its path. */
export async function writeAuthFile(
  dir: string,
  host: string,
  user: string,
  password: string,
): Promise<string> {
  const path = `${dir}/auth.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({ auths: { [host]: { auth: btoa(`${user}:${password}`) } } }),
  );
  return path;
}

/** Every file under `dir`, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string) {
    for await (const e of Deno.readDir(`${dir}/${rel}`)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(path);
      else out.push(path);
    }
  }
  await walk("");
  return out.sort();
}
