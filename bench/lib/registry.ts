/**
 * A docker-registry (the CNCF distribution registry) for the benchmark: like the test harness's,
 * but it exposes the process id, so the benchmark can charge the registry's CPU time and memory to
 * the method that used it, and it polls readiness tightly, so its start-up time is measured fairly.
 *
 * @module
 */
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort, requirePeer } from "../../tests/support/mod.ts";
import { keepLines, processCpuSeconds, processPeakRssKiB, stopChild } from "./proc.ts";

/** A started registry server (docker-registry, or ferry's when the serve benchmark runs it). */
export interface BenchRegistry {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The registry's process id. */
  readonly pid: number;
  /** Storage root. */
  readonly root: string;
  /** CPU seconds (user + system) the registry has used so far. */
  cpuSeconds(): Promise<number>;
  /** Peak RSS of the registry so far, in KiB. */
  peakRssKiB(): Promise<number>;
  /** Kills the registry and waits for it (the root stays). */
  stop(): Promise<void>;
}

async function waitReady(
  url: string,
  deadline: number,
  exited: () => boolean,
  ready = 200,
): Promise<boolean> {
  while (Date.now() < deadline && !exited()) {
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === ready) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

/**
 * A started server child at `url` serving `root`, its CPU and memory read from `/proc/<pid>`;
 * `stop` ends it.
 */
export function serverChild(
  pid: number,
  url: string,
  root: string,
  stop: () => Promise<void>,
): BenchRegistry {
  return {
    host: new URL(url).host,
    url,
    pid,
    root,
    cpuSeconds: () => processCpuSeconds(pid),
    peakRssKiB: () => processPeakRssKiB(pid),
    stop,
  };
}

/**
 * Starts `docker-registry serve` on a free 127.0.0.1 port with storage in `root` (created when
 * missing), writing its config into `configDir`. Access logs are off, as in a quiet production
 * setup; uploads are not purged. `auth` is the config's `auth` section (e.g. `{ token: {…} }`):
 * such a registry is ready when `/v2/` answers 401.
 */
export async function startBenchRegistry(
  root: string,
  configDir: string,
  auth?: Record<string, unknown>,
): Promise<BenchRegistry> {
  const program = requirePeer("docker-registry");
  await Deno.mkdir(root, { recursive: true });
  const deadline = Date.now() + 15_000;
  let logs: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const configPath = join(configDir, `registry-${port}.yml`);
    await Deno.writeTextFile(
      configPath,
      stringify({
        version: 0.1,
        log: { level: "warn", formatter: "text", accesslog: { disabled: true } },
        storage: {
          filesystem: { rootdirectory: root },
          delete: { enabled: true },
          maintenance: { uploadpurging: { enabled: false } },
        },
        http: { addr: `127.0.0.1:${port}`, secret: "ferry-bench-http-secret" },
        ...(auth ? { auth } : {}),
      }),
    );
    const child = new Deno.Command(program, {
      args: ["serve", configPath],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    logs = [];
    const drained = Promise.all([keepLines(child.stdout, logs), keepLines(child.stderr, logs)]);
    let exited = false;
    const status = child.status.then(async (s) => {
      exited = true;
      await drained.catch(() => {});
      return s;
    });
    const url = `http://127.0.0.1:${port}`;
    const stop = async () => {
      await stopChild(child, status, 5000);
      await Deno.remove(configPath).catch(() => {});
    };
    if (await waitReady(url, deadline, () => exited, auth ? 401 : 200)) {
      return serverChild(child.pid, url, root, stop);
    }
    await stop();
    if (!/address already in use/i.test(logs.join("\n"))) break;
  }
  throw new Error(`docker-registry did not come up; its output:\n${logs.join("\n").trim()}`);
}
