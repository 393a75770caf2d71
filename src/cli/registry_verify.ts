/**
 * `ferry registry verify DIR`: check a registry directory that arrived, blob by blob.
 *
 * This module defines the command; what it does is in `./registry_verify_action.ts`, loaded when
 * it runs (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import type { Output } from "./output.ts";
import { parsePositiveInt } from "./parse.ts";

/** The `registry verify` command. */
export function registryVerifyCommand(output: (json?: boolean) => Output) {
  return new Command("verify")
    .description(
      "check a registry directory: every blob hashes to its name, every link names a stored " +
        "blob, every manifest's blobs are stored and linked, every tag resolves; " +
        "exits 1 listing the problems",
    )
    .argument("<dir>", "registry directory (docker-registry's rootdirectory)")
    .option("--max-procs <n>", "blobs hashed at once", parsePositiveInt, 3)
    .option("--json", "print the result as one JSON object")
    .addHelpText(
      "after",
      `
Examples:
  ferry registry verify ./registry                  # one line per problem, then a summary
  ferry registry verify ./my-app/registry --json    # {"dir":…,"problems":[{kind,path,digest?,message}]}`,
    )
    .action(async (dir, opts) => {
      const out = output(opts.json);
      const { registryVerify } = await import("./registry_verify_action.ts");
      await registryVerify(dir, opts, out);
    });
}

/** The parsed options of `registry verify`. */
export type RegistryVerifyOptions = ReturnType<
  ReturnType<typeof registryVerifyCommand>["opts"]
>;
