/**
 * `ferry build` (alias `bud`) and `ferry merge`: cluster images into the local image store.
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import { build, type BuildEvent } from "../build/mod.ts";
import { FerryError } from "../errors.ts";
import { ImageStore, pushImage } from "../image_store/mod.ts";
import { type MergeEvent, mergeImages } from "../merge/mod.ts";
import { formatPlatform, parsePlatform, parsePlatformList } from "../platform.ts";
import type { RegistryClient } from "../remote/mod.ts";
import { registryClient } from "./client.ts";
import { ROOT_HELP } from "./images.ts";
import {
  type BuildResult,
  type BuiltEvent,
  type InputEvent,
  type LayerEvent,
  type MergeResult,
  type PullEvent,
  type StepEvent,
  type Transfer,
  transferred,
} from "./json.ts";
import { type Output, shortDigest } from "./output.ts";
import { parseBool, parsePositiveInt } from "./parse.ts";

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

/** A non-negative whole number of seconds since the epoch. */
function parseEpoch(text: string, where = "--timestamp"): number {
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new FerryError(
      "usage",
      `${where}: expected seconds since 1970-01-01 (a whole number), got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/** `--timestamp`, else `SOURCE_DATE_EPOCH` (the reproducible-builds convention). */
function timestampOf(given: number | undefined): number | undefined {
  if (given !== undefined) return given;
  const env = Deno.env.get("SOURCE_DATE_EPOCH");
  return env === undefined || env === "" ? undefined : parseEpoch(env, "SOURCE_DATE_EPOCH");
}

interface AccessOptions {
  authfile?: string;
  tlsVerify?: boolean;
  certDir?: string;
}

function withAccess<T extends Command<unknown[], Record<string, unknown>>>(cmd: T): T {
  return cmd
    .option("--authfile <file>", "credentials file (default: the containers and docker auth files)")
    .option(
      "--tls-verify <bool>",
      "verify TLS and require HTTPS (false also allows plain HTTP)",
      parseBool,
      true,
    )
    .option("--cert-dir <dir>", "extra CA certificates (*.crt) to trust") as unknown as T;
}

/** Progress lines and JSON events of a build or merge. */
function reporter(out: Output, multi: boolean) {
  return (e: BuildEvent | MergeEvent) => {
    switch (e.type) {
      case "blob-start":
      case "blob-progress":
      case "blob-done":
      case "manifest":
      case "image-done":
      case "image-failed":
        return out.transfer(e);
      case "step":
        out.emit<StepEvent>({
          type: "step",
          platform: e.platform,
          step: e.step,
          steps: e.steps,
          text: e.text,
        });
        return out.info(`${multi ? `[${e.platform}] ` : ""}STEP ${e.step}/${e.steps}: ${e.text}`);
      case "layer":
        out.emit<LayerEvent>({
          type: "layer",
          platform: e.platform,
          digest: e.digest,
          size: e.size,
          diffId: e.diffId,
          reused: e.cached,
        });
        return out.info(
          `--> layer ${shortDigest(e.digest)}${e.cached ? " (unchanged inputs: reused)" : ""}`,
        );
      case "pull":
        out.emit<PullEvent>({ type: "pull", image: e.image });
        return out.info(`Pulling ${e.image}`);
      case "built":
        out.emit<BuiltEvent>({
          type: "built",
          platform: e.platform,
          digest: e.digest,
          config: e.config,
        });
        return out.info(`${multi ? `[${e.platform}] ` : ""}--> ${shortDigest(e.digest)}`);
      case "input":
        out.emit<InputEvent>({
          type: "input",
          image: e.image,
          reused: e.reused,
          skipped: e.skipped,
          flattened: e.flattened,
        });
        return out.info(
          e.flattened
            ? `${e.image}: whiteouts in its layers, flattened into one layer`
            : `${e.image}: ${e.reused} layer${e.reused === 1 ? "" : "s"} reused` +
              (e.skipped > 0 ? ` (${e.skipped} shared with the previous image)` : ""),
        );
    }
  };
}

async function withStore<T>(root: string | undefined, fn: (store: ImageStore) => Promise<T>) {
  const store = await ImageStore.open({ root });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function withClient<T>(
  opts: AccessOptions,
  out: Output,
  fn: (client: RegistryClient) => Promise<T>,
): Promise<T> {
  const client = await registryClient(opts, out);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** The `build` and `merge` commands, for the top level of the command tree. */
export function buildCommands(output: (json?: boolean) => Output) {
  const buildCmd = withAccess(
    new Command("build")
      .alias("bud")
      .description(
        "build a cluster image from a context (Sealfile, Kubefile, Dockerfile or Containerfile) " +
          "into the local image store, saving the context's images into CONTEXT/registry first",
      )
      .argument("[context]", "build context directory", "."),
  )
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
      const o = opts as typeof opts & AccessOptions;
      const out = output(o.json);
      const platforms = o.platform ? parsePlatformList(o.platform.join(",")) : undefined;
      const timestamp = timestampOf(o.timestamp);
      await withClient(o, out, (client) =>
        withStore(o.root, async (store) => {
          const progress = reporter(out, (platforms?.length ?? 1) > 1);
          const result = await build({
            context,
            store,
            files: o.file,
            tags: o.tag,
            platforms,
            buildArgs: o.buildArg,
            labels: o.label,
            saveImages: o.saveImage,
            maxPullProcs: o.maxPullProcs,
            all: o.all,
            client,
            compression: o.compression,
            compressionThreads: o.compressionThreads,
            timestamp,
            cache: o.cache,
            onEvent: progress,
            warn: (m) => out.warn(m),
          });
          for (const name of result.names) out.info(`Successfully tagged ${name}`);
          let exported: Transfer | undefined;
          if (o.output) {
            const pushed = await pushImage(
              store,
              result.names[0] ?? result.descriptor.digest,
              o.output,
              { client, onEvent: progress },
            );
            exported = {
              ...transferred(pushed.source, pushed.descriptor, pushed.images),
              destination: pushed.destination,
              ...(pushed.tag !== undefined ? { tag: pushed.tag } : {}),
            };
            out.info(`Copied to ${pushed.destination}`);
          }
          if (out.json) {
            out.emit<BuildResult>({
              type: "result",
              context: resolve(context),
              digest: result.descriptor.digest,
              mediaType: result.descriptor.mediaType,
              names: result.names,
              savedImages: result.savedImages,
              images: result.images.map((i) => ({
                platform: formatPlatform(i.platform),
                digest: i.descriptor.digest,
                config: i.config.digest,
                layers: i.layers.map((l) => ({
                  digest: l.descriptor.digest,
                  size: l.descriptor.size,
                  diffId: l.diffId,
                  reused: l.reused,
                })),
              })),
              ...(exported ? { output: exported } : {}),
            });
          } else out.print(result.descriptor.digest);
        }));
    });

  const mergeCmd = withAccess(
    new Command("merge")
      .description(
        "merge cluster images into one: files overlaid in order (registry/ trees merge), labels " +
          "and environment unioned (later wins), ENTRYPOINT and CMD concatenated",
      )
      .argument("<images...>", "images to merge, in order (at least two)"),
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
      const o = opts as typeof opts & AccessOptions;
      const out = output(o.json);
      if (images.length < 2) throw new FerryError("usage", "merge needs at least two images");
      if (!o.tag || o.tag.length === 0) {
        throw new FerryError("usage", "merge needs a name for the result: -t NAME");
      }
      if ((o.platform?.length ?? 0) > 1 || o.platform?.[0].includes(",")) {
        throw new FerryError("usage", "--platform may be given once, with one platform");
      }
      const platform = o.platform ? parsePlatform(o.platform[0]) : undefined;
      await withClient(o, out, (client) =>
        withStore(o.root, async (store) => {
          const result = await mergeImages({
            store,
            images,
            tags: o.tag!,
            platform,
            client,
            compression: o.compression,
            compressionThreads: o.compressionThreads,
            timestamp: timestampOf(o.timestamp),
            onEvent: reporter(out, false),
          });
          for (const name of result.names) out.info(`Successfully tagged ${name}`);
          if (out.json) {
            out.emit<MergeResult>({
              type: "result",
              digest: result.descriptor.digest,
              mediaType: result.descriptor.mediaType,
              names: result.names,
              images: [{
                platform: formatPlatform(result.platform),
                digest: result.descriptor.digest,
                config: result.config.digest,
                layers: result.layers.map((l) => ({
                  digest: l.descriptor.digest,
                  size: l.descriptor.size,
                  diffId: l.diffId,
                  reused: l.reused,
                  image: l.image,
                })),
              }],
            });
          } else out.print(result.descriptor.digest);
        }));
    });

  return [buildCmd, mergeCmd] as const;
}
