/**
 * What `ferry registry save` does once its command line is parsed. Loaded by the command only
 * when it runs, so that defining the command (for parsing, `--help` and completions) stays cheap.
 *
 * @module
 */
import { resolve } from "../path.ts";
import type { ArchiveEntry } from "../context/mod.ts";
import { FerryError } from "../errors.ts";
// Modules, not the barrels (`mod.ts`): a save loads no gc, verify, copy or login code.
import { parseArchiveSpec } from "../transfer/location.ts";
import { archiveSource, saveImagesSettled } from "../transfer/save.ts";
import { hostPlatform, parsePlatformList } from "../platform.ts";
import { defaultRegistryClient } from "../remote/default_client.ts";
import { clientOptions } from "./access.ts";
import { type RegistrySaveResult, transferred } from "./json.ts";
import type { Output } from "./output.ts";
import type { RegistrySaveOptions } from "./registry_save.ts";
import { imageCheck } from "./verify_key.ts";

/**
 * An item of `--tars`, `docker-archive:PATH@REPO[:TAG]` or `oci-archive:…` (the syntax of
 * `tar.txt`, read by the same parser), its path relative to `base`.
 */
export function tarsEntry(spec: string, base: string): ArchiveEntry {
  const fail = (why: string): never => {
    throw new FerryError("usage", `invalid archive ${JSON.stringify(spec)}: ${why}`);
  };
  return {
    ...parseArchiveSpec(spec, { fail, path: (written) => resolve(base, written) }),
    source: { file: "--tars", line: 1, rule: "tar" },
  };
}

/** Saves the images of `context`, or of `--images` and `--tars`, as `opts` say. */
export async function registrySave(
  context: string | undefined,
  opts: RegistrySaveOptions,
  out: Output,
): Promise<void> {
  let images = opts.images ?? [];
  let archives = (opts.tars ?? []).map((t) => tarsEntry(t, Deno.cwd()));
  if (context !== undefined) {
    // Only here: context discovery (and the YAML parser behind it) is not needed for --images.
    const { discoverImages, formatWarning, referencedNotice } = await import("../context/mod.ts");
    const found = await discoverImages(context, { strict: opts.strict });
    for (const w of found.warnings) out.warn(formatWarning(w));
    images = found.images.map((i) => i.image);
    if (opts.includeReferenced) images.push(...found.referenced.map((i) => i.image));
    else if (found.referenced.length > 0) {
      out.info(referencedNotice(found.referenced.length, true));
    }
    archives = found.archives;
    if (opts.images || opts.tars) {
      out.warn("--images and --tars are ignored when a CONTEXT is given");
    }
  } else if (images.length === 0 && archives.length === 0) {
    throw new FerryError("usage", "nothing to save: give a CONTEXT, --images or --tars");
  }
  // Keys first: a bad key file fails before any image is looked for.
  const check = await imageCheck(opts);
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
      failed: [],
      totals: out.tally(0).totals(),
    });
    return;
  }
  const client = await defaultRegistryClient(clientOptions(opts, out));
  const tally = out.tally(images.length + archives.length);
  try {
    const { saved, failed, error } = await saveImagesSettled({
      check,
      registryDir: opts.registryDir,
      images,
      archives: archives.map(archiveSource),
      platforms,
      all: opts.all,
      referrers: opts.referrers,
      maxParallel: opts.maxPullProcs,
      client,
      warn: (m) => out.warn(m),
      onEvent: (e) => out.transfer(e),
    });
    out.emit<RegistrySaveResult>({
      type: "result",
      registryDir: resolve(opts.registryDir),
      images: saved.map((s) => ({
        ...transferred(s.source, s.root, s.images, s.referrers),
        destination: s.destination,
        repository: s.repository,
        ...(s.tag !== undefined ? { tag: s.tag } : {}),
      })),
      failed,
      totals: tally.totals(),
    });
    // The summary also when images failed part way (what was saved and fetched, before the error
    // line); when nothing was done at all, the error line alone says it.
    const total = saved.length + failed.length;
    const { blobs, bytesFetched } = tally.totals();
    if (!error || saved.length > 0 || blobs > 0 || bytesFetched > 0) {
      const count = failed.length === 0 ? `${saved.length}` : `${saved.length} of ${total}`;
      out.info(
        `${count} image${total === 1 ? "" : "s"} saved to ${opts.registryDir} ` +
          `(${tally.summary()})${failed.length === 0 ? "" : `; ${failed.length} failed`}`,
      );
    }
    if (error) throw error;
  } finally {
    await client.close();
  }
}
