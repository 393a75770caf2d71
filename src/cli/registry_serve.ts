/**
 * `ferry registry serve filesystem DIR` and `ferry registry serve inmem`: an OCI distribution
 * server over a registry directory (Sealos's `sealos registry serve`) or over memory.
 *
 * This module defines the commands; what they do is in `./registry_serve_action.ts`, loaded when
 * one runs (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command, Option } from "./command/mod.ts";
import { FerryError } from "../errors.ts";
import type { Output } from "./output.ts";
import { parseBool, parsePositiveInt } from "./parse.ts";

/** The values of `--log-level`, least said first. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
/** How much the server says on stderr besides the access log. */
export type LogLevel = typeof LOG_LEVELS[number];

/** A TCP port: 0 (any free port) to 65535. */
function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > 65535) {
    throw new FerryError("usage", `expected a port number (0-65535), got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A positive number of seconds (fractions allowed), as milliseconds. */
function parseSeconds(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 86_400) {
    throw new FerryError(
      "usage",
      `expected a number of seconds (above 0, at most 86400), got ${JSON.stringify(value)}`,
    );
  }
  return Math.round(n * 1000);
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
    .option(
      "--max-connections <n>",
      "connections open at once; more are closed on arrival (logged)",
      parsePositiveInt,
      512,
    )
    .option(
      "--max-client-connections <n>",
      "connections open at once from one client address",
      parsePositiveInt,
      256,
    )
    .addOption(
      new Option(
        "--body-timeout <seconds>",
        "cut off (408) a request body that sends nothing for this long",
      ).argParser(parseSeconds).default(60_000, "60"),
    )
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

/** The parsed options of `registry serve filesystem` and `registry serve inmem`. */
export type ServeFlags = ReturnType<ReturnType<typeof serveCommand>["opts"]>;

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
        const out = output();
        const { runServer } = await import("./registry_serve_action.ts");
        await runServer({ kind: "filesystem", dir }, opts, out);
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
        const out = output();
        const { runServer } = await import("./registry_serve_action.ts");
        await runServer({ kind: "inmem" }, opts, out);
      }),
  );
  return serve;
}
