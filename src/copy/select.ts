/**
 * Choosing the children of an index for a set of platforms.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import { formatPlatform, type Platform, platformMatches } from "../platform.ts";

/**
 * The index entries to copy for `platforms`, one per platform, in index order. An entry matches
 * on os, architecture and (normalised) variant; attestation manifests (`unknown/unknown`) never
 * match. A wanted platform the index lacks is an error listing what it has.
 */
export function selectChildren(
  manifests: Descriptor[],
  platforms: Platform[],
  where: string,
): Descriptor[] {
  const chosen = new Set<Descriptor>();
  for (const want of platforms) {
    const hit = manifests.find((m) => platformMatches(m.platform, want));
    if (!hit) {
      const have = manifests
        .filter((m) => m.platform && m.platform.os !== "unknown")
        .map((m) => formatPlatform(m.platform!));
      throw new FerryError(
        "not_found",
        `${where}: no image for platform ${formatPlatform(want)} (available: ${
          have.join(", ") || "none"
        })`,
      );
    }
    chosen.add(hit);
  }
  return manifests.filter((m) => chosen.has(m));
}
