/**
 * The image commands over ferry's local image store: `pull`, `push`, `tag`, `rmi`, `images`,
 * `inspect`, `save` and `load`.
 *
 * This module defines the commands; what they do is in `./images_action.ts`, loaded when one runs
 * (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command, Option } from "./command/mod.ts";
import { withAccess, withReferrers } from "./access.ts";
import type { Output } from "./output.ts";
import { withVerifyKey } from "./verify_key.ts";

/** Help text of `--root`, for every command that uses the local image store. */
export const ROOT_HELP =
  "image store directory (default: $FERRY_ROOT, $XDG_DATA_HOME/ferry or ~/.local/share/ferry)";

/** The `--root` flag of the commands over the local image store. */
export interface RootOptions {
  root?: string;
}

/** The image commands, for the top level of the command tree. */
export function imageCommands(output: (json?: boolean) => Output) {
  return [
    pullCommand(output),
    pushCommand(output),
    tagCommand(output),
    rmiCommand(output),
    pruneCommand(output),
    imagesCommand(output),
    inspectCommand(output),
    saveCommand(output),
    loadCommand(output),
  ] as const;
}

function pullCommand(output: (json?: boolean) => Output) {
  return withVerifyKey(withAccess(
    withReferrers(new Command("pull"))
      .description("copy an image from a registry into the local image store")
      .argument("<image>", "image reference, e.g. nginx:1.27 or ghcr.io/org/app@sha256:…"),
    { creds: true },
  ))
    .option(
      "--platform <list>",
      "os/arch[/variant][,…] to keep from a multi-platform image (default: this host)",
    )
    .option("--all", "keep every platform (the whole index, digest unchanged)")
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
The image is stored under its full name (nginx:1.27 → docker.io/library/nginx:1.27). The
image's digest is printed on standard output.

Examples:
  ferry pull nginx:1.27
  ferry pull --all ghcr.io/org/app:1.0
  ferry pull --platform linux/arm64 --tls-verify=false registry.local:5000/team/app:1.0`,
    )
    .action(async (image, opts) => {
      const out = output(opts.json);
      const { runPull } = await import("./images_action.ts");
      await runPull(image, opts, out);
    });
}

function pushCommand(output: (json?: boolean) => Output) {
  return withVerifyKey(withAccess(
    withReferrers(new Command("push"))
      .description("copy an image from the local image store to a registry")
      .argument("<image>", "stored image: name, digest or digest prefix")
      .argument(
        "[destination]",
        "registry reference (default: the image's name), or oci:, oci-archive:, registry-dir:… as ferry copy takes",
      ),
    { creds: true },
  ))
    .option(
      "--platform <list>",
      "push only these os/arch[/variant] of a multi-platform image",
    )
    .option("--all", "push every platform of the image (the default without --platform)")
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
A destination without tag gets the image's tag; an oci:, oci-archive: or docker-archive:
destination without a ref names the image by its full name, as ferry save does. Images named
localhost/… (built or tagged without a registry) need a destination.

Examples:
  ferry push docker.io/library/nginx:1.27 registry.local:5000/library/nginx
  ferry push localhost/app:1.0 ghcr.io/org/app:1.0
  ferry push --tls-verify=false app:1.0 127.0.0.1:5000/app`,
    )
    .action(async (image, destination, opts) => {
      const out = output(opts.json);
      const { runPush } = await import("./images_action.ts");
      await runPush(image, destination, opts, out);
    });
}

function tagCommand(output: (json?: boolean) => Output) {
  return new Command("tag")
    .description("give a stored image more names")
    .argument("<image>", "stored image: name, digest or digest prefix")
    .argument("<name...>", "new names (without registry: localhost/NAME; without tag: :latest)")
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
Examples:
  ferry tag docker.io/library/nginx:1.27 web:stable          # → localhost/web:stable
  ferry tag localhost/app:1.0 registry.local:5000/team/app:1.0`,
    )
    .action(async (image, names, opts) => {
      const out = output(opts.json);
      const { runTag } = await import("./images_action.ts");
      await runTag(image, names, opts, out);
    });
}

function rmiCommand(output: (json?: boolean) => Output) {
  return new Command("rmi")
    .description("remove images from the local image store and free the blobs no image uses")
    .argument("<image...>", "stored images: names, digests or digest prefixes")
    .option("-f, --force", "remove every name of an image given by digest")
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
Blobs are freed by the rules of ferry registry gc: every entry of the store's index.json keeps
what it names (an index its children, a manifest its config and layers); a signature or other
referrer does not keep the image it refers to, and one listed without a name goes with that image.

Examples:
  ferry rmi localhost/app:1.0
  ferry rmi --force 3f2a9c1b7e44`,
    )
    .action(async (images, opts) => {
      const out = output(opts.json);
      const { runRmi } = await import("./images_action.ts");
      await runRmi(images, opts, out);
    });
}

function pruneCommand(output: (json?: boolean) => Output) {
  return new Command("prune")
    .description(
      "free the blobs no image of the local image store uses (left by an interrupted pull, " +
        "load or build, or by referrers of removed images), by the rules of rmi",
    )
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print the result as one JSON event")
    .addHelpText(
      "after",
      `
Examples:
  ferry prune
  ferry prune --root /var/lib/ferry --json`,
    )
    .action(async (opts) => {
      const out = output(opts.json);
      const { runPrune } = await import("./images_action.ts");
      await runPrune(opts, out);
    });
}

function imagesCommand(output: (json?: boolean) => Output) {
  return new Command("images")
    .description("list the images in the local image store")
    .option("--no-trunc", "show whole digests")
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON object: {root, images: [{name, digest, …}]}")
    .addHelpText(
      "after",
      `
Examples:
  ferry images
  ferry images --json | jq -r '.images[].name'`,
    )
    .action(async (opts) => {
      const out = output();
      const { runImages } = await import("./images_action.ts");
      await runImages(opts, out);
    });
}

function inspectCommand(output: (json?: boolean) => Output) {
  return new Command("inspect")
    .description(
      "show a stored image: config, labels, layers, platforms and the images in its registry/",
    )
    .argument("<image>", "stored image: name, digest or digest prefix")
    .option(
      "--platform <platform>",
      "which image of a multi-platform image to describe (default: this host's)",
    )
    .option("--no-registry", "do not read the layers for a registry/ directory")
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON object")
    .addHelpText(
      "after",
      `
Examples:
  ferry inspect localhost/my-cluster:v1.28
  ferry inspect --json nginx:1.27 | jq .manifest.config.labels`,
    )
    .action(async (image, opts) => {
      const out = output();
      const { runInspect } = await import("./images_action.ts");
      await runInspect(image, opts, out);
    });
}

function saveCommand(output: (json?: boolean) => Output) {
  return withReferrers(new Command("save"))
    .description("write stored images into one oci-archive or docker-archive file")
    .argument("<image...>", "stored images: names, digests or digest prefixes")
    .requiredOption("-o, --output <file>", "archive to write (replaced once complete)")
    .addOption(
      new Option("--format <format>", "archive format")
        .choices(["oci-archive", "docker-archive"] as const)
        .default("oci-archive" as const),
    )
    .option(
      "--platform <list>",
      "save only these os/arch[/variant] of multi-platform images (a docker-archive needs one)",
    )
    .option(
      "--base <location>",
      "leave out the blobs this holds (what the site has: an earlier archive, a registry " +
        "directory, an OCI layout or image store, or a ferry registry ls-blobs list); " +
        "writes a differential oci-archive",
    )
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
The archive loads with ferry load, docker load, podman load and
skopeo copy oci-archive:FILE:NAME / docker-archive:FILE:NAME.

With --base the archive holds only the blobs the base lacks and lists the others it omits
(ferry-delta.json); ferry load checks that the store holds them before storing anything.
Other tools fail on it at the first omitted blob.

Examples:
  ferry save -o cluster.tar localhost/my-cluster:v1.28
  ferry save --format docker-archive --platform linux/amd64 -o web.tar nginx:1.27 redis:7
  ferry save -o update.tar --base cluster-v1.28.tar localhost/my-cluster:v1.29
  ferry save -o update.tar --base site-blobs.txt localhost/my-cluster:v1.29`,
    )
    .action(async (imageList, opts) => {
      const out = output(opts.json);
      const { runSave } = await import("./images_action.ts");
      await runSave(imageList, opts, out);
    });
}

function loadCommand(output: (json?: boolean) => Output) {
  return withVerifyKey(withReferrers(new Command("load")))
    .description("store every image of an oci-archive or docker-archive file")
    .requiredOption("-i, --input <file>", "archive to read (plain or gzip-compressed)")
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
Images keep their names (docker save's nginx:1.27 → docker.io/library/nginx:1.27). A damaged
archive leaves the store unchanged. A differential archive (ferry save --base) loads only when the
store already holds every blob it omits; otherwise ferry names them and stores nothing.

Examples:
  ferry load -i cluster.tar
  ferry load -i images.tar.gz --root /var/lib/ferry`,
    )
    .action(async (opts) => {
      const out = output(opts.json);
      const { runLoad } = await import("./images_action.ts");
      await runLoad(opts, out);
    });
}

/** The parsed options of `pull`. */
export type PullOptions = ReturnType<ReturnType<typeof pullCommand>["opts"]>;

/** The parsed options of `push`. */
export type PushOptions = ReturnType<ReturnType<typeof pushCommand>["opts"]>;

/** The parsed options of `tag`. */
export type TagOptions = ReturnType<ReturnType<typeof tagCommand>["opts"]>;

/** The parsed options of `rmi`. */
export type RmiOptions = ReturnType<ReturnType<typeof rmiCommand>["opts"]>;
/** Options of `prune`. */
export type PruneOptions = ReturnType<ReturnType<typeof pruneCommand>["opts"]>;

/** The parsed options of `images`. */
export type ImagesOptions = ReturnType<ReturnType<typeof imagesCommand>["opts"]>;

/** The parsed options of `inspect`. */
export type InspectOptions = ReturnType<ReturnType<typeof inspectCommand>["opts"]>;

/** The parsed options of `save`. */
export type SaveOptions = ReturnType<ReturnType<typeof saveCommand>["opts"]>;

/** The parsed options of `load`. */
export type LoadOptions = ReturnType<ReturnType<typeof loadCommand>["opts"]>;
