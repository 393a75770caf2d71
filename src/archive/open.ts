/**
 * Opening an archive whose format is not known in advance (`ferry load`).
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { DockerArchiveReader, type DockerArchiveReaderOptions } from "./docker_reader.ts";
import { OciArchiveReader } from "./oci_reader.ts";
import { TarFile } from "./tar_file.ts";
import type { ArchiveFormat } from "./writer.ts";

/** Either archive reader. */
export type ArchiveReader = OciArchiveReader | DockerArchiveReader;

/** Options for {@link openArchive}. */
export interface OpenArchiveOptions extends DockerArchiveReaderOptions {
  /** Read as this format; default: detect (docker-archive when `manifest.json` is present). */
  format?: ArchiveFormat;
}

/**
 * Opens an oci-archive or docker-archive. Detection prefers docker-archive when the tar has a
 * `manifest.json`, because Docker ≥ 25 and ferry write archives that are both, and only
 * `manifest.json` carries the full image names (`RepoTags`).
 *
 * @throws {FerryError} `invalid_input` when the tar is neither.
 */
export async function openArchive(
  path: string,
  options: OpenArchiveOptions = {},
): Promise<ArchiveReader> {
  const tar = await TarFile.open(path);
  try {
    const format = options.format ??
      (tar.file("manifest.json")
        ? "docker-archive"
        : tar.file("index.json")
        ? "oci-archive"
        : undefined);
    if (format === "docker-archive") return await DockerArchiveReader.fromTar(tar, options);
    if (format === "oci-archive") return await OciArchiveReader.fromTar(tar);
    throw new FerryError(
      "invalid_input",
      `${path}: neither an oci-archive nor a docker-archive (no index.json or manifest.json)`,
    );
  } catch (err) {
    await tar.close();
    throw err;
  }
}
