/**
 * What `ferry registry ls-blobs` does once its command line is parsed (loaded only when it runs).
 *
 * @module
 */
import { listBlobs } from "../transfer/blob_inventory.ts";
import type { LsBlobsSnapshot } from "./json.ts";
import type { Output } from "./output.ts";

/** Prints the blobs at `location`, sorted by digest. */
export async function registryLsBlobs(location: string, out: Output): Promise<void> {
  const inventory = await listBlobs(location);
  const digests = [...inventory.blobs.keys()].sort();
  if (out.json) {
    out.snapshot<LsBlobsSnapshot>({
      location: inventory.path,
      kind: inventory.kind,
      blobs: digests.map((digest) => {
        const size = inventory.blobs.get(digest);
        return size === undefined ? { digest } : { digest, size };
      }),
    });
    return;
  }
  for (const d of digests) out.print(d);
}
