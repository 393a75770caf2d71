/**
 * `ferry registry ls-blobs LOCATION`: the blobs a site holds, as the list `ferry save --base` reads.
 *
 * @module
 */
import { Command } from "./command/mod.ts";
import type { Output } from "./output.ts";

/** The `registry ls-blobs` command. */
export function registryLsBlobsCommand(output: (json?: boolean) => Output) {
  return new Command("ls-blobs")
    .description(
      "print the digest of every blob a registry directory, OCI layout (the image store is one) " +
        "or archive holds, one per line: the list ferry save --base reads",
    )
    .argument(
      "<location>",
      "registry directory, OCI layout, oci-/docker-archive (prefix registry-dir:, oci:, " +
        "oci-archive: or docker-archive: to say which)",
    )
    .option("--json", 'print one JSON object: {"location","kind","blobs":[{digest,size}]}')
    .addHelpText(
      "after",
      `
An archive lists the blobs it carries and, when it is differential, those it omits (a site that
loaded it holds both).

Examples:
  ferry registry ls-blobs ./my-app/registry > site-blobs.txt     # at the site
  ferry registry ls-blobs ~/.local/share/ferry > site-blobs.txt  # the image store
  ferry save -o update.tar --base site-blobs.txt my-app:1.1      # where the images are`,
    )
    .action(async (location, opts) => {
      const out = output(opts.json);
      const { registryLsBlobs } = await import("./registry_ls_blobs_action.ts");
      await registryLsBlobs(location, out);
    });
}
