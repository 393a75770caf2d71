/**
 * ferry's command-line interface: a thin commander tree over the library.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. Expected failures print one line; stack traces
 * only under `--debug`.
 *
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { errorMessage, FerryError } from "../errors.ts";
import { completionsCommand } from "./completions.ts";
import { contextCommand } from "./context_images.ts";
import { Output } from "./output.ts";
import { registrySaveCommand } from "./registry_save.ts";
import { registryServeCommand } from "./registry_serve.ts";
import { copyCommand, registryCopyCommands } from "./copy.ts";
import { loginCommands } from "./login.ts";
import { imageCommands } from "./images.ts";
import { buildCommands } from "./build.ts";
import { VERSION } from "./version.ts";

/** Builds the command tree. `output` is created once the global flags are known. */
export function buildProgram(state: { output?: Output } = {}): Command {
  const program = new Command("ferry")
    .description(
      "build Sealos-style cluster images and carry container images into air-gapped sites",
    )
    .version(VERSION, "-v, --version")
    .option("--debug", "print stack traces and an HTTP trace (secrets removed)")
    .option("-q, --quiet", "print only results and errors")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `
Examples:
  ferry context images ./my-app                          # what a build of ./my-app would save
  ferry registry save --registry-dir ./my-app/registry ./my-app
  ferry copy docker://nginx:1.27 oci-archive:nginx.tar
  ferry registry serve filesystem ./registry             # serve a saved directory
  ferry COMMAND --help                                   # flags and examples of a command`,
    )
    .configureOutput({ outputError: (str, write) => write(str) })
    .exitOverride();

  const output = (json?: boolean) => {
    const g = program.opts();
    state.output ??= new Output({ json, quiet: g.quiet, debug: g.debug });
    return state.output;
  };

  program.addCommand(contextCommand(output));
  const registry = new Command("registry")
    .description("work with registries and registry directories")
    .addHelpText(
      "after",
      `
Examples:
  ferry registry save --images nginx:1.27,redis:7 --registry-dir ./registry
  ferry registry serve filesystem ./registry
  ferry registry sync ./registry registry.local:5000`,
    );
  registry.addCommand(registrySaveCommand(output));
  registry.addCommand(registryServeCommand(output));
  for (const cmd of registryCopyCommands(output)) registry.addCommand(cmd);
  program.addCommand(registry);
  program.addCommand(copyCommand(output));
  for (const cmd of loginCommands(output)) program.addCommand(cmd);
  for (const cmd of imageCommands(output)) program.addCommand(cmd);
  for (const cmd of buildCommands(output)) program.addCommand(cmd);
  program.addCommand(completionsCommand(() => program, output));

  for (const cmd of allCommands(program)) cmd.exitOverride();
  return program;
}

function allCommands(cmd: Command): Command[] {
  return [cmd, ...(cmd.commands as Command[]).flatMap((c) => allCommands(c))];
}

/** Runs ferry with `args` (without the program name); resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const state: { output?: Output } = {};
  const program = buildProgram(state);
  const debug = args.includes("--debug");
  try {
    await program.parseAsync(args, { from: "user" });
    state.output?.finish();
    return 0;
  } catch (err) {
    state.output?.finish();
    if (state.output?.json && !(err instanceof CommanderError)) {
      // Scripts reading --json see the failure too, not only the line on stderr.
      state.output.emit({
        type: "error",
        code: err instanceof FerryError ? err.code : "internal",
        message: errorMessage(err).split("\n")[0],
      });
    }
    return report(err, debug);
  }
}

function report(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    // help and version "errors" are successful exits; the message was already printed.
    if (
      err.code === "commander.helpDisplayed" || err.code === "commander.version" ||
      err.code === "commander.help"
    ) return 0;
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof FerryError) {
    console.error(`ferry: ${err.message}`);
    if (debug) console.error(err.stack);
    return err.exitCode;
  }
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    const msg = errorMessage(err).split("\n")[0];
    console.error(`ferry: missing permission: ${msg}`);
    if (debug) console.error((err as Error).stack);
    return 1;
  }
  console.error(`ferry: ${errorMessage(err).split("\n")[0]}`);
  if (debug) console.error(err instanceof Error ? err.stack : err);
  else console.error("(run with --debug for details)");
  return 1;
}
