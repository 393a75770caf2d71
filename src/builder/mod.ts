/**
 * `ferry build`: cluster images from a build context (Kubefile, Sealfile, Dockerfile,
 * Containerfile) into the local image store, without a daemon or a container runtime.
 *
 * ```ts
 * const store = await ImageStore.open({ root });
 * const result = await build({ context: "./my-app", store, tags: ["my-app:1.0"], client });
 * console.log(result.names, result.descriptor.digest);
 * await store.close();
 * ```
 *
 * @module
 */
export { build } from "./build.ts";
export type {
  BuildEvent,
  BuildOptions,
  BuildResult,
  BuiltLayer,
  Compression,
  PlatformImage,
} from "./types.ts";
export {
  configBlob,
  type HistoryEntry,
  type ImageConfig,
  indexBlob,
  manifestBlob,
  rfc3339,
  type RunConfig,
} from "./config.ts";
export { type CachedLayer, LayerCache } from "./layer_cache.ts";
export { type FinalEntry, LayerStack, type PathMapper, type StackScan } from "./layer_view.ts";
export { ImageResolver, type ImageResolverOptions, type ResolvedImage } from "./images.ts";
export { holdWriteSession, storeJson, storeLayer } from "./store_blobs.ts";
