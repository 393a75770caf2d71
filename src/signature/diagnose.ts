/**
 * Why a signature that did not verify did not: made with another key, over another payload (the
 * payload changed after signing), or changed itself. Only the reason is decided here: whether a
 * signature counts is {@link verifySignature}'s answer alone, and nothing read here can make it
 * count.
 *
 * What can be told, and from what:
 *
 * - A signature of another kind than the key's (DER that is not ECDSA, integers too long for the
 *   key's curve, an Ed25519 signature that is not 64 bytes, an RSA signature of another modulus
 *   size) was made with another key.
 * - An RSA signature opens with the key (its PKCS #1 padding decodes) to the SHA-256 of other
 *   bytes: the key signed another payload, so the payload was changed after signing.
 * - cosign's transparency-log bundle (`dev.sigstore.cosign/bundle`, written with key-based
 *   signatures by default) records the public key that signed, the payload's hash and the
 *   signature. It is not verified (that needs the log's key): it only says which explanation
 *   fits, and a logged signature is believed only where it verifies with a trusted key.
 * - Otherwise an ECDSA or Ed25519 signature that does not verify is equally explained by another
 *   key and by a changed signature or payload: the reason says so rather than guess.
 *
 * @module
 */
import { constants, createHash, createPublicKey, type KeyObject, publicDecrypt } from "node:crypto";
import { type PublicKey, verifySignature } from "./keys.ts";

/** Largest bundle annotation read for a reason; cosign's is a few KiB. */
export const MAX_BUNDLE_TEXT = 64 * 1024;

/** The hash OIDs' DER prefix of a PKCS #1 v1.5 SHA-256 DigestInfo. */
const SHA256_DIGEST_INFO = "3031300d060960864801650304020105000420";

const CURVE_BYTES: Record<string, number> = { "P-256": 32, "P-384": 48, "P-521": 66 };

/**
 * The reason `signature` (decoded from `text`, the annotation) over `payload` does not verify
 * with any of `keys`, in one line: `signature does not verify with KEYS: WHY`.
 */
export function whyNotVerified(
  keys: readonly PublicKey[],
  payload: Uint8Array,
  signature: Uint8Array,
  text: string,
  bundle: string | undefined,
): string {
  const names = keys.map((k) => k.label).join(", ");
  return `signature does not verify with ${names}: ${
    fromLogEntry(keys, payload, text, bundle) ?? fromSignature(keys, payload, signature)
  }`;
}

/** What the signature's bytes tell against each key; the most specific answer. */
function fromSignature(
  keys: readonly PublicKey[],
  payload: Uint8Array,
  signature: Uint8Array,
): string {
  const kinds = keys.map((k) => otherKind(k, signature));
  if (kinds.every((k) => k !== undefined)) {
    return `made with another key (${kinds.join("; ")})`;
  }
  for (const key of keys) {
    const signed = rsaSignedHash(key, signature);
    if (signed !== undefined && signed !== sha256Hex(payload)) {
      return `${key.label} signed other bytes: the payload was changed after signing`;
    }
  }
  if (keys.every((k) => k.key.asymmetricKeyType === "rsa")) {
    return "made with another key, or the signature was changed";
  }
  return "made with another key, or the signature or payload was changed (an ECDSA or Ed25519 " +
    "signature cannot tell which)";
}

/** Why `signature` cannot be `key`'s by its form, or undefined when it could be. */
function otherKind(key: PublicKey, signature: Uint8Array): string | undefined {
  const type = key.key.asymmetricKeyType;
  if (type === "ed25519") {
    return signature.byteLength === 64
      ? undefined
      : `${signature.byteLength} bytes, not an Ed25519 signature`;
  }
  if (type === "rsa") {
    const bytes = Math.ceil((key.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
    return signature.byteLength === bytes
      ? undefined
      : `${signature.byteLength * 8} bits, not an ${key.algorithm} signature`;
  }
  const size = CURVE_BYTES[key.algorithm.replace("ECDSA ", "")];
  const ints = derIntegers(signature);
  if (!ints) return "not an ECDSA signature";
  if (ints.some((n) => n > size)) return `too long for an ${key.algorithm} signature`;
  return undefined;
}

/** The byte lengths of `r` and `s` of a DER ECDSA signature (leading zeros dropped), or undefined. */
function derIntegers(sig: Uint8Array): [number, number] | undefined {
  const length = (at: number): [number, number] | undefined => {
    const first = sig[at];
    if (first === undefined) return undefined;
    if (first < 0x80) return [first, at + 1];
    if (first === 0x81 && sig[at + 1] !== undefined) return [sig[at + 1], at + 2];
    return undefined;
  };
  if (sig[0] !== 0x30) return undefined;
  const seq = length(1);
  if (!seq || seq[1] + seq[0] !== sig.byteLength) return undefined;
  let at = seq[1];
  const sizes: number[] = [];
  for (let i = 0; i < 2; i++) {
    if (sig[at] !== 0x02) return undefined;
    const int = length(at + 1);
    if (!int || int[0] === 0 || int[1] + int[0] > sig.byteLength) return undefined;
    let n = int[0];
    let start = int[1];
    while (n > 1 && sig[start] === 0) [n, start] = [n - 1, start + 1];
    sizes.push(n);
    at = int[1] + int[0];
  }
  return at === sig.byteLength ? [sizes[0], sizes[1]] : undefined;
}

/**
 * The SHA-256 (hex) an RSA key's PKCS #1 v1.5 signature was made over, or undefined when the
 * key is not RSA or the padding does not decode with it (another key, or a changed signature).
 */
function rsaSignedHash(key: PublicKey, signature: Uint8Array): string | undefined {
  if (key.key.asymmetricKeyType !== "rsa") return undefined;
  let opened: Uint8Array;
  try {
    opened = publicDecrypt({ key: key.key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return undefined;
  }
  const text = hex(opened);
  return text.startsWith(SHA256_DIGEST_INFO) && opened.byteLength === 51
    ? text.slice(SHA256_DIGEST_INFO.length)
    : undefined;
}

/**
 * What cosign's transparency-log bundle of the signature says, when it holds a `hashedrekord`
 * entry with a public key (not a certificate): undefined when there is none or it does not parse.
 */
function fromLogEntry(
  keys: readonly PublicKey[],
  payload: Uint8Array,
  text: string,
  bundle: string | undefined,
): string | undefined {
  if (bundle === undefined || bundle.length > MAX_BUNDLE_TEXT) return undefined;
  const entry = hashedRekord(bundle);
  if (!entry) return undefined;
  const logged = keys.find((k) => k.key.equals(entry.key));
  if (entry.hash !== sha256Hex(payload)) {
    return `the payload was changed after signing (the signature's log entry, unverified, ` +
      `records a payload of SHA-256 ${entry.hash.slice(0, 12)}…)`;
  }
  if (!logged) {
    return `signed with another key (the signature's log entry, unverified, names a key ` +
      `with SPKI SHA-256 ${fingerprint(entry.key)})`;
  }
  if (entry.signature !== text) {
    const proof = decodeBase64(entry.signature);
    if (proof && verifySignature(logged, payload, proof)) {
      return `the signature was changed (the signature its log entry records verifies with ` +
        `${logged.label})`;
    }
  }
  return `the signature was changed (its log entry names ${logged.label} and this payload)`;
}

/** The key, payload hash and signature of a bundle's `hashedrekord` entry, or undefined. */
function hashedRekord(
  bundle: string,
): { key: KeyObject; hash: string; signature: string } | undefined {
  try {
    const doc = JSON.parse(bundle);
    const body = JSON.parse(
      new TextDecoder().decode(decodeBase64(doc?.Payload?.body) ?? new Uint8Array()),
    );
    if (body?.kind !== "hashedrekord") return undefined;
    const hash = body.spec?.data?.hash;
    const signature = body.spec?.signature;
    if (hash?.algorithm !== "sha256" || typeof hash.value !== "string") return undefined;
    if (typeof signature?.content !== "string") return undefined;
    const pem = new TextDecoder().decode(
      decodeBase64(signature.publicKey?.content) ?? new Uint8Array(),
    );
    if (!/^-----BEGIN PUBLIC KEY-----/.test(pem.trim())) return undefined;
    return {
      key: createPublicKey({ key: pem, format: "pem" }),
      hash: hash.value.toLowerCase(),
      signature: signature.content,
    };
  } catch {
    return undefined;
  }
}

function fingerprint(key: KeyObject): string {
  return `${sha256Hex(key.export({ type: "spki", format: "der" })).slice(0, 16)}…`;
}

// Synchronous, unlike digest.ts's sha256: this module runs after a signature failed to verify,
// never at start-up, and already needs node:crypto for the keys.
function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function decodeBase64(text: unknown): Uint8Array | undefined {
  if (typeof text !== "string" || text.length > MAX_BUNDLE_TEXT) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}
