/**
 * Small stream utilities shared by stores and the copy engine.
 *
 * @module
 */
import { FerryError } from "./errors.ts";

/**
 * Reads a whole stream into memory, failing once it grows past `limit` bytes (manifests, configs,
 * token responses: never blobs).
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  where: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.byteLength;
    if (total > limit) {
      await stream.cancel().catch(() => {});
      throw new FerryError("too_large", `${where}: larger than the ${limit}-byte limit`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Passes chunks through unchanged, reporting each chunk's size (progress bars). */
export function countingStream(
  onBytes: (n: number) => void,
): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      onBytes(chunk.byteLength);
      controller.enqueue(chunk);
    },
  });
}
