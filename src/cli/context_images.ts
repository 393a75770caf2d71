/**
 * `ferry context images [CONTEXT]`: what a build would save, and where each image was found.
 *
 * This module defines the command; what it does is in `./context_images_action.ts`, loaded when
 * it runs (see `./program.ts` on start-up time).
 *
 * @module
 */
import { type AnyCommand, Command } from "./command/mod.ts";
import type { Output } from "./output.ts";

/** The `context` command group. */
export function contextCommand(output: () => Output): AnyCommand {
  const context = new Command("context")
    .description("inspect a cluster-image build context")
    .addHelpText(
      "after",
      `
Examples:
  ferry context images ./my-app`,
    );
  const images = new Command("images")
    .description("list the images a build of CONTEXT would save, sorted, with where each was found")
    .argument("[context]", "build context directory", ".")
    .option("--json", "one JSON object with images, archives, warnings and ignored entries")
    .option("--strict", "treat unusable entries (bad references, helm failures) as errors")
    .option("--no-helm", "do not render charts with helm even when it is installed")
    .addHelpText(
      "after",
      `
Images named only in env values or container args (an operator's list of every version it can
deploy) come last, marked "referenced": registry save and build leave them out unless given
--include-referenced. A chart line marked "(rendered)" counts lines of the template's rendered
output. The rules are in docs/DISCOVERY.md.

Examples:
  ferry context images ./my-app
  ferry context images --json ./my-app | jq -r '.images[].image'`,
    )
    .action(async (dir, opts) => {
      const out = output();
      const { runContextImages } = await import("./context_images_action.ts");
      await runContextImages(dir, opts, out);
    });
  return context.addCommand(images);
}
