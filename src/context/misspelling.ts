/**
 * Warnings for directories that look like misspelt context directories (`mainfests/`,
 * `chart/`, `images/shims/`): Sealos silently skips them and the cluster image ships without
 * its images (labring/sealos#4478).
 *
 * @module
 */

import { join } from "node:path";
import { isFile } from "../fs_util.ts";
import { listDir, listFiles } from "./fs_util.ts";
import type { DiscoveryWarning } from "./types.ts";

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
      const meant = closest(entry.name, names);
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

function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = MAX_DISTANCE + 1;
  for (const candidate of candidates) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, counting an adjacent transposition as one edit (`mainfests`). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[rows - 1][cols - 1];
}
