/**
 * `.sealignore`: images not to save. Each line is compared verbatim (no trimming, no comments,
 * no normalisation) with the listed image, as Sealos does.
 *
 * @module
 */

import { readTextIfExists } from "../fs_util.ts";
import { splitLines } from "./line_scanner.ts";
import type { DiscoveredImage } from "./types.ts";

/** Lines of the ignore file, or an empty set when it does not exist. */
export async function readSealignore(path: string): Promise<Set<string>> {
  const text = await readTextIfExists(path);
  if (text === undefined) return new Set();
  // A line terminator is "\n" or "\r\n", as Go's line scanner reads it; nothing else is trimmed.
  return new Set(splitLines(text).filter((line) => line !== ""));
}

/**
 * Whether `.sealignore` drops `image`. Besides the exact name, a found `repo:tag@digest` also
 * matches the `repo:tag` Sealos would have listed for it, so ignore lines written for Sealos keep
 * working; shim entries are compared verbatim only, as Sealos keeps their digests.
 */
export function isIgnored(image: DiscoveredImage, ignore: ReadonlySet<string>): boolean {
  // Sealos lists every spelling apart and saves the ones not ignored: drop only when all are.
  return nameIgnored(image, ignore) && (image.aliases ?? []).every((a) => ignore.has(a));
}

function nameIgnored(image: DiscoveredImage, ignore: ReadonlySet<string>): boolean {
  if (ignore.has(image.image)) return true;
  if (image.sources.every((s) => s.rule === "shim")) return false;
  const sealosName = withoutPinnedDigest(image.image);
  return sealosName !== undefined && ignore.has(sealosName);
}

/** `repo:tag@digest` → `repo:tag` (what Sealos lists); `undefined` unless both tag and digest. */
export function withoutPinnedDigest(image: string): string | undefined {
  const at = image.indexOf("@");
  if (at === -1) return undefined;
  const name = image.slice(0, at);
  const colon = name.lastIndexOf(":");
  return colon !== -1 && !name.slice(colon).includes("/") ? name : undefined;
}

/** Splits `images` into kept and ignored names. */
export function applyIgnore(
  images: DiscoveredImage[],
  ignore: ReadonlySet<string>,
): { kept: DiscoveredImage[]; ignored: string[] } {
  const kept: DiscoveredImage[] = [];
  const ignored: string[] = [];
  for (const image of images) {
    if (isIgnored(image, ignore)) ignored.push(image.image);
    else kept.push(image);
  }
  return { kept, ignored };
}
