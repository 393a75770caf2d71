/**
 * `ferry merge`: one cluster image from several, with Sealos's semantics (file systems overlaid
 * in order, labels and environment unioned, ENTRYPOINT and CMD concatenated), reusing the inputs'
 * layers wherever that gives the same file system.
 *
 * ```ts
 * const store = await ImageStore.open({ root });
 * const merged = await mergeImages({ store, images: ["k8s:v1.28", "calico:v3.26"], tags: ["all:1"] });
 * console.log(merged.names, merged.descriptor.digest);
 * await store.close();
 * ```
 *
 * @module
 */
export {
  type MergedLayer,
  type MergeEvent,
  mergeImages,
  type MergeOptions,
  type MergeResult,
} from "./merge.ts";
export { mergeRunConfigs, TYPE_LABELS } from "./merge_config.ts";
