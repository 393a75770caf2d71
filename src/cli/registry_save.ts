/**
 * `ferry registry save`: pull images into a registry directory (distribution layout).
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { isAbsolute, resolve } from "node:path";
import { type ArchiveEntry, discoverImages, formatWarning } from "../context/mod.ts";
import { FerryError } from "../errors.ts";
import { hostPlatform, parsePlatformList } from "../platform.ts";
import { archiveSource, saveImages } from "../save.ts";
import { registryClient } from "./client.ts";
import { type RegistrySaveResult, transferred } from "./json.ts";
import type { Output } from "./output.ts";
import { parseBool, parseList, parsePositiveInt } from "./parse.ts";

/** Parses `docker-archive:PATH@REPO[:TAG]` (Sealos's `--tars` and `tar.txt` syntax). */
export function parseArchiveSpec(spec: string, base: string): ArchiveEntry {
  const at = spec.indexOf("@");
  const colon = spec.indexOf(":");
  const transport = spec.slice(0, colon);
  if (colon < 0 || at < 0 || at < colon) {
    throw new FerryError(
      "usage",
      `invalid archive ${JSON.stringify(spec)}: want docker-archive:PATH@REPO[:TAG]`,
    );
  }
  if (transport !== "docker-archive" && transport !== "oci-archive") {
    throw new FerryError(
      "usage",
      `invalid archive ${JSON.stringify(spec)}: unknown transport ${transport}`,
    );
  }
  const path = spec.slice(colon + 1, at);
  let destination = spec.slice(at + 1);
  if (!/:[\w][\w.-]{0,127}$/.test(destination)) destination += ":latest";
  return {
    transport,
    path: isAbsolute(path) ? path : resolve(base, path),
    destination,
    source: { file: "--tars", line: 1, rule: "tar" },
  };
}

/** The `registry save` command. */
export function registrySaveCommand(output: (json?: boolean) => Output) {
  return new Command("save")
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
    .option("--max-pull-procs <n>", "images copied at once", parsePositiveInt, 5)
    .option("--authfile <file>", "credentials file (default: the containers and docker auth files)")
    .option(
      "--tls-verify <bool>",
      "verify TLS and require HTTPS (false also allows plain HTTP)",
      parseBool,
      true,
    )
    .option("--cert-dir <dir>", "extra CA certificates (*.crt) to trust")
    .option("--strict", "treat unusable context entries as errors")
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
Examples:
  ferry registry save ./my-app                       # images a build of ./my-app needs, into ./registry
  ferry registry save --registry-dir ./my-app/registry ./my-app
  ferry registry save --images nginx:1.25,quay.io/cilium/cilium:v1.15.0 --platform linux/amd64,linux/arm64
  ferry registry save --tars docker-archive:./app.tar@library/app:1.0`,
    )
    .action(async (context, opts) => {
      const out = output(opts.json);
      let images = opts.images ?? [];
      let archives = (opts.tars ?? []).map((t) => parseArchiveSpec(t, Deno.cwd()));
      if (context !== undefined) {
        const found = await discoverImages(context, { strict: opts.strict });
        for (const w of found.warnings) out.warn(formatWarning(w));
        images = found.images.map((i) => i.image);
        archives = found.archives;
        if (opts.images || opts.tars) {
          out.warn("--images and --tars are ignored when a CONTEXT is given");
        }
      } else if (images.length === 0 && archives.length === 0) {
        throw new FerryError("usage", "nothing to save: give a CONTEXT, --images or --tars");
      }
      const platforms = opts.platform
        ? parsePlatformList(opts.platform)
        : opts.arch
        ? parsePlatformList(`linux/${opts.arch}`)
        : [hostPlatform()];
      if (images.length === 0 && archives.length === 0) {
        out.info("no images found; nothing to save");
        out.emit<RegistrySaveResult>({
          type: "result",
          registryDir: resolve(opts.registryDir),
          images: [],
        });
        return;
      }
      const client = await registryClient(opts, out);
      try {
        const saved = await saveImages({
          registryDir: opts.registryDir,
          images,
          archives: archives.map(archiveSource),
          platforms,
          all: opts.all,
          maxParallel: opts.maxPullProcs,
          client,
          warn: (m) => out.warn(m),
          onEvent: (e) => out.transfer(e),
        });
        out.emit<RegistrySaveResult>({
          type: "result",
          registryDir: resolve(opts.registryDir),
          images: saved.map((s) => ({
            ...transferred(s.source, s.root, s.images),
            destination: s.destination,
            repository: s.repository,
            ...(s.tag !== undefined ? { tag: s.tag } : {}),
          })),
        });
        out.info(
          `${saved.length} image${saved.length === 1 ? "" : "s"} saved to ${opts.registryDir}`,
        );
      } finally {
        await client.close();
      }
    });
}
