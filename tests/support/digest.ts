/**
 * Synchronous SHA-256 for building test fixtures in plain functions and generators. It uses
 * `node:crypto` directly, so fixtures do not depend on the ferry code they test (ferry's own
 * `sha256` is async: WebCrypto).
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Digest } from "../../src/digest.ts";

/** The sha256 digest of `bytes` (a string as its UTF-8 bytes). */
export function digestOf(bytes: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}
