/**
 * Putting what a build makes into the local image store: layer blobs (streamed, digest known only
 * at the end) and small JSON documents (configs, manifests, indexes).
 *
 * The store's `push` wants the digest before the bytes, which a layer being tarred cannot give
 * without writing it twice (or hashing a gigabyte twice). So a layer goes the way the layout
 * stages its own blobs: into a staging file under `<root>/.ferry/tmp` (never read as a blob),
 * fsynced, then renamed to `blobs/sha256/<hex>` once its digest is known. The rename is atomic and
 * content addressed, so a concurrent writer of the same blob is harmless, and the store's write
 * session (taken before the first byte) keeps garbage collection away from the staging file and
 * from the blob until the image is tagged.
 *
 * @module
 */
import { EMPTY_DIGEST } from "../digest.ts";
import type { ImageStore } from "../image_store/mod.ts";
import type { LayerResult, LayerWriter } from "../layer/mod.ts";
import type { Descriptor } from "../manifest.ts";
import { OCI_EMPTY } from "../media_types.ts";
import { randomName, writeAll } from "../fs_util.ts";
import { bytesSource } from "../store.ts";
import type { JsonBlob } from "./config.ts";

const EMPTY: Descriptor = { mediaType: OCI_EMPTY, digest: EMPTY_DIGEST, size: 0 };

/**
 * Takes the store's write session, so that `ferry rmi`/gc in another process waits until this
 * process is done (any write-side call takes it; `exists` is the cheapest).
 */
export async function holdWriteSession(store: ImageStore): Promise<void> {
  await store.target().exists(EMPTY);
}

/**
 * Streams a layer into the store and returns its digests. Nothing appears under `blobs/` unless
 * the whole layer was written and synced.
 */
export async function storeLayer(store: ImageStore, layer: LayerWriter): Promise<LayerResult> {
  await holdWriteSession(store);
  const tmp = `${await store.layout.stagingDir()}/${randomName("layer")}`;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    // Lent chunks: the writer reuses their memory once each write is done.
    const out = file;
    const result = await layer.writeTo((chunk) => writeAll(out, chunk));
    await file.sync();
    file.close();
    file = undefined;
    await store.layout.publishBlob(tmp, result.digest, result.size);
    return result;
  } catch (err) {
    file?.close();
    await layer.stream.cancel().catch(() => {});
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Pushes a small JSON blob (config, manifest, index) unless the store has it. */
export async function storeJson(store: ImageStore, blob: JsonBlob): Promise<void> {
  const target = store.target();
  if (await target.exists(blob.descriptor)) return;
  await target.push(blob.descriptor, bytesSource(blob.bytes));
}
