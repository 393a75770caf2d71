/**
 * What `ferry registry serve filesystem` and `ferry registry serve inmem` do once their command
 * lines are parsed. Loaded by the commands only when one runs, so that defining them (for parsing,
 * `--help` and completions) stays cheap.
 *
 * @module
 */
import { terminalSafe, type TerminalSafeOptions } from "../terminal_text.ts";
import { isAbsolute, resolve } from "../path.ts";
import { errorMessage, FerryError } from "../errors.ts";
import { MemoryStore } from "../memory_store/mod.ts";
import { isLoopback } from "../remote/mod.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import { Htpasswd, serveRegistry } from "../server/mod.ts";
import type { Store } from "../store.ts";
import type { Output } from "./output.ts";
import { LOG_LEVELS, type LogLevel, type ServeFlags } from "./registry_serve.ts";

const encoder = new TextEncoder();

/** What to serve: a registry directory or an empty registry in memory. */
export type Source = { kind: "filesystem"; dir: string } | { kind: "inmem" };

/** Serves `source` as `opts` say until SIGINT or SIGTERM. */
export async function runServer(source: Source, opts: ServeFlags, out: Output): Promise<void> {
  const level = LOG_LEVELS.indexOf(opts.logLevel as LogLevel);
  const log = (at: LogLevel, message: string) => {
    if (LOG_LEVELS.indexOf(at) <= level) stderr(`${at}: ${message}`);
  };
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw new FerryError("usage", "--tls-cert and --tls-key go together");
  }
  const htpasswd = opts.htpasswd === undefined ? undefined : await Htpasswd.load(opts.htpasswd);
  const tls = opts.tlsCert !== undefined && opts.tlsKey !== undefined
    ? { cert: await readText(opts.tlsCert), key: await readText(opts.tlsKey) }
    : undefined;
  const store: Store = source.kind === "filesystem"
    ? await RegistryDir.open(source.dir, { readOnly: opts.readOnly })
    : new MemoryStore();
  const pidFile = opts.pidFile === undefined
    ? undefined
    : isAbsolute(opts.pidFile)
    ? opts.pidFile
    : resolve(opts.pidFile);
  let signals: (() => void) | undefined;
  try {
    const server = await serveRegistry({
      store,
      hostname: opts.address,
      port: opts.port,
      tls,
      htpasswd,
      readOnly: opts.readOnly,
      allowDelete: opts.enableDelete,
      maxConnections: opts.maxConnections,
      maxClientConnections: opts.maxClientConnections,
      bodyTimeoutMs: opts.bodyTimeout,
      onLimit: ({ limit, max, remoteAddr }) =>
        log(
          "warn",
          limit === "connections"
            ? `connection limit reached (${max} open, --max-connections): ` +
              `closing new connections until one ends (first refused: ${remoteAddr.hostname})`
            : `client ${remoteAddr.hostname} has ${max} connections open ` +
              `(--max-client-connections): closing its new ones until one ends`,
        ),
      accessLog: opts.disableLogging === true ? undefined : stderr,
      onError: (err, request) => {
        log("error", `${request.method} ${new URL(request.url).pathname}: ${errorMessage(err)}`);
        if (level >= LOG_LEVELS.indexOf("debug") || out.debugEnabled) {
          stderr(err instanceof Error ? err.stack ?? err.message : String(err), { lines: true });
        }
      },
    });
    if (pidFile !== undefined) await writePidFile(pidFile);
    signals = onSignals(async (signal, count) => {
      if (count > 1) {
        log("warn", `${signal} again: exiting without waiting for requests in flight`);
        if (pidFile !== undefined) await Deno.remove(pidFile).catch(() => {});
        Deno.exit(130);
      }
      log("info", `${signal}: finishing requests in flight, then exiting`);
      await server.shutdown();
    }, (err) => log("error", `shutdown: ${errorMessage(err)}`));
    if (!isLoopback(new URL(server.url).host) && !htpasswd) {
      log("warn", `serving ${server.url} to the network without authentication (see --htpasswd)`);
    }
    out.print(
      `Listening on ${server.url} (${store.location}${opts.readOnly ? ", read-only" : ""})`,
    );
    await server.finished;
    log("info", "stopped");
  } finally {
    signals?.();
    if (pidFile !== undefined) await Deno.remove(pidFile).catch(() => {});
    await store.close();
  }
}

/** A log line on stderr, whatever a client put in it printed inert (see terminal_text.ts). */
function stderr(line: string, options: TerminalSafeOptions = {}): void {
  Deno.stderr.writeSync(encoder.encode(terminalSafe(line, options) + "\n"));
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    const code = err instanceof Deno.errors.NotFound ? "not_found" : "io";
    throw new FerryError(code, `${path}: ${errorMessage(err)}`, { cause: err });
  }
}

async function writePidFile(path: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, `${Deno.pid}\n`);
  } catch (err) {
    throw new FerryError("io", `${path}: cannot write pid file: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** Calls `fn` on SIGINT and SIGTERM with the number of signals so far; returns the remover. */
function onSignals(
  fn: (signal: Deno.Signal, count: number) => Promise<void>,
  onError: (err: unknown) => void,
): () => void {
  let count = 0;
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const listeners = signals.map((signal) => {
    const listener = () => void fn(signal, ++count).catch(onError);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}
