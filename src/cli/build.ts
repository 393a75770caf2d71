/**
 * `ferry build` (alias `bud`) and `ferry merge`: cluster images into the local image store.
 *
 * This module defines the commands; what they do is in `./build_action.ts`, loaded when one runs
 * (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command, Option } from "./command/mod.ts";
import { FerryError } from "../errors.ts";
import { ROOT_HELP } from "./images.ts";
import { withAccess, withReferrers } from "./access.ts";
import type { Output } from "./output.ts";
import { withVerifyKey } from "./verify_key.ts";
import { parseBool, parseEpoch, parsePositiveInt } from "./parse.ts";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `KEY=VALUE` (repeatable); a bare `KEY` takes its value from the environment, as Docker does. */
function keyValue(what: string) {
  return (text: string, previous: Record<string, string> = {}): Record<string, string> => {
    const eq = text.indexOf("=");
    if (eq === 0) throw new FerryError("usage", `--${what} ${JSON.stringify(text)}: empty name`);
    if (eq < 0) {
      const value = Deno.env.get(text);
      if (value === undefined) return previous;
      return { ...previous, [text]: value };
    }
    return { ...previous, [text.slice(0, eq)]: text.slice(eq + 1) };
  };
}

/** The `build` and `merge` commands, for the top level of the command tree. */
export function buildCommands(output: (json?: boolean) => Output) {
  return [buildCommand(output), mergeCommand(output)] as const;
}

function buildCommand(output: (json?: boolean) => Output) {
  return withVerifyKey(withAccess(
    withReferrers(new Command("build"))
      .alias("bud")
      .description(
        "build a cluster image from a context (Sealfile, Kubefile, Dockerfile or Containerfile) " +
          "into the local image store, saving the context's images into CONTEXT/registry first",
      )
      .argument("[context]", "build context directory", "."),
    { showTlsDefault: true },
  ))
    .option(
      "-t, --tag <name>",
      "name of the image (repeatable; without registry: localhost/NAME, without tag: :latest)",
      collect,
    )
    .option(
      "-f, --file <file>",
      "instruction file (repeatable; default: the existing ones of Sealfile, Kubefile, Dockerfile, Containerfile)",
      collect,
    )
    .option(
      "--platform <list>",
      "os/arch[/variant][,…] to build (repeatable; several give one image index; default: this host)",
      collect,
    )
    .option("--build-arg <key=value>", "build argument (repeatable)", keyValue("build-arg"))
    .option("--label <key=value>", "label of the image (repeatable)", keyValue("label"))
    .option(
      "--save-image <bool>",
      "save the context's images into CONTEXT/registry before building",
      parseBool,
      true,
    )
    .option("--max-pull-procs <n>", "images saved at once", parsePositiveInt, 5)
    .option(
      "--include-referenced",
      "also save images the context names only in env values or container args",
    )
    .option("--all", "save every platform of multi-platform images into every image built")
    .addOption(
      new Option("--compression <type>", "layer compression")
        .choices(["gzip", "none"] as const)
        .default("gzip" as const),
    )
    .option(
      "--compression-threads <n>",
      "threads compressing a layer (default: the CPUs, at most 4; 1 uses the least memory)",
      parsePositiveInt,
    )
    .option(
      "--timestamp <seconds>",
      "creation time and newest file time in the layers (default: $SOURCE_DATE_EPOCH); " +
        "the same context then gives the same digest anywhere",
      (v: string) => parseEpoch(v),
    )
    .option("--no-cache", "write every layer, even when its inputs did not change")
    .option(
      "-o, --output <dest>",
      "also copy the image to DEST: oci-archive:FILE, docker-archive:FILE, oci:DIR, or a registry",
    )
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
The images listed in the context (images/shim, manifests, charts, images/skopeo/tar.txt) are
saved into CONTEXT/registry first, as ferry registry save CONTEXT does; the instruction file
decides what enters the image (COPY registry ./registry). RUN is not supported: prepare files in
the context. The image's digest is printed on standard output.

Examples:
  ferry build -t my-cluster:v1.28 .
  ferry build --platform linux/amd64,linux/arm64 -t registry.example.com/apps/app:1.0 ./app
  ferry build --timestamp 1700000000 --save-image=false -o oci-archive:app.tar -t app:1 .`,
    )
    .action(async (context, opts) => {
      const out = output(opts.json);
      const { runBuild } = await import("./build_action.ts");
      await runBuild(context, opts, out);
    });
}

function mergeCommand(output: (json?: boolean) => Output) {
  return withAccess(
    new Command("merge")
      .description(
        "merge cluster images into one: files overlaid in order (registry/ trees merge), labels " +
          "and environment unioned (later wins), ENTRYPOINT and CMD concatenated",
      )
      .argument("<images...>", "images to merge, in order (at least two)"),
    { showTlsDefault: true },
  )
    .option("-t, --tag <name>", "name of the result (repeatable; required)", collect)
    .option(
      "--platform <platform>",
      "os/arch[/variant] taken from multi-platform inputs (once; default: this host)",
      collect,
    )
    .addOption(
      new Option("--compression <type>", "compression of layers written for flattened inputs")
        .choices(["gzip", "none"] as const)
        .default("gzip" as const),
    )
    .option(
      "--compression-threads <n>",
      "threads compressing such layers (default: the CPUs, at most 4)",
      parsePositiveInt,
    )
    .option(
      "--timestamp <seconds>",
      "creation time (default: $SOURCE_DATE_EPOCH)",
      (v: string) => parseEpoch(v),
    )
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
Inputs missing from the local image store are pulled. Their layers are reused as they are where
that gives the same file system as Sealos's COPY --from merge; an input whose layers delete files
(whiteouts) is flattened into one layer instead. The merged image's digest is printed on
standard output.

Examples:
  ferry merge -t cluster:v1.28-all localhost/kubernetes:v1.28 localhost/calico:v3.26
  ferry merge --platform linux/arm64 -t all:1 ghcr.io/org/k8s:1 ghcr.io/org/app:1`,
    )
    .action(async (images, opts) => {
      const out = output(opts.json);
      const { runMerge } = await import("./build_action.ts");
      await runMerge(images, opts, out);
    });
}

/** The parsed options of `build`. */
export type BuildOptions = ReturnType<ReturnType<typeof buildCommand>["opts"]>;

/** The parsed options of `merge`. */
export type MergeOptions = ReturnType<ReturnType<typeof mergeCommand>["opts"]>;
