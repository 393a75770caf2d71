/**
 * ferry's command-line interface: a thin command tree (`./command.ts`) over the library.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. Expected failures print one line; stack traces
 * only under `--debug`.
 *
 * {@link main} loads only the command modules a command line needs (see `./program.ts`; `main.ts`
 * imports it from there, as importing this module loads them all). {@link buildProgram} gives the
 * whole tree at once, for what inspects it: help and completion tests, docs/COMMANDS.md.
 *
 * @module
 */
import type { AnyCommand } from "./command/mod.ts";
import * as build from "./build.ts";
import * as context from "./context_images.ts";
import * as copy from "./copy.ts";
import * as images from "./images.ts";
import * as login from "./login.ts";
import type { Output } from "./output.ts";
import { assembleProgram, type CommandModules } from "./program.ts";
import * as registryGc from "./registry_gc.ts";
import * as registrySave from "./registry_save.ts";
import * as registryServe from "./registry_serve.ts";
import * as registryVerify from "./registry_verify.ts";
import * as registryLsBlobs from "./registry_ls_blobs.ts";
import * as verify from "./verify.ts";

export { main } from "./program.ts";

const ALL_MODULES: CommandModules = {
  context,
  registrySave,
  registryServe,
  registryVerify,
  registryLsBlobs,
  registryGc,
  copy,
  verify,
  login,
  images,
  build,
};

/** Builds the whole command tree. `output` is created once the global flags are known. */
export function buildProgram(state: { output?: Output } = {}): AnyCommand {
  return assembleProgram(ALL_MODULES, state);
}
