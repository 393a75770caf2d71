/**
 * Every place an image can live, behind the one {@link Store} / {@link Target} interface: remote
 * registries, registry directories (distribution's on-disk layout), OCI layouts, oci- and
 * docker-archives, a store in memory, and the local image store. Each store's own module (its
 * subpath export) holds the rest of its API.
 *
 * ```ts
 * import { MemoryStore, RegistryDir } from "@ferry/ferry/stores";
 * import { CopyEngine } from "@ferry/ferry/copy";
 *
 * const src = await RegistryDir.open("registry", { readOnly: true });
 * const dst = new MemoryStore();
 * await new CopyEngine().copy(src.repository("org/app"), "1.0", dst.repository("org/app"), {
 *   platforms: [{ os: "linux", architecture: "amd64" }],
 *   tags: ["1.0"],
 * });
 * await src.close();
 * ```
 *
 * @module
 */
export {
  bytesSource,
  type ContentSource,
  type FetchOptions,
  type PushOptions,
  type Store,
  type Target,
} from "../store.ts";
export {
  RegistryClient,
  type RegistryClientOptions,
  RemoteRegistry,
  RemoteRepository,
} from "../remote/mod.ts";
export {
  RegistryDir,
  type RegistryDirOptions,
  RegistryDirRepository,
} from "../registry_dir/mod.ts";
export { OciLayout, type OciLayoutOptions, type OciLayoutTarget } from "../oci_layout/mod.ts";
export {
  type ArchiveFormat,
  ArchiveWriter,
  type ArchiveWriterOptions,
  DockerArchiveReader,
  OciArchiveReader,
  openArchive,
} from "../archive/mod.ts";
export { MemoryRepository, MemoryStore } from "../memory_store/mod.ts";
export { ImageStore, type ImageStoreOptions } from "../image_store/mod.ts";
