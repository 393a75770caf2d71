/**
 * Layer tarballs: deterministic, streamed writing (with the diffID and blob digest computed in the
 * same pass), canonical directory walks, and reading layers back.
 *
 * ```ts
 * const layer = writeLayer(walkTree(ctx + "/registry", "registry"), { compression: "gzip" });
 * await layer.stream.pipeTo(file.writable);
 * const { digest, size, diffId } = await layer.done;
 * for await (const entry of readLayer(blob)) console.log(entry.kind, entry.path);
 * ```
 *
 * @module
 */
export type * from "./types.ts";
export { type LayerWriter, writeLayer, type WriteLayerOptions } from "./write.ts";
export { tarSeconds, type WalkIgnore, type WalkOptions, walkTree } from "./walk.ts";
export { readLayer, type ReadLayerOptions } from "./read.ts";
export { normalizeLayerPath } from "./path.ts";
export {
  DEFAULT_GZIP_LEVEL,
  defaultGzipThreads,
  GZIP_BLOCK_SIZE,
  GzipEncoder,
  type GzipEncoderOptions,
  GzipWorkerPool,
} from "./gzip.ts";
