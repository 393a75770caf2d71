/**
 * Build-context discovery: which images and image archives a cluster image must carry, found
 * with Sealos's rules (charts, manifests, shim lists, `images/skopeo/tar.txt`, `.sealignore`)
 * plus a YAML-aware walk, each image with the places it was found.
 *
 * @example
 * ```ts
 * import { discoverImages } from "./mod.ts";
 *
 * const { images, archives, warnings } = await discoverImages("./my-cluster-image");
 * for (const { image, sources } of images) console.log(image, sources[0].file);
 * ```
 *
 * @module
 */

export {
  discoverImages,
  IGNORE_FILE,
  INCLUDE_REFERENCED_FLAG,
  referencedNotice,
} from "./discover.ts";
export { HELM_ENV } from "./helm.ts";
export { imageFromLine } from "./line_scanner.ts";
export type {
  ArchiveEntry,
  ArchiveTransport,
  DiscoveredImage,
  DiscoverOptions,
  DiscoveryResult,
  DiscoveryRule,
  DiscoveryWarning,
  ImageSource,
} from "./types.ts";
export { formatWarning } from "./collector.ts";
