/**
 * Content digests: parsing, streaming SHA-256, and verifying streams.
 *
 * `crypto.subtle.digest` is one-shot, so streaming hashes use `node:crypto`'s incremental hasher,
 * which Deno implements natively (well over 1 GiB/s).
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { FerryError } from "./errors.ts";

/** A validated `sha256:<64 lowercase hex>` digest string. */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** True when `value` is a well-formed sha256 digest. */
export function isDigest(value: string): value is Digest {
  return DIGEST_RE.test(value);
}

/**
 * Validates a digest string. Other algorithms than sha256 are rejected as unsupported rather than
 * as malformed, so the user learns what ferry cannot do instead of being told their input is wrong.
 */
export function parseDigest(value: string, where = "digest"): Digest {
  if (isDigest(value)) return value;
  if (ANY_DIGEST_RE.test(value) && !value.startsWith("sha256:")) {
    throw new FerryError("unsupported", `${where}: digest algorithm of ${value} is not supported`);
  }
  throw new FerryError("invalid_input", `${where}: malformed digest ${JSON.stringify(value)}`);
}

/** The hex part of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice(7);
}

/** Incremental SHA-256 over chunks. */
export class Sha256 {
  #hash: Hash = createHash("sha256");
  #size = 0;
  /** Adds a chunk. */
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
  }
  /** Bytes hashed so far. */
  get size(): number {
    return this.#size;
  }
  /** Finishes the hash. The hasher cannot be used afterwards. */
  digest(): Digest {
    return `sha256:${this.#hash.digest("hex")}`;
  }
}

/** SHA-256 of a byte array. */
export function sha256(bytes: Uint8Array | string): Digest {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** What a verified stream must match. */
export interface Expected {
  digest: Digest;
  size: number;
}

/**
 * Checks a finished hash against what was expected; throws a digest or size mismatch naming `where`.
 */
export function checkDigest(hasher: Sha256, expected: Expected, where: string): void {
  if (hasher.size !== expected.size) {
    throw new FerryError(
      "size_mismatch",
      `${where}: expected ${expected.size} bytes, got ${hasher.size}`,
    );
  }
  const got = hasher.digest();
  if (got !== expected.digest) {
    throw new FerryError(
      "digest_mismatch",
      `${where}: digest ${got} does not match ${expected.digest}`,
    );
  }
}

/**
 * Wraps a stream so that it fails (instead of ending) unless its bytes hash to `expected`; it also
 * fails as soon as more bytes than `expected.size` arrive, so a lying server cannot fill the disk.
 */
export function verifyStream(
  source: ReadableStream<Uint8Array>,
  expected: Expected,
  where: string,
): ReadableStream<Uint8Array> {
  const hasher = new Sha256();
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hasher.update(chunk);
        if (hasher.size > expected.size) {
          throw new FerryError(
            "size_mismatch",
            `${where}: more than the expected ${expected.size} bytes`,
          );
        }
        controller.enqueue(chunk);
      },
      flush() {
        checkDigest(hasher, expected, where);
      },
    }),
  );
}
