/**
 * `ferry registry serve filesystem DIR` and `ferry registry serve inmem`: an OCI distribution
 * server over a registry directory (Sealos's `sealos registry serve`) or over memory.
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { isAbsolute, resolve } from "node:path";
import { errorMessage, FerryError } from "../errors.ts";
import { MemoryStore } from "../memory_store/mod.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import { Htpasswd, serveRegistry } from "../server/mod.ts";
import type { Store } from "../store.ts";
import type { Output } from "./output.ts";
import { parseBool } from "./parse.ts";

const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
/** How much the server says on stderr besides the access log. */
type LogLevel = typeof LOG_LEVELS[number];

const encoder = new TextEncoder();

/** A TCP port: 0 (any free port) to 65535. */
function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > 65535) {
    throw new FerryError("usage", `expected a port number (0-65535), got ${JSON.stringify(value)}`);
  }
  return n;
}

/** The flags both subcommands take. */
function serveCommand(name: string) {
  return new Command(name)
    .option("-p, --port <port>", "port to listen on (0: any free port, printed)", parsePort, 5000)
    .option(
      "--address <address>",
      "address to bind (0.0.0.0 or :: for every interface)",
      "127.0.0.1",
    )
    .option(
      "--htpasswd <file>",
      "require Basic authentication by the users of this bcrypt htpasswd file (htpasswd -B)",
    )
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (chain)")
    .option("--tls-key <file>", "PEM private key of --tls-cert")
    .option("--read-only", "refuse pushes (405 UNSUPPORTED)")
    .option("--enable-delete", "allow DELETE of manifests, tags and blobs")
    .option("--pid-file <file>", "write the process id here while serving")
    .option(
      "--disable-logging [bool]",
      "no access log on stderr (also --disable-logging=true|false)",
      parseBool,
    )
    .addOption(
      new Option("--log-level <level>", "messages besides the access log")
        .choices(LOG_LEVELS)
        .default("info" as LogLevel),
    );
}

type ServeFlags = ReturnType<ReturnType<typeof serveCommand>["opts"]>;

/** The `registry serve` command with its `filesystem` (`fs`) and `inmem` subcommands. */
export function registryServeCommand(output: (json?: boolean) => Output) {
  const serve = new Command("serve")
    .description(
      "serve images over the OCI distribution API (push and pull with skopeo, docker, containerd…)",
    )
    .addHelpText(
      "after",
      `
Examples:
  ferry registry serve filesystem ./registry                 # http://127.0.0.1:5000
  ferry registry serve inmem -p 0                            # empty, in memory, any free port`,
    );
  serve.addCommand(
    serveCommand("filesystem")
      .alias("fs")
      .description(
        "serve a registry directory (written by ferry registry save or by docker-registry); " +
          "pushes land in the same layout",
      )
      .argument("<dir>", "registry directory (docker-registry's rootdirectory)")
      .addHelpText(
        "after",
        `
Examples:
  ferry registry serve filesystem ./registry                 # http://127.0.0.1:5000
  ferry registry serve fs ./registry -p 0 --read-only        # any free port, pull only
  ferry registry serve fs ./registry --address 0.0.0.0 --htpasswd ./htpasswd \\
      --tls-cert server.crt --tls-key server.key`,
      )
      .action(async (dir, opts) => {
        await runServer({ kind: "filesystem", dir }, opts, output());
      }),
  );
  serve.addCommand(
    serveCommand("inmem")
      .description("serve an empty in-memory registry (contents are lost on exit)")
      .addHelpText(
        "after",
        `
Examples:
  ferry registry serve inmem                                 # http://127.0.0.1:5000
  ferry registry serve inmem -p 0 --disable-logging          # any free port, printed`,
      )
      .action(async (opts) => {
        await runServer({ kind: "inmem" }, opts, output());
      }),
  );
  return serve;
}

type Source = { kind: "filesystem"; dir: string } | { kind: "inmem" };

async function runServer(source: Source, opts: ServeFlags, out: Output): Promise<void> {
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
      accessLog: opts.disableLogging === true ? undefined : stderr,
      onError: (err, request) => {
        log("error", `${request.method} ${new URL(request.url).pathname}: ${errorMessage(err)}`);
        if (level >= LOG_LEVELS.indexOf("debug") || out.debugEnabled) {
          stderr(err instanceof Error ? err.stack ?? err.message : String(err));
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
    if (!isLoopback(server.addr.hostname) && !htpasswd) {
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

function stderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
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

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname.startsWith("127.");
}
