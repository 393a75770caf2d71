/**
 * Runs the ferry CLI as a user would: a separate process, real arguments, real exit code.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** What a ferry run printed and how it ended. */
export interface FerryRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link ferry}. */
export interface FerryRunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Text fed to standard input. */
  stdin?: string;
  /** Receives the child so a test can kill it. */
  onSpawn?: (child: Deno.ChildProcess) => void;
}

/** Runs `ferry ARGS…` and waits for it. */
export async function ferry(args: string[], options: FerryRunOptions = {}): Promise<FerryRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/root", ...options.env },
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
    stdin: options.stdin === undefined ? "null" : "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  options.onSpawn?.(child);
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
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
