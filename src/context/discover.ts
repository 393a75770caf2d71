/**
 * Image discovery in a build context: the images and archives a cluster image carries.
 *
 * ferry finds everything Sealos finds (same rules, same output strings, so `.sealignore` lines
 * written for Sealos keep matching) plus what a YAML-aware walk finds that Sealos misses, and
 * records where each image was found.
 *
 * @module
 */

import { resolve } from "../path.ts";
import { FerryError } from "../errors.ts";
import { scanCharts } from "./charts.ts";
import { Collector } from "./collector.ts";
import { scanManifests } from "./manifests.ts";
import { misspelledDirectories } from "./misspelling.ts";
import { applyIgnore, readSealignore } from "./sealignore.ts";
import { scanShim } from "./shim.ts";
import { readTarList } from "./tar_list.ts";
import type { DiscoveredImage, DiscoverOptions, DiscoveryResult } from "./types.ts";

/** Name of the ignore list in a context directory. */
export const IGNORE_FILE = ".sealignore";

/** The flag of `registry save` and `build` that saves referenced-only images too. */
export const INCLUDE_REFERENCED_FLAG = "--include-referenced";

/**
 * The one line saying that `count` images named only in env values or container args
 * ({@link DiscoveryResult.referenced}) are not saved (`leftOut`: were left out of a save), and
 * how to include them.
 */
export function referencedNotice(count: number, leftOut: boolean): string {
  const one = count === 1;
  const verb = leftOut
    ? (one ? "was left out" : "were left out")
    : one
    ? "is not saved"
    : "are not saved";
  return `${count} image${one ? "" : "s"} named only in env values or container args ${verb} ` +
    `(references, such as every version an operator supports); ${INCLUDE_REFERENCED_FLAG} ` +
    "saves them too";
}

/**
 * Discovers the images of the build context `contextDir`: charts under `charts/`, manifests
 * under `manifests/`, lists under `images/shim/`, archives listed in `images/skopeo/tar.txt`,
 * minus `.sealignore`. Missing subdirectories are fine.
 *
 * @throws {FerryError} `invalid_input` when the context does not exist, a chart directory is not
 * a chart or `tar.txt` has a bad line; under `strict`, also for every unusable entry.
 */
export async function discoverImages(
  contextDir: string,
  options: DiscoverOptions = {},
): Promise<DiscoveryResult> {
  const context = resolve(contextDir);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(context);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      throw new FerryError("invalid_input", `context directory ${contextDir} does not exist`);
    }
    throw err;
  }
  if (!info.isDirectory) {
    throw new FerryError("invalid_input", `context directory ${contextDir} is not a directory`);
  }

  const collector = new Collector(options.strict ?? false);
  for (const warning of await misspelledDirectories(context)) collector.warn(warning);
  await scanCharts(context, collector, options.helm);
  await scanManifests(context, collector);
  await scanShim(context, collector);
  const archives = await readTarList(context, collector);

  const ignore = await readSealignore(options.ignoreFile ?? resolve(context, IGNORE_FILE));
  const { kept, ignored } = applyIgnore(collector.images(), ignore);
  const referencedOnly = (i: DiscoveredImage) => i.sources.every((s) => s.referencedIn);
  return {
    images: kept.filter((i) => !referencedOnly(i)),
    referenced: kept.filter(referencedOnly),
    archives,
    warnings: collector.warnings,
    ignored,
  };
}
