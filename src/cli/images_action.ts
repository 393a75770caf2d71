/**
 * What the image commands (`pull`, `push`, `tag`, `rmi`, `images`, `inspect`, `save`, `load`) do
 * once their command lines are parsed. Loaded by the commands only when one runs, so that
 * defining them (for parsing, `--help` and completions) stays cheap.
 *
 * @module
 */
import { resolve } from "../path.ts";
import type { CopyEvent } from "../copy/mod.ts";
import { formatReferrerCounts } from "../copy/referrers.ts";
import { FerryError } from "../errors.ts";
import {
  type ImageDetails,
  ImageStore,
  loadArchive,
  pullImage,
  pushImage,
  saveArchive,
} from "../image_store/mod.ts";
import { hostPlatform, parsePlatform, parsePlatformList, type Platform } from "../platform.ts";
import { formatLocation } from "../transfer/mod.ts";
import { listBlobs } from "../transfer/blob_inventory.ts";
import { defaultRegistryClient } from "../remote/mod.ts";
import { clientOptions } from "./access.ts";
import { imageCheck } from "./verify_key.ts";
import type {
  ImagesOptions,
  InspectOptions,
  LoadOptions,
  PruneOptions,
  PullOptions,
  PushOptions,
  RmiOptions,
  RootOptions,
  SaveOptions,
  TagOptions,
} from "./images.ts";
import {
  type ImagesSnapshot,
  type InspectSnapshot,
  type LoadResult,
  type PruneResult,
  type PullResult,
  type RmiResult,
  type SaveResult,
  type TagResult,
  transferred,
  type TransferResult,
} from "./json.ts";
import { formatSize, type Output, shortDigest } from "./output.ts";

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

/** Copies `image` from a registry into the local image store (`ferry pull`). */
export async function runPull(image: string, o: PullOptions, out: Output): Promise<void> {
  const check = await imageCheck(o);
  const client = await defaultRegistryClient(clientOptions(o, out));
  try {
    await withStore(o, async (store) => {
      const result = await pullImage(store, image, {
        client,
        platforms: platformsOption(o.platform) ?? [hostPlatform()],
        all: o.all,
        referrers: o.referrers,
        check,
        onEvent: progress(out),
      });
      out.info(`Stored ${result.name} (${result.descriptor.digest}) in ${store.root}`);
      if (out.json) {
        out.emit<PullResult>({
          type: "result",
          ...transferred(result.source, result.descriptor, result.images, result.referrers),
          names: [result.name],
        });
      } else out.print(result.descriptor.digest);
    });
  } finally {
    await client.close();
  }
}

/** Copies the stored `image` to `destination` (`ferry push`). */
export async function runPush(
  image: string,
  destination: string | undefined,
  o: PushOptions,
  out: Output,
): Promise<void> {
  if (o.all && o.platform) {
    throw new FerryError("usage", "--all and --platform exclude each other");
  }
  const check = await imageCheck(o);
  const client = await defaultRegistryClient(clientOptions(o, out));
  try {
    await withStore(o, async (store) => {
      const result = await pushImage(store, image, destination, {
        client,
        platforms: platformsOption(o.platform),
        referrers: o.referrers,
        check,
        warn: (m) => out.warn(m),
        onEvent: progress(out),
      });
      out.info(`Pushed ${image} to ${result.destination} (${result.descriptor.digest})`);
      if (out.json) {
        out.emit<TransferResult>({
          type: "result",
          ...transferred(result.source, result.descriptor, result.images, result.referrers),
          destination: result.destination,
          ...(result.tag !== undefined ? { tag: result.tag } : {}),
        });
      } else out.print(result.descriptor.digest);
    });
  } finally {
    await client.close();
  }
}

/** Gives the stored `image` the names `names` (`ferry tag`). */
export async function runTag(
  image: string,
  names: string[],
  opts: TagOptions,
  out: Output,
): Promise<void> {
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
}

/** Removes `images` from the local image store (`ferry rmi`). */
export async function runRmi(images: string[], opts: RmiOptions, out: Output): Promise<void> {
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
}

/** Frees the blobs no image of the local image store uses (`ferry prune`). */
export async function runPrune(opts: PruneOptions, out: Output): Promise<void> {
  await withStore(opts, async (store) => {
    const result = await store.gc();
    if (out.json) {
      return out.emit<PruneResult>({
        type: "result",
        removed: result.removed,
        freedBytes: result.freedBytes,
      });
    }
    out.print(
      `Deleted ${result.removed.length} blob${result.removed.length === 1 ? "" : "s"} (${
        formatSize(result.freedBytes)
      } freed)`,
    );
  });
}

/** Lists the images in the local image store (`ferry images`). */
export async function runImages(opts: ImagesOptions, out: Output): Promise<void> {
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
}

/** Describes the stored `image` (`ferry inspect`). */
export async function runInspect(image: string, opts: InspectOptions, out: Output): Promise<void> {
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
        referrers: details.referrers,
        notes: details.notes,
      });
    } else for (const line of describe(details)) out.print(line);
  });
}

/** Writes the stored images `imageList` into one archive (`ferry save`). */
export async function runSave(imageList: string[], opts: SaveOptions, out: Output): Promise<void> {
  if (opts.base !== undefined && opts.format !== "oci-archive") {
    throw new FerryError("usage", "--base writes an oci-archive; drop --format docker-archive");
  }
  const base = opts.base !== undefined ? await listBlobs(opts.base) : undefined;
  await withStore(opts, async (store) => {
    const { images: saved, omitted } = await saveArchive(store, imageList, opts.output, {
      format: opts.format,
      platforms: platformsOption(opts.platform),
      referrers: opts.referrers,
      warn: (m) => out.warn(m),
      onEvent: progress(out),
      ...(base ? { base: new Set(base.blobs.keys()) } : {}),
    });
    const omittedSize = omitted.reduce((n, d) => n + d.size, 0);
    out.emit<SaveResult>({
      type: "result",
      destination: formatLocation({ transport: opts.format, path: opts.output }),
      images: saved.map((s) => ({
        ...transferred(s.source, s.descriptor, s.images, s.referrers),
        names: s.names,
      })),
      ...(base ? { omitted: { blobs: omitted.length, size: omittedSize } } : {}),
    });
    out.info(
      `Saved ${saved.length} image${
        saved.length === 1 ? "" : "s"
      } to ${opts.output} (${opts.format}${
        base
          ? `, differential: ${omitted.length} blob${omitted.length === 1 ? "" : "s"} (${
            formatSize(omittedSize)
          }) left out, held by ${base.path}`
          : ""
      })`,
    );
  });
}

/** Stores every image of an archive (`ferry load`). */
export async function runLoad(opts: LoadOptions, out: Output): Promise<void> {
  const check = await imageCheck(opts);
  await withStore(opts, async (store) => {
    const loaded = await loadArchive(store, opts.input, {
      referrers: opts.referrers,
      check,
      onEvent: progress(out),
      warn: (m) => out.warn(m),
    });
    if (out.json) {
      out.emit<LoadResult>({
        type: "result",
        source: formatLocation({
          transport: loaded[0].format,
          path: opts.input,
        }),
        images: loaded.map((l) => ({
          ...transferred(l.source, l.descriptor, l.images, l.referrers),
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
  const signed = formatReferrerCounts(d.referrers);
  if (signed) lines.push(`${d.referrers.signatures > 0 ? "Signed" : "Referrers"}: ${signed}`);
  for (const note of d.notes) lines.push(`Note: ${note}`);
  return lines;
}
