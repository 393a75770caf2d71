/**
 * `ferry registry gc DIR`: remove what no manifest (or, with `--delete-untagged`, no tag) uses,
 * by docker-registry 2.8's `garbage-collect` rules.
 *
 * This module defines the command; what it does is in `./registry_gc_action.ts`, loaded when it
 * runs (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command } from "./command/mod.ts";
import type { Output } from "./output.ts";

/** The `registry gc` command. */
export function registryGcCommand(output: (json?: boolean) => Output) {
  return new Command("gc")
    .description(
      "remove the blobs no manifest of a registry directory uses, as docker-registry 2.8's " +
        "garbage-collect does (it deletes unless --dry-run); prints what goes and the bytes freed",
    )
    .argument("<dir>", "registry directory (docker-registry's rootdirectory)")
    .option("--dry-run", "only print what would be removed")
    .option(
      "--delete-untagged",
      "also remove manifests no tag points at, with every blob only they use",
    )
    .option("--json", "one JSON event per line (progress, each removal) and a result")
    .addHelpText(
      "after",
      `
Rules (those of docker-registry 2.8, so both leave the same blobs, manifests and tags):
  Every manifest a repository holds is kept with its config and layers; an index keeps its
  child manifests, and they keep their own layers as manifests of the repository.
  --delete-untagged keeps only manifests a tag points at now. Careful: like docker-registry 2.8,
  it removes the child manifests of a tagged multi-platform index too (no tag points at them),
  with their layers, so that index no longer pulls; a warning names each such index. Signatures
  and other referrers kept only by digest go as well. A repository that never had a tag loses
  all its manifests (docker-registry 2.8 stops there with "unknown repository").
  A repository's links to removed blobs (_layers) are removed too (docker-registry 2.8 leaves
  them; distribution 3 removes them). Upload sessions (_uploads) are left to the server.
  ferry's writers (registry save, copy and sync into the directory, build, a registry serve
  taking pushes) hold the directory's lock while they run: gc (but for --dry-run) is refused at
  once while one does, and they are refused while gc runs; run it again when the other is done.
  Stop other writers first (docker-registry taking pushes): a blob pushed while gc runs, before
  its manifest, is removed. A killed gc is finished by running it again.

Examples:
  ferry registry gc --dry-run ./registry            # what would go, and how many bytes
  ferry registry gc ./registry                      # remove blobs no manifest uses
  ferry registry gc --delete-untagged ./registry    # also images only reachable by digest`,
    )
    .action(async (dir, opts) => {
      const out = output(opts.json);
      const { registryGc } = await import("./registry_gc_action.ts");
      await registryGc(dir, opts, out);
    });
}

/** The parsed options of `registry gc`. */
export type RegistryGcOptions = ReturnType<ReturnType<typeof registryGcCommand>["opts"]>;
