/**
 * Content digests: parsing, SHA-256 of bytes in memory and of streams, and verifying streams.
 *
 * Two engines, one API. Bytes already in memory (manifests, configs, links, tokens) are hashed by
 * WebCrypto's `crypto.subtle.digest`: native, but one-shot and async. Streams (blobs) need an
 * incremental hasher, which WebCrypto lacks, so {@link Sha256} uses `node:crypto`'s (native, over
 * 1 GiB/s with SHA extensions). Loading `node:crypto` initialises much of Deno's Node
 * compatibility layer (tens of milliseconds), so it is imported only when the first streaming
 * hasher is made — a rerun of a finished save that hashes only small manifests never loads it —
 * and {@link preloadSha256} starts that load early, so that it overlaps a command's first network
 * round trips instead of following them.
 *
 * @module
 */
import type { Hash } from "node:crypto";
import { FerryError, printable } from "./errors.ts";

/** A validated `sha256:<64 lowercase hex>` digest string. */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const ANY_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The digest of no bytes. */
export const EMPTY_DIGEST: Digest =
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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
    throw new FerryError(
      "unsupported",
      `${where}: digest algorithm of ${printable(value)} is not supported`,
    );
  }
  throw new FerryError(
    "invalid_input",
    `${where}: malformed digest "${printable(value)}"`,
  );
}

/** The hex part of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice(7);
}

type NodeCrypto = typeof import("node:crypto");
let nodeCrypto: Promise<NodeCrypto> | undefined;
/** The streaming hasher's engine once loaded: it also hashes bytes in memory, ~15× faster. */
let loaded: NodeCrypto | undefined;

function loadNodeCrypto(): Promise<NodeCrypto> {
  return nodeCrypto ??= import("node:crypto").then((m) => loaded = m);
}

/**
 * Starts loading the streaming hasher's engine without waiting for it, so that the first
 * {@link Sha256.create} finds it loaded. Costs nothing when called again.
 */
export function preloadSha256(): void {
  // A failed load is reported by the Sha256.create that needs it.
  loadNodeCrypto().catch(() => {});
}

/** Whether loading the streaming hasher's engine has begun (by {@link preloadSha256} or a hasher). */
export function sha256EngineRequested(): boolean {
  return nodeCrypto !== undefined;
}

/** Incremental SHA-256 over chunks: made by {@link Sha256.create}. */
export class Sha256 {
  #hash: Hash;
  #size = 0;
  private constructor(hash: Hash) {
    this.#hash = hash;
  }
  /** A new hasher; the first one loads the hashing engine (see {@link preloadSha256}). */
  static async create(): Promise<Sha256> {
    const { createHash } = await loadNodeCrypto();
    return new Sha256(createHash("sha256"));
  }
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

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * SHA-256 of bytes in memory (a string is hashed as its UTF-8 bytes): by WebCrypto until the
 * streaming hasher's engine is loaded (a rerun never loads it), then by that engine, whose
 * synchronous call costs ~3 µs against WebCrypto's ~45 µs for a manifest (a save hashes each
 * manifest it reads and writes).
 */
export async function sha256(bytes: Uint8Array | string): Promise<Digest> {
  if (loaded) return `sha256:${loaded.createHash("sha256").update(bytes).digest("hex")}`;
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const sum = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  let hex = "";
  for (const byte of sum) hex += HEX[byte];
  return `sha256:${hex}`;
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
  let hasher: Sha256;
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      // The stream waits for this before its first chunk.
      async start() {
        hasher = await Sha256.create();
      },
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
