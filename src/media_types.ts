/**
 * Media types of the OCI image spec and Docker's v2 schema 2, and their classes.
 *
 * @module
 */

/** OCI image manifest. */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** OCI image index. */
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** OCI image config. */
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
/** OCI gzip layer. */
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
/** OCI uncompressed layer. */
export const OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
/** OCI zstd layer. */
export const OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
/** OCI empty JSON descriptor (artifacts). */
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
/** Docker v2 schema 2 manifest. */
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** Docker manifest list. */
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** Docker image config. */
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
/** Docker gzip layer. */
export const DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/** Docker schema 1 (unsupported; recognised only to explain the error). */
export const DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
/** Docker signed schema 1. */
export const DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/** Manifest types ferry understands, in the order sent in `Accept`. */
export const MANIFEST_TYPES: readonly string[] = [
  OCI_INDEX,
  OCI_MANIFEST,
  DOCKER_LIST,
  DOCKER_MANIFEST,
];

/** True for image indexes and manifest lists. */
export function isIndexType(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_LIST;
}

/** True for single-image manifests. */
export function isImageManifestType(mediaType: string): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

/** True for anything stored at a registry's `/manifests/` endpoint rather than `/blobs/`. */
export function isManifestType(mediaType: string): boolean {
  return isIndexType(mediaType) || isImageManifestType(mediaType);
}

/** Largest manifest ferry accepts (the distribution spec's recommended 4 MiB). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;
