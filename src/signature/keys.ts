/**
 * Public keys that verify cosign signatures, read from PEM files (`cosign.pub`), and the one
 * signature check over them. The crypto is Node's `node:crypto` as Deno ships it (OpenSSL-grade
 * code that Deno maintains), never code of ferry's own.
 *
 * A key-based cosign signature is made with the key's own scheme, the payload hashed with SHA-256
 * (sigstore's `LoadVerifier(key, crypto.SHA256)`):
 *
 * | key | signature bytes |
 * | --- | --- |
 * | ECDSA P-256 (cosign's default), P-384, P-521 | ASN.1 DER `(r, s)` over SHA-256 |
 * | RSA, at least 2048 bits | PKCS #1 v1.5 over SHA-256 |
 * | Ed25519 | pure Ed25519 over the payload |
 *
 * @module
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { basename } from "../path.ts";
import { FerryError } from "../errors.ts";
import { readAll } from "../streams.ts";

/** A key file is a few hundred bytes; anything past this is not one. */
export const MAX_KEY_FILE_SIZE = 16 * 1024;

/** Smallest RSA modulus accepted, in bits (smaller keys are breakable). */
export const MIN_RSA_BITS = 2048;

const EC_CURVES: Record<string, string> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};

/** A public key that verifies signatures. */
export interface PublicKey {
  /** Names the key in reports: the file name it was read from. */
  readonly label: string;
  /** `ECDSA P-256`, `RSA 4096`, `Ed25519`. */
  readonly algorithm: string;
  /** The key itself. */
  readonly key: KeyObject;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/**
 * Parses one PEM `PUBLIC KEY` (SubjectPublicKeyInfo) block. A private key, a certificate or
 * several blocks are refused: the file given as the trusted key must be exactly that key.
 *
 * @throws {FerryError} `invalid_input` naming `label` and what is wrong.
 */
export function parsePublicKey(pem: string, label: string): PublicKey {
  const blocks = [...pem.matchAll(PEM_BLOCK)].map((m) => m[1]);
  if (blocks.length !== 1 || blocks[0] !== "PUBLIC KEY") {
    const found = blocks.length === 0 ? "no PEM block" : blocks.join(", ");
    throw new FerryError(
      "invalid_input",
      `${label}: not a PEM public key (want one "PUBLIC KEY" block, found ${found})`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new FerryError(
      "invalid_input",
      `${label}: the public key does not parse (${err instanceof Error ? err.message : err})`,
    );
  }
  return { label, algorithm: algorithmOf(key, label), key };
}

function algorithmOf(key: KeyObject, label: string): string {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === "ec") {
    const curve = EC_CURVES[details.namedCurve ?? ""];
    if (curve) return `ECDSA ${curve}`;
    throw new FerryError(
      "unsupported",
      `${label}: ECDSA curve ${details.namedCurve} is not one cosign signs with (P-256, P-384, P-521)`,
    );
  }
  if (type === "rsa") {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) {
      throw new FerryError(
        "unsupported",
        `${label}: RSA key of ${bits} bits is too small (at least ${MIN_RSA_BITS})`,
      );
    }
    return `RSA ${bits}`;
  }
  if (type === "ed25519") return "Ed25519";
  throw new FerryError(
    "unsupported",
    `${label}: ${type} keys are not supported (ECDSA, RSA or Ed25519)`,
  );
}

/**
 * Reads and parses the public key file at `path` (at most {@link MAX_KEY_FILE_SIZE} bytes).
 *
 * @throws {FerryError} `not_found`, `too_large`, `invalid_input` or `unsupported`, naming the file.
 */
export async function readPublicKey(path: string): Promise<PublicKey> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new FerryError("not_found", `${path}: no such key file`);
    }
    throw new FerryError("io", `${path}: ${err instanceof Error ? err.message : err}`);
  }
  const bytes = await readAll(file.readable, MAX_KEY_FILE_SIZE, path);
  return parsePublicKey(new TextDecoder().decode(bytes), basename(path));
}

/**
 * Whether `signature` is `key`'s signature over `payload` (see the module doc for each scheme).
 * Malformed signature bytes are a failed check, never an exception.
 */
export function verifySignature(
  key: PublicKey,
  payload: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    const hash = key.key.asymmetricKeyType === "ed25519" ? null : "sha256";
    return verify(hash, payload, key.key, signature);
  } catch {
    return false;
  }
}
