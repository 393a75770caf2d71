/**
 * `ferry registry verify DIR`: check a registry directory that arrived, blob by blob.
 *
 * This module defines the command; what it does is in `./registry_verify_action.ts`, loaded when
 * it runs (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command } from "./command/mod.ts";
import type { Output } from "./output.ts";
import { parsePositiveInt } from "./parse.ts";

/** Problems printed (and kept) by default. */
const MAX_PROBLEMS = 100;

/** The `registry verify` command. */
export function registryVerifyCommand(output: (json?: boolean) => Output) {
  return new Command("verify")
    .description(
      "check a registry directory, OCI layout or archive: every blob hashes to its name, every " +
        "link names a stored blob, every manifest's blobs are stored (and linked), every tag and " +
        "index.json/manifest.json entry resolves; exits 1 listing the problems",
    )
    .argument(
      "<location>",
      "a registry directory (a plain path, or registry-dir:DIR), oci:DIR (an OCI layout, such " +
        "as the image store), oci-archive:FILE or docker-archive:FILE (what ferry save writes)",
    )
    .option("--max-procs <n>", "blobs hashed at once", parsePositiveInt, 3)
    .option(
      "--max-problems <n>",
      "problems listed; past them only the count is given",
      parsePositiveInt,
      MAX_PROBLEMS,
    )
    .option(
      "--json",
      "one JSON event per line (each blob hashed, progress with bytes) and the result",
    )
    .addHelpText(
      "after",
      `
Examples:
  ferry registry verify ./registry                  # one line per problem, then a summary
  ferry registry verify oci:$HOME/.local/share/ferry  # the image store
  ferry registry verify oci-archive:update.tar      # an archive ferry save wrote
  ferry registry verify ./my-app/registry --json | tail -n 1   # {"type":"result","location":…,"problems":[…]}`,
    )
    .action(async (location, opts) => {
      const out = output(opts.json);
      const { registryVerify } = await import("./registry_verify_action.ts");
      await registryVerify(location, opts, out);
    });
}

/** The parsed options of `registry verify`. */
export type RegistryVerifyOptions = ReturnType<
  ReturnType<typeof registryVerifyCommand>["opts"]
>;
