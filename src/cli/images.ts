/**
 * The image commands over ferry's local image store: `pull`, `push`, `tag`, `rmi`, `images`,
 * `inspect`, `save` and `load`.
 *
 * @module
 */
import { Command, Option } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import type { CopyEvent } from "../copy/mod.ts";
import { FerryError } from "../errors.ts";
import {
  type ImageDetails,
  ImageStore,
  loadArchive,
  pullImage,
  pushImage,
  saveImages,
} from "../image_store/mod.ts";
import { hostPlatform, parsePlatform, parsePlatformList, type Platform } from "../platform.ts";
import { formatLocation } from "../transport.ts";
import { registryClient } from "./client.ts";
import { type Output, shortDigest } from "./output.ts";
import {
  type ImagesSnapshot,
  type InspectSnapshot,
  type LoadResult,
  type PullResult,
  type RmiResult,
  type SaveResult,
  type TagResult,
  transferred,
  type TransferResult,
} from "./json.ts";
import { parseBool } from "./parse.ts";

/** Help text of `--root`, for every command that uses the local image store. */
export const ROOT_HELP =
  "image store directory (default: $FERRY_ROOT, $XDG_DATA_HOME/ferry or ~/.local/share/ferry)";

interface RootOptions {
  root?: string;
}

interface AccessOptions {
  authfile?: string;
  creds?: string;
  tlsVerify?: boolean;
  certDir?: string;
}

async function openStore(opts: RootOptions): Promise<ImageStore> {
  return await ImageStore.open({ root: opts.root });
}

/** Runs `fn` with the store open, closing it afterwards. */
async function withStore<T>(opts: RootOptions, fn: (store: ImageStore) => Promise<T>): Promise<T> {
  const store = await openStore(opts);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function progress(out: Output) {
  return (e: CopyEvent) => out.transfer(e);
}

/** `1.5MiB`. */
export function formatSize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)}${units[i]}`;
}

/** `3 days ago`, as `docker images` shows ages. */
export function formatAge(iso: string | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return "unknown";
  const s = Math.max(0, (now - t) / 1000);
  if (s < 60) return "less than a minute ago";
  const steps: [number, string][] = [
    [60, "minute"],
    [3600, "hour"],
    [86400, "day"],
    [7 * 86400, "week"],
    [30 * 86400, "month"],
    [365 * 86400, "year"],
  ];
  let unit = steps[0];
  for (const step of steps) if (s >= step[0]) unit = step;
  const n = Math.floor(s / unit[0]);
  return `${n} ${unit[1]}${n === 1 ? "" : "s"} ago`;
}

/** Left-aligned columns separated by three spaces. */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("   ").trimEnd());
}

function platformsOption(text: string | undefined): Platform[] | undefined {
  return text ? parsePlatformList(text) : undefined;
}

function withAccess<T extends Command<unknown[], Record<string, unknown>>>(cmd: T): T {
  return cmd
    .option("--authfile <file>", "credentials file (default: the containers and docker auth files)")
    .option("--creds <user:password>", "credentials for the registry")
    .option(
      "--tls-verify <bool>",
      "verify TLS and require HTTPS (false also allows plain HTTP)",
      parseBool,
    )
    .option("--cert-dir <dir>", "extra CA certificates (*.crt) to trust") as unknown as T;
}

/** The image commands, for the top level of the command tree. */
export function imageCommands(output: (json?: boolean) => Output) {
  const pull = withAccess(
    new Command("pull")
      .description("copy an image from a registry into the local image store")
      .argument("<image>", "image reference, e.g. nginx:1.27 or ghcr.io/org/app@sha256:…"),
  )
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
      const o = opts as typeof opts & AccessOptions & RootOptions;
      const out = output(o.json);
      const client = await registryClient(o, out);
      try {
        await withStore(o, async (store) => {
          const result = await pullImage(store, image, {
            client,
            platforms: platformsOption(o.platform) ?? [hostPlatform()],
            all: o.all,
            onEvent: progress(out),
          });
          out.info(`Stored ${result.name} (${result.descriptor.digest}) in ${store.root}`);
          if (out.json) {
            out.emit<PullResult>({
              type: "result",
              ...transferred(result.source, result.descriptor, result.images),
              names: [result.name],
            });
          } else out.print(result.descriptor.digest);
        });
      } finally {
        await client.close();
      }
    });

  const push = withAccess(
    new Command("push")
      .description("copy an image from the local image store to a registry")
      .argument("<image>", "stored image: name, digest or digest prefix")
      .argument(
        "[destination]",
        "registry reference (default: the image's name), or oci:, oci-archive:, registry-dir:… as ferry copy takes",
      ),
  )
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
A destination without tag gets the image's tag. Images named localhost/… (built or tagged
without a registry) need a destination.

Examples:
  ferry push docker.io/library/nginx:1.27 registry.local:5000/library/nginx
  ferry push localhost/app:1.0 ghcr.io/org/app:1.0
  ferry push --tls-verify=false app:1.0 127.0.0.1:5000/app`,
    )
    .action(async (image, destination, opts) => {
      const o = opts as typeof opts & AccessOptions & RootOptions;
      const out = output(o.json);
      if (o.all && o.platform) {
        throw new FerryError("usage", "--all and --platform exclude each other");
      }
      const client = await registryClient(o, out);
      try {
        await withStore(o, async (store) => {
          const result = await pushImage(store, image, destination, {
            client,
            platforms: platformsOption(o.platform),
            onEvent: progress(out),
          });
          out.info(`Pushed ${image} to ${result.destination} (${result.descriptor.digest})`);
          if (out.json) {
            out.emit<TransferResult>({
              type: "result",
              ...transferred(result.source, result.descriptor, result.images),
              destination: result.destination,
              ...(result.tag !== undefined ? { tag: result.tag } : {}),
            });
          } else out.print(result.descriptor.digest);
        });
      } finally {
        await client.close();
      }
    });

  const tag = new Command("tag")
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
      await withStore(opts, async (store) => {
        const done: string[] = [];
        let digest = "";
        for (const name of names) {
          const r = await store.tag(image, name);
          done.push(r.name);
          digest = r.descriptor.digest;
          out.info(`Tagged ${image} as ${r.name}`);
        }
        out.emit<TagResult>({ type: "result", image, digest, names: done });
      });
    });

  const rmi = new Command("rmi")
    .description("remove images from the local image store and free the blobs no image uses")
    .argument("<image...>", "stored images: names, digests or digest prefixes")
    .option("-f, --force", "remove every name of an image given by digest")
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
Examples:
  ferry rmi localhost/app:1.0
  ferry rmi --force 3f2a9c1b7e44`,
    )
    .action(async (images, opts) => {
      const out = output(opts.json);
      await withStore(opts, async (store) => {
        const result = await store.remove(images, { force: opts.force });
        if (out.json) {
          out.emit<RmiResult>({
            type: "result",
            untagged: result.untagged,
            removed: result.removed,
            freedBytes: result.freedBytes,
            ...(result.deferred !== undefined ? { deferred: result.deferred } : {}),
          });
        } else {
          for (const name of result.untagged) out.print(`Untagged: ${name}`);
        }
        if (result.deferred) {
          out.warn(`blobs not freed yet: ${result.deferred}`);
        } else {
          out.info(
            `Deleted ${result.removed.length} blob${result.removed.length === 1 ? "" : "s"} (${
              formatSize(result.freedBytes)
            } freed)`,
          );
        }
      });
    });

  const images = new Command("images")
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
      await withStore(opts, async (store) => {
        const list = await store.list();
        if (opts.json) {
          out.snapshot<ImagesSnapshot>({ root: resolve(store.root), images: list });
          return;
        }
        const now = Date.now();
        const rows = [["NAME", "DIGEST", "CREATED", "SIZE", "PLATFORMS"]];
        for (const image of list) {
          rows.push([
            image.name ?? "<none>",
            opts.trunc ? shortDigest(image.digest) : image.digest,
            formatAge(image.created, now),
            formatSize(image.size),
            image.platforms.join(",") || "-",
          ]);
        }
        for (const line of table(rows)) out.print(line);
      });
    });

  const inspect = new Command("inspect")
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
      await withStore(opts, async (store) => {
        const details = await store.inspect(image, {
          platform: opts.platform ? parsePlatform(opts.platform) : undefined,
          registry: opts.registry,
        });
        if (opts.json) {
          // Absent values (undefined) are left out of the JSON.
          out.snapshot<InspectSnapshot>({
            image,
            name: details.name,
            names: details.names,
            digest: details.digest,
            mediaType: details.mediaType,
            size: details.size,
            created: details.created,
            platforms: details.platforms,
            manifests: details.manifests,
            manifest: details.image,
            registry: details.registry,
            notes: details.notes,
          });
        } else for (const line of describe(details)) out.print(line);
      });
    });

  const save = new Command("save")
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
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
The archive loads with ferry load, docker load, podman load and
skopeo copy oci-archive:FILE:NAME / docker-archive:FILE:NAME.

Examples:
  ferry save -o cluster.tar localhost/my-cluster:v1.28
  ferry save --format docker-archive --platform linux/amd64 -o web.tar nginx:1.27 redis:7`,
    )
    .action(async (imageList, opts) => {
      const out = output(opts.json);
      await withStore(opts, async (store) => {
        const saved = await saveImages(store, imageList, opts.output, {
          format: opts.format,
          platforms: platformsOption(opts.platform),
          onEvent: progress(out),
        });
        out.emit<SaveResult>({
          type: "result",
          destination: formatLocation({ transport: opts.format, path: opts.output }),
          images: saved.map((s) => ({
            ...transferred(s.source, s.descriptor, s.images),
            names: s.names,
          })),
        });
        out.info(
          `Saved ${saved.length} image${
            saved.length === 1 ? "" : "s"
          } to ${opts.output} (${opts.format})`,
        );
      });
    });

  const load = new Command("load")
    .description("store every image of an oci-archive or docker-archive file")
    .requiredOption("-i, --input <file>", "archive to read (plain or gzip-compressed)")
    .option("--root <dir>", ROOT_HELP)
    .option("--json", "print one JSON event per line")
    .addHelpText(
      "after",
      `
Images keep their names (docker save's nginx:1.27 → docker.io/library/nginx:1.27). A damaged
archive leaves the store unchanged.

Examples:
  ferry load -i cluster.tar
  ferry load -i images.tar.gz --root /var/lib/ferry`,
    )
    .action(async (opts) => {
      const out = output(opts.json);
      await withStore(opts, async (store) => {
        const loaded = await loadArchive(store, opts.input, {
          onEvent: progress(out),
          warn: (m) => out.warn(m),
        });
        if (out.json) {
          out.emit<LoadResult>({
            type: "result",
            source: formatLocation({
              // Detected by loadArchive; every image's location starts with it.
              transport: loaded[0].source.startsWith("docker-archive:")
                ? "docker-archive"
                : "oci-archive",
              path: opts.input,
            }),
            images: loaded.map((l) => ({
              ...transferred(l.source, l.descriptor, l.images),
              names: l.names,
            })),
          });
          return;
        }
        for (const l of loaded) {
          for (const name of l.names.length ? l.names : [l.descriptor.digest]) {
            out.print(`Loaded image: ${name}`);
          }
        }
      });
    });

  return [pull, push, tag, rmi, images, inspect, save, load] as const;
}

/** The human-readable form of `ferry inspect`. */
function describe(d: ImageDetails): string[] {
  const lines: string[] = [];
  const field = (label: string, value: string | undefined) => {
    if (value !== undefined && value !== "") lines.push(`${`${label}:`.padEnd(12)}${value}`);
  };
  const list = (label: string, values: string[]) => {
    values.forEach((v, i) =>
      lines.push(`${i === 0 ? `${label}:`.padEnd(12) : " ".repeat(12)}${v}`)
    );
  };
  field("Name", d.name ?? d.names[0] ?? "<none>");
  if (d.names.length > 1) field("Names", d.names.join(", "));
  field("Digest", d.digest);
  field("MediaType", d.mediaType);
  field("Size", formatSize(d.size));
  field("Created", d.created);
  field("Platforms", d.platforms.join(", "));
  if (d.manifests) {
    field("Image", `${d.image.digest}${d.image.platform ? ` (${d.image.platform})` : ""}`);
  }
  const c = d.image.config;
  field("Author", c.author);
  list("Env", c.env);
  if (c.entrypoint) field("Entrypoint", JSON.stringify(c.entrypoint));
  if (c.cmd) field("Cmd", JSON.stringify(c.cmd));
  field("WorkingDir", c.workingDir);
  field("User", c.user);
  const labels = Object.entries(c.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (labels.length) {
    lines.push("Labels:");
    for (const [k, v] of labels) lines.push(`  ${k}=${v}`);
  }
  lines.push(`Layers (${d.image.layers.length}):`);
  for (const l of d.image.layers) {
    lines.push(`  ${l.digest}  ${formatSize(l.size).padStart(9)}  ${l.mediaType}`);
  }
  if (d.registry?.length === 0) lines.push("Registry images: none");
  else if (d.registry) {
    lines.push(`Registry images (${d.registry.length}):`);
    for (const r of d.registry) lines.push(`  ${r.repository}:${r.tag}  ${r.digest}`);
  }
  for (const note of d.notes) lines.push(`Note: ${note}`);
  return lines;
}
