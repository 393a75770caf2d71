/**
 * Opens an image archive named in `--tars` or `images/skopeo/tar.txt` as a read-only store.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import type { Store } from "../store.ts";

/** Opens `path` as a `docker-archive` or `oci-archive`. */
export function openArchive(
  transport: "docker-archive" | "oci-archive",
  path: string,
): Promise<Store> {
  return Promise.reject(
    new FerryError("unsupported", `${transport}:${path}: archives are not readable yet`),
  );
}
