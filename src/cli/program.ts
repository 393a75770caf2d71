/**
 * The ferry command tree, assembled from the command modules a command line needs, and the run of
 * one command line.
 *
 * Loading code is most of ferry's start-up time, so it happens in two stages. {@link main} loads
 * only the command modules defining the command its arguments name; `--version` loads none.
 * Top-level help, `help`, `completions` and a mistyped command show the whole tree and load every
 * command module. A command module only defines its commands (names, flags, defaults, help): it
 * imports nothing heavier than `./command/` and the option parsers, and its actions import their
 * `*_action.ts` sibling (with the registry client, server, builder, archive code and the npm
 * packages behind them) when they run, so `--help` and completions load no implementation.
 * {@link assembleProgram} builds the tree from whichever modules it is given, so a partial tree
 * holds exactly the commands, flags and help of the whole one.
 *
 * This module imports command modules only dynamically: `deno bundle` inlines them into the one
 * bundle file, where they are evaluated on first use. `deno run` loads them only then too
 * (deno.json's `lazy-dynamic-imports`; by default it would read and parse every module any dynamic
 * import reaches before the first line runs).
 *
 * @module
 */
import { terminalSafe } from "../terminal_text.ts";
import { type AnyCommand, Command } from "./command/mod.ts";
import { errorMessage, FerryError } from "../errors.ts";
import { completionsCommand } from "./completions.ts";
import { Output } from "./output.ts";
import { VERSION } from "./version.ts";

/** The command modules, named by the commands they define. */
export interface CommandModules {
  /** `context images`. */
  context: typeof import("./context_images.ts");
  /** `registry save`. */
  registrySave: typeof import("./registry_save.ts");
  /** `registry serve`. */
  registryServe: typeof import("./registry_serve.ts");
  /** `registry verify`. */
  registryVerify: typeof import("./registry_verify.ts");
  /** `registry ls-blobs`. */
  registryLsBlobs: typeof import("./registry_ls_blobs.ts");
  /** `registry gc`. */
  registryGc: typeof import("./registry_gc.ts");
  /** `copy`, `registry copy` and `registry sync`. */
  copy: typeof import("./copy.ts");
  /** `verify`. */
  verify: typeof import("./verify.ts");
  /** `login` and `logout`. */
  login: typeof import("./login.ts");
  /** The local image store's commands: `pull`, `push`, `images`, `save`… */
  images: typeof import("./images.ts");
  /** `build` and `merge`. */
  build: typeof import("./build.ts");
}

/** The name of one command module. */
export type CommandModuleName = keyof CommandModules;

/**
 * The commands each module defines, as paths of names (aliases included): how a command line
 * picks the modules to load. A command missing here still runs, as a word that names no command
 * loads every module; `src/cli/program_test.ts` keeps the table equal to the tree.
 */
export const COMMAND_PATHS: Readonly<Record<CommandModuleName, readonly (readonly string[])[]>> = {
  context: [["context"]],
  registrySave: [["registry", "save"]],
  registryServe: [["registry", "serve"]],
  registryVerify: [["registry", "verify"]],
  registryLsBlobs: [["registry", "ls-blobs"]],
  registryGc: [["registry", "gc"]],
  copy: [["copy"], ["registry", "copy"], ["registry", "sync"]],
  verify: [["verify"]],
  login: [["login"], ["logout"]],
  images: [
    ["pull"],
    ["push"],
    ["tag"],
    ["rmi"],
    ["prune"],
    ["images"],
    ["inspect"],
    ["save"],
    ["load"],
  ],
  build: [["build"], ["bud"], ["merge"]],
};

const IMPORTS: { readonly [K in CommandModuleName]: () => Promise<CommandModules[K]> } = {
  context: () => import("./context_images.ts"),
  registrySave: () => import("./registry_save.ts"),
  registryServe: () => import("./registry_serve.ts"),
  registryVerify: () => import("./registry_verify.ts"),
  registryLsBlobs: () => import("./registry_ls_blobs.ts"),
  registryGc: () => import("./registry_gc.ts"),
  copy: () => import("./copy.ts"),
  verify: () => import("./verify.ts"),
  login: () => import("./login.ts"),
  images: () => import("./images.ts"),
  build: () => import("./build.ts"),
};

const MODULE_NAMES = Object.keys(COMMAND_PATHS) as CommandModuleName[];

/**
 * The modules `args` (without the program name) need: those defining the command its leading
 * words name; every module below `registry` for `registry` alone or with an unknown subcommand;
 * none for a bare `--version`; every module otherwise.
 */
export function modulesFor(args: readonly string[]): CommandModuleName[] {
  const words: string[] = [];
  let version = false;
  let help = false;
  for (const arg of args) {
    // Help applies to the command named so far; after `--` every word is an operand.
    if (arg === "-h" || arg === "--help") help = true;
    if (help || arg === "--") break;
    if (arg === "-v" || arg === "--version") version = true;
    // The global flags take no value, so a word that is no flag is a command name.
    else if (!arg.startsWith("-") && words.push(arg) === 2) break;
  }
  if (words.length === 0) return version && !help ? [] : [...MODULE_NAMES];
  const names = (path: readonly string[]) => path.every((word, i) => words[i] === word);
  const exact = MODULE_NAMES.filter((m) => COMMAND_PATHS[m].some(names));
  if (exact.length > 0) return exact;
  const below = MODULE_NAMES.filter((m) =>
    COMMAND_PATHS[m].some((path) => path.length > 1 && path[0] === words[0])
  );
  return below.length > 0 ? below : [...MODULE_NAMES];
}

/** Loads the command modules `names`. */
export async function loadCommandModules(
  names: readonly CommandModuleName[],
): Promise<Partial<CommandModules>> {
  const loaded = await Promise.all(names.map(async (name) => [name, await IMPORTS[name]()]));
  return Object.fromEntries(loaded);
}

/**
 * Builds the command tree from `modules`: the commands they define, in the order of the whole
 * tree, plus `completions` when every module is there. `output` is created once the global flags
 * are known.
 */
export function assembleProgram(
  modules: Partial<CommandModules>,
  state: { output?: Output } = {},
): AnyCommand {
  const program = new Command("ferry")
    .description(
      "build Sealos-style cluster images and carry container images into air-gapped sites",
    )
    .version(VERSION, "-v, --version")
    .option("--debug", "print stack traces and an HTTP trace (secrets removed)")
    .option("-q, --quiet", "print only results and errors")
    .addHelpText(
      "after",
      `
Examples:
  ferry context images ./my-app                          # what a build of ./my-app would save
  ferry registry save --registry-dir ./my-app/registry ./my-app
  ferry copy docker://nginx:1.27 oci-archive:nginx.tar
  ferry registry serve filesystem ./registry             # serve a saved directory
  ferry COMMAND --help                                   # flags and examples of a command`,
    );

  const output = (json?: boolean) => {
    const g = program.opts();
    state.output ??= new Output({ json, quiet: g.quiet, debug: g.debug });
    return state.output;
  };

  const m = modules;
  if (m.context) program.addCommand(m.context.contextCommand(output));
  if (
    m.registrySave || m.registryServe || m.registryVerify || m.registryLsBlobs || m.registryGc ||
    m.copy
  ) {
    const registry = new Command("registry")
      .description("work with registries and registry directories")
      .addHelpText(
        "after",
        `
Examples:
  ferry registry save --images nginx:1.27,redis:7 --registry-dir ./registry
  ferry registry serve filesystem ./registry
  ferry registry verify ./registry
  ferry registry gc --dry-run ./registry
  ferry registry sync ./registry registry.local:5000`,
      );
    if (m.registrySave) registry.addCommand(m.registrySave.registrySaveCommand(output));
    if (m.registryServe) registry.addCommand(m.registryServe.registryServeCommand(output));
    if (m.registryVerify) registry.addCommand(m.registryVerify.registryVerifyCommand(output));
    if (m.registryLsBlobs) registry.addCommand(m.registryLsBlobs.registryLsBlobsCommand(output));
    if (m.registryGc) registry.addCommand(m.registryGc.registryGcCommand(output));
    for (const cmd of m.copy?.registryCopyCommands(output) ?? []) registry.addCommand(cmd);
    program.addCommand(registry);
  }
  if (m.copy) program.addCommand(m.copy.copyCommand(output));
  if (m.verify) program.addCommand(m.verify.verifyCommand(output));
  for (const cmd of m.login?.loginCommands(output) ?? []) program.addCommand(cmd);
  for (const cmd of m.images?.imageCommands(output) ?? []) program.addCommand(cmd);
  for (const cmd of m.build?.buildCommands(output) ?? []) program.addCommand(cmd);
  if (MODULE_NAMES.every((name) => m[name])) {
    program.addCommand(completionsCommand(() => program, output));
  }
  return program;
}

/** The command tree `args` need (see {@link modulesFor}). */
async function programFor(
  args: readonly string[],
  state: { output?: Output },
): Promise<AnyCommand> {
  const names = modulesFor(args);
  if (names.length === MODULE_NAMES.length) {
    // Every module: one static import graph (mod.ts) loads faster than a dynamic import each.
    return (await import("./mod.ts")).buildProgram(state);
  }
  return assembleProgram(await loadCommandModules(names), state);
}

/** Runs ferry with `args` (without the program name); resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const state: { output?: Output } = {};
  const debug = args.includes("--debug");
  try {
    // Inside the try: a command module failing to load is reported like any other failure.
    const program = await programFor(args, state);
    await program.parseAsync(args);
    state.output?.finish();
    return 0;
  } catch (err) {
    // A reader that went away (`ferry images | head`) ends ferry quietly, as SIGPIPE ends other
    // Unix tools; 141 is the status a shell shows for such a death (128 + SIGPIPE).
    if (isBrokenPipe(err)) return EXIT_BROKEN_PIPE;
    state.output?.finish();
    if (state.output?.json) {
      // Scripts reading --json see the failure too, not only the line on stderr.
      state.output.emit({
        type: "error",
        code: err instanceof FerryError ? err.code : "internal",
        message: errorMessage(err).split("\n")[0],
        ...(err instanceof FerryError && err.details.length > 0
          ? { details: [...err.details] }
          : {}),
      });
    }
    return report(err, debug);
  }
}

/** Exit status of a command whose standard output was closed by its reader. */
export const EXIT_BROKEN_PIPE = 141;

function isBrokenPipe(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof Deno.errors.BrokenPipe) return true;
  }
  return false;
}

/**
 * A command module that could not be loaded for want of a permission: Deno loads a dynamic import
 * when it runs (deno.json's `lazy-dynamic-imports`), and reading a module of a checkout needs
 * `--allow-read` then, which Deno reports as a `TypeError`.
 */
function isModuleLoadDenied(err: unknown): boolean {
  return err instanceof TypeError && /^Requires read access to /.test(err.message);
}

function report(err: unknown, debug: boolean): number {
  if (err instanceof FerryError) {
    console.error(`ferry: ${terminalSafe(err.message)}`);
    for (const line of err.details) console.error(`  ${terminalSafe(line)}`);
    if (debug) console.error(terminalSafe(err.stack ?? "", { lines: true }));
    return err.exitCode;
  }
  if (
    err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied ||
    isModuleLoadDenied(err)
  ) {
    const msg = errorMessage(err).split("\n")[0];
    console.error(`ferry: missing permission: ${terminalSafe(msg)}`);
    if (debug) console.error(terminalSafe((err as Error).stack ?? "", { lines: true }));
    return 1;
  }
  console.error(`ferry: ${terminalSafe(errorMessage(err).split("\n")[0])}`);
  if (debug) {
    console.error(
      terminalSafe(err instanceof Error ? err.stack ?? "" : String(err), { lines: true }),
    );
  } else console.error("(run with --debug for details)");
  return 1;
}
