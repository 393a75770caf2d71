/**
 * `ferry copy SRC DST`, `ferry registry copy IMAGE REGISTRY` and `ferry registry sync SRC DST`:
 * moving images between registries, registry directories, OCI layouts and archives.
 *
 * This module defines the commands; what they do is in `./copy_action.ts`, loaded when one runs
 * (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command } from "./command/mod.ts";
import {
  type ReferrersFlag,
  type SideAccessOptions,
  withReferrers,
  withSideAccess,
} from "./access.ts";
import type { Output } from "./output.ts";
import { parsePositiveInt } from "./parse.ts";
import { type VerifyKeyOptions, withVerifyKey } from "./verify_key.ts";

/** The parsed options of every copying command: access for each side, platforms, `--json`. */
export interface CopyOptions extends SideAccessOptions, VerifyKeyOptions, ReferrersFlag {
  platform?: string;
  all?: boolean;
  json?: boolean;
}

function withSideOptions<A extends unknown[], O extends object>(cmd: Command<A, O>) {
  return withVerifyKey(withSideAccess(
    withReferrers(
      cmd
        .option(
          "--platform <list>",
          "os/arch[/variant][,…] to copy from multi-platform images (default: this host)",
        )
        .option("--all", "copy every platform (the whole index)"),
    ),
  )).option("--json", "print one JSON event per line");
}

/** The parsed options of `registry sync`. */
export interface SyncOptions extends CopyOptions {
  maxPullProcs: number;
}

/** `ferry copy`. */
export function copyCommand(output: (json?: boolean) => Output) {
  return withSideOptions(
    new Command("copy")
      .description(
        "copy an image between registries, registry directories, OCI layouts and archives",
      )
      .argument(
        "<source>",
        "docker://…, registry-dir:PATH:NAME[:TAG], oci:PATH[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF]",
      )
      .argument("<destination>", "same transports as the source"),
  )
    .addHelpText(
      "after",
      `
A destination without a tag or ref gets the source's: a layout or archive the image's full
name (ghcr.io/org/app:1.0), which ferry load restores, a registry its tag.

Examples:
  ferry copy docker://ghcr.io/org/app:1.0 oci-archive:app.tar
  ferry copy --all docker://nginx:1.27 registry-dir:./registry:library/nginx:1.27
  ferry copy oci:./layout:app docker://registry.local:5000/team/app:1.0
  ferry copy docker-archive:app.tar docker://127.0.0.1:5000/app:1.0
  ferry copy --verify-key cosign.pub docker://ghcr.io/org/app:1.0 oci-archive:app.tar`,
    )
    .action(async (source, destination, opts) => {
      const out = output(opts.json);
      const { runCopy } = await import("./copy_action.ts");
      await runCopy(source, destination, opts, out);
    });
}

/** `ferry registry copy` and `ferry registry sync`. */
export function registryCopyCommands(output: (json?: boolean) => Output) {
  const copy = withSideOptions(
    new Command("copy")
      .description(
        "copy one image into another registry under the same path (Sealos's registry copy)",
      )
      .argument("<image>", "source image, e.g. docker.io/library/nginx:1.27")
      .argument(
        "<registry>",
        "destination registry HOST[:PORT] or registry directory (path or registry-dir:PATH)",
      ),
  )
    .addHelpText(
      "after",
      `
Examples:
  ferry registry copy quay.io/cilium/cilium:v1.15.0 sealos.hub:5000
  ferry registry copy --all nginx:1.27 ./registry`,
    )
    .action(async (image, registry, opts) => {
      const out = output(opts.json);
      const { runRegistryCopy } = await import("./copy_action.ts");
      await runRegistryCopy(image, registry, opts, out);
    });

  const sync = withSideOptions(
    new Command("sync")
      .description("copy every repository and tag of a registry or registry directory into another")
      .argument("<source>", "registry HOST[:PORT] or registry directory")
      .argument("<destination>", "registry HOST[:PORT] or registry directory"),
  )
    .option("--max-pull-procs <n>", "images copied at once", parsePositiveInt, 5)
    .addHelpText(
      "after",
      `
Examples:
  ferry registry sync ./registry sealos.hub:5000      # serve nothing: push a saved directory
  ferry registry sync registry.local:5000 ./mirror --dest-tls-verify=false`,
    )
    .action(async (source, destination, opts) => {
      const out = output(opts.json);
      const { runRegistrySync } = await import("./copy_action.ts");
      await runRegistrySync(source, destination, opts, out);
    });
  return [copy, sync] as const;
}
