/**
 * Image archives as ferry stores: writing `oci-archive` and `docker-archive` tar files
 * ({@link ArchiveWriter}) and reading them ({@link OciArchiveReader}, {@link DockerArchiveReader},
 * {@link openArchive}).
 *
 * ```ts
 * const out = await ArchiveWriter.create("app.tar", { format: "docker-archive" });
 * // … copy an image into out.repository("localhost/app") and tag it "1.0" …
 * await out.close();
 *
 * const archive = await openArchive("app.tar");
 * const [image] = await archive.images(); // { descriptor, names: ["localhost/app:1.0"] }
 * await archive.close();
 * ```
 *
 * @module
 */
export { type ArchiveFormat, ArchiveWriter, type ArchiveWriterOptions } from "./writer.ts";
export { type ArchiveImage, OciArchiveReader } from "./oci_reader.ts";
export {
  DOCKER_LAYER_TAR,
  DockerArchiveReader,
  type DockerArchiveReaderOptions,
} from "./docker_reader.ts";
export { type ArchiveReader, openArchive, type OpenArchiveOptions } from "./open.ts";
export {
  DELTA_ANNOTATION,
  DELTA_FILE,
  MAX_DELTA_RECORD,
  parseDeltaRecord,
  serializeDeltaRecord,
} from "./delta.ts";
