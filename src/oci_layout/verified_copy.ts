/**
 * Moves a blob from a {@link ContentSource} into a local sink while hashing it, resuming from the
 * byte reached when the source breaks off with a transient error.
 *
 * @module
 */
import { checkDigest, type Expected, Sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import type { ContentSource } from "../store.ts";

/** Options for {@link copyVerified}. */
export interface CopyVerifiedOptions {
  /** Hasher already fed with the bytes the sink holds (resuming a partial file). */
  hasher?: Sha256;
  /** How often a broken source is reopened at the byte reached (default 3). */
  maxResumes?: number;
}

/** Marks a failure of the sink, which is never retried. */
class SinkError extends Error {}

/**
 * True for source failures that may heal when the source is reopened: retryable ferry errors and
 * the network errors `fetch` bodies fail with.
 */
export function isTransientError(err: unknown): boolean {
  if (isFerryError(err)) return err.retryable;
  return err instanceof TypeError || err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.ConnectionAborted || err instanceof Deno.errors.UnexpectedEof ||
    err instanceof Deno.errors.TimedOut || err instanceof Deno.errors.Interrupted ||
    err instanceof Deno.errors.BrokenPipe;
}

/**
 * Streams `content` into `write` and checks size and digest against `expected`. The sink gets each
 * chunk before it is hashed, so after a sink failure the hash covers only bytes the sink accepted.
 * Fails as soon as the source yields more than `expected.size` bytes.
 *
 * @throws {FerryError} `size_mismatch` / `digest_mismatch`; the source's or the sink's error.
 */
export async function copyVerified(
  content: ContentSource,
  expected: Expected,
  where: string,
  write: (chunk: Uint8Array) => Promise<void>,
  options: CopyVerifiedOptions = {},
): Promise<void> {
  const hasher = options.hasher ?? await Sha256.create();
  const maxResumes = options.maxResumes ?? 3;
  let resumes = 0;
  for (;;) {
    try {
      if (hasher.size < expected.size || expected.size === 0) {
        const stream = await content(hasher.size);
        for await (const chunk of stream) {
          if (hasher.size + chunk.byteLength > expected.size) {
            throw new FerryError(
              "size_mismatch",
              `${where}: more than the expected ${expected.size} bytes`,
            );
          }
          try {
            await write(chunk);
          } catch (err) {
            throw new SinkError("sink failed", { cause: err });
          }
          hasher.update(chunk);
        }
      }
      break;
    } catch (err) {
      if (err instanceof SinkError) throw err.cause;
      if (!isTransientError(err) || resumes >= maxResumes) throw err;
      resumes++;
    }
  }
  checkDigest(hasher, expected, where);
}
