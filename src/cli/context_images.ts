/**
 * `ferry context images [CONTEXT]`: what a build would save, and where each image was found.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { discoverImages } from "../context/mod.ts";
import { formatWarning } from "../context/mod.ts";
import type { Output } from "./output.ts";

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
        out.print(JSON.stringify(result));
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
