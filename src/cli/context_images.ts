/**
 * `ferry context images [CONTEXT]`: what a build would save, and where each image was found.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { join, resolve } from "node:path";
import {
  discoverImages,
  type DiscoveryResult,
  formatWarning,
  type ImageSource,
} from "../context/mod.ts";
import { formatLocation } from "../transport.ts";
import type { ContextImagesSnapshot, FoundIn } from "./json.ts";
import type { Output } from "./output.ts";

/**
 * The `--json` form of a discovery: files made absolute, archives named by location like
 * `registry save` names them, and `foundIn` for where an image was found (`source` always means
 * the image read by a transfer).
 */
function contextSnapshot(dir: string, result: DiscoveryResult): ContextImagesSnapshot {
  const context = resolve(dir);
  const found = (s: ImageSource): FoundIn => ({
    file: join(context, s.file),
    line: s.line,
    rule: s.rule,
  });
  return {
    context,
    images: result.images.map((i) => ({ image: i.image, foundIn: i.sources.map(found) })),
    archives: result.archives.map((a) => {
      const colon = a.destination.lastIndexOf(":");
      return {
        source: formatLocation({ transport: a.transport, path: a.path }),
        repository: a.destination.slice(0, colon),
        tag: a.destination.slice(colon + 1),
        foundIn: [found(a.source)],
      };
    }),
    warnings: result.warnings.map((w) => ({ ...w, file: join(context, w.file) })),
    ignored: result.ignored,
  };
}

/** The `context` command group. */
export function contextCommand(output: () => Output): Command {
  const context = new Command("context")
    .description("inspect a cluster-image build context")
    .addHelpText(
      "after",
      `
Examples:
  ferry context images ./my-app`,
    );
  context
    .command("images")
    .description("list the images a build of CONTEXT would save, sorted, with where each was found")
    .argument("[context]", "build context directory", ".")
    .option("--json", "one JSON object with images, archives, warnings and ignored entries")
    .option("--strict", "treat unusable entries (bad references, helm failures) as errors")
    .option("--no-helm", "do not render charts with helm even when it is installed")
    .addHelpText(
      "after",
      `
Examples:
  ferry context images ./my-app
  ferry context images --json ./my-app | jq -r '.images[].image'`,
    )
    .action(async (dir, opts) => {
      const out = output();
      const result = await discoverImages(dir, {
        strict: opts.strict,
        helm: opts.helm ? undefined : null,
      });
      if (opts.json) {
        out.snapshot<ContextImagesSnapshot>(contextSnapshot(dir, result));
        return;
      }
      for (const w of result.warnings) out.warn(formatWarning(w));
      for (const img of result.images) {
        const where = img.sources.map((s) => `${s.file}:${s.line}`).join(", ");
        out.print(`${img.image}\t${where}`);
      }
      for (const a of result.archives) {
        out.print(`${a.transport}:${a.path}@${a.destination}\t${a.source.file}:${a.source.line}`);
      }
      if (result.ignored.length) out.info(`ignored by .sealignore: ${result.ignored.join(", ")}`);
    });
  return context;
}
