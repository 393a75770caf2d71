/**
 * Warnings for directories that look like misspelt context directories (`mainfests/`,
 * `chart/`, `images/shims/`): Sealos silently skips them and the cluster image ships without
 * its images (labring/sealos#4478).
 *
 * @module
 */

import { join } from "../path.ts";
import { closest } from "../edit_distance.ts";
import { isFile } from "../fs_util.ts";
import { listDir, listFiles } from "./fs_util.ts";
import type { DiscoveryWarning } from "./types.ts";

export { editDistance } from "../edit_distance.ts";

const TOP_LEVEL = ["charts", "images", "manifests"];
const UNDER_IMAGES = ["shim", "skopeo"];
const MAX_DISTANCE = 2;

/**
 * Warnings for misspelt well-known directories of the context. A near-miss name alone is not
 * enough (`chart/` may hold anything on purpose): the directory must hold what Sealos would have
 * read under the right name — a chart or chart archive, YAML manifests, image lists, `tar.txt`.
 */
export async function misspelledDirectories(contextDir: string): Promise<DiscoveryWarning[]> {
  const warnings: DiscoveryWarning[] = [];
  const check = async (dir: string, prefix: string, names: string[]) => {
    for (const entry of await listDir(dir)) {
      if (!entry.isDirectory || names.includes(entry.name)) continue;
      const meant = closest(entry.name, names, MAX_DISTANCE);
      if (meant === undefined) continue;
      if (!await holdsWhatSealosReads(join(dir, entry.name), `${prefix}${meant}`)) continue;
      warnings.push({
        file: `${prefix}${entry.name}`,
        message: `directory ${prefix}${entry.name}/ is not read; did you mean ${prefix}${meant}/?`,
      });
    }
  };
  await check(contextDir, "", TOP_LEVEL);
  await check(join(contextDir, "images"), "images/", UNDER_IMAGES);
  return warnings;
}

const MANIFEST_EXTENSIONS = /\.(?:ya?ml|tmpl)$/i;

/** Whether `dir`, were it named `meant`, holds something Sealos reads. */
async function holdsWhatSealosReads(dir: string, meant: string): Promise<boolean> {
  switch (meant) {
    case "charts": {
      for (const entry of await listDir(dir)) {
        if (entry.isFile && entry.name.endsWith("tgz")) return true;
        if (entry.isDirectory && await isFile(join(dir, entry.name, "Chart.yaml"))) return true;
      }
      return false;
    }
    case "manifests":
      return (await listFiles(dir)).some((f) => MANIFEST_EXTENSIONS.test(f));
    case "images":
      return (await listFiles(join(dir, "shim"))).length > 0 ||
        await isFile(join(dir, "skopeo", "tar.txt"));
    case "images/shim":
      return (await listFiles(dir)).length > 0;
    case "images/skopeo":
      return await isFile(join(dir, "tar.txt"));
    default:
      return false;
  }
}
