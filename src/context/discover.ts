/**
 * Image discovery in a build context: the images and archives a cluster image carries.
 *
 * ferry finds everything Sealos finds (same rules, same output strings, so `.sealignore` lines
 * written for Sealos keep matching) plus what a YAML-aware walk finds that Sealos misses, and
 * records where each image was found.
 *
 * @module
 */

import { resolve } from "node:path";
import { FerryError } from "../errors.ts";
import { scanCharts } from "./charts.ts";
import { Collector } from "./collector.ts";
import { scanManifests } from "./manifests.ts";
import { misspelledDirectories } from "./misspelling.ts";
import { applyIgnore, readIgnoreFile } from "./sealignore.ts";
import { scanShim } from "./shim.ts";
import { readTarList } from "./tar_list.ts";
import type { DiscoverOptions, DiscoveryResult } from "./types.ts";

/** Name of the ignore list in a context directory. */
export const IGNORE_FILE = ".sealignore";

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

  const ignore = await readIgnoreFile(options.ignoreFile ?? resolve(context, IGNORE_FILE));
  const { kept, ignored } = applyIgnore(collector.images(), ignore);
  return { images: kept, archives, warnings: collector.warnings, ignored };
}
