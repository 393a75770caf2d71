/**
 * `ferry registry save`: pull images into a registry directory (distribution layout).
 *
 * This module defines the command; what it does is in `./registry_save_action.ts`, loaded when it
 * runs (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command, Option } from "./command/mod.ts";
import { withAccess, withReferrers } from "./access.ts";
import type { Output } from "./output.ts";
import { parseList, parsePositiveInt } from "./parse.ts";
import { withVerifyKey } from "./verify_key.ts";

/** The `registry save` command. */
export function registrySaveCommand(output: (json?: boolean) => Output) {
  const save = new Command("save")
    .description(
      "save images into a registry directory in the distribution registry's on-disk layout; " +
        "with CONTEXT, the images a build of CONTEXT needs",
    )
    .argument(
      "[context]",
      "build context to scan (images/shim, manifests, charts, images/skopeo/tar.txt)",
    )
    .option("--registry-dir <dir>", "registry directory to write", "registry")
    .option("--images <list>", "comma-separated images to save (without CONTEXT)", parseList)
    .option(
      "--tars <list>",
      "comma-separated docker-archive:PATH@REPO[:TAG] or oci-archive:… (without CONTEXT)",
      parseList,
    )
    .option(
      "--platform <list>",
      "os/arch[/variant][,…] to keep from multi-platform images (default: this host)",
    )
    .addOption(
      new Option(
        "--arch <arch>",
        "architecture (Sealos compatibility; same as --platform linux/ARCH)",
      ).hideHelp(),
    )
    .option("--all", "keep every platform of multi-platform images")
    .option("--max-pull-procs <n>", "images copied at once", parsePositiveInt, 5);
  return withVerifyKey(withAccess(withReferrers(save), { showTlsDefault: true }))
    .option("--strict", "treat unusable context entries as errors")
    .option(
      "--include-referenced",
      "also save images a CONTEXT names only in env values or container args",
    )
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
Examples:
  ferry registry save ./my-app                       # images a build of ./my-app needs, into ./registry
  ferry registry save --registry-dir ./my-app/registry ./my-app
  ferry registry save --images nginx:1.25,quay.io/cilium/cilium:v1.15.0 --platform linux/amd64,linux/arm64
  ferry registry save --tars docker-archive:./app.tar@library/app:1.0
  ferry registry save --verify-key cosign.pub --images ghcr.io/org/app:1.0   # signed images only`,
    )
    .action(async (context, opts) => {
      const out = output(opts.json);
      const { registrySave } = await import("./registry_save_action.ts");
      await registrySave(context, opts, out);
    });
}

/** The parsed options of `registry save`. */
export type RegistrySaveOptions = ReturnType<ReturnType<typeof registrySaveCommand>["opts"]>;
