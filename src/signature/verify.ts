/**
 * Verifying an image's cosign signatures offline with public keys: resolve the signature image
 * (`sha256-<hex>.sig`) through any {@link Target}, read each signature layer's payload (bounded,
 * digest-checked), check the signature over those bytes with each key, and check that the payload
 * names the image. Only `resolve` and `fetch` are used, so a remote registry, a registry directory,
 * an OCI layout or an archive all serve.
 *
 * Keyless signatures (a Fulcio certificate, a Rekor bundle) need sigstore's trust root and a
 * clock, which an air-gapped site does not have: they are reported as not verified, never
 * counted.
 *
 * @module
 */
import { type Digest, sha256 } from "../digest.ts";
import { errorMessage, FerryError, isFerryError } from "../errors.ts";
import { type Descriptor, type ImageManifest, parseManifest } from "../manifest.ts";
import { MAX_MANIFEST_SIZE } from "../media_types.ts";
import type { Target } from "../store.ts";
import { readAll } from "../streams.ts";
import { type PublicKey, verifySignature } from "./keys.ts";
import {
  BUNDLE_ANNOTATION,
  CERTIFICATE_ANNOTATION,
  parseSimpleSigning,
  SIGNATURE_ANNOTATION,
  signatureTag,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from "./simple_signing.ts";

/** Largest signature payload read; a simple-signing payload is a few hundred bytes. */
export const MAX_SIGNATURE_PAYLOAD = 64 * 1024;
/** Most signatures (layers) one signature image may hold. */
export const MAX_SIGNATURE_LAYERS = 100;
/** Largest base64 signature annotation (an RSA 8192 signature is 1366 characters). */
export const MAX_SIGNATURE_TEXT = 4096;

/** One signature (a layer of a signature image) and what became of it. */
export interface SignatureCheck {
  /** The signature image's tag (`sha256-<hex>.sig`). */
  tag: string;
  /** The payload blob's digest. */
  payload: Digest;
  /** The key (its label) the signature verified with; absent when it did not count. */
  key?: string;
  /** The manifest or index the payload names, once the signature verified. */
  signedDigest?: Digest;
  /** The payload's `docker-reference` (reported, not enforced, as cosign does by default). */
  dockerReference?: string;
  /** Why the signature does not count. */
  problem?: string;
}

/** The outcome for one image. */
export interface ImageVerification {
  /** The manifest or index checked. */
  digest: Digest;
  /** Signatures that verified and name the image (or its index). */
  verified: number;
  /** Labels of the keys behind the verified signatures, without duplicates. */
  keys: string[];
  /** Every signature found, verified or not. */
  signatures: SignatureCheck[];
  /** Why nothing verified; absent when `verified > 0`. */
  reason?: string;
}

/** Options of {@link verifyImage}. */
export interface VerifyImageOptions {
  /** Trusted keys; a signature counts when any of them verifies it. */
  keys: readonly PublicKey[];
  /**
   * The index `image` was resolved through: cosign signs an index by its digest (`--recursive`
   * signs the children too), so a signature on the index covers a platform manifest it lists.
   */
  index?: Descriptor;
  /**
   * Where the `.sig` tags are resolved, in order (the first that holds a tag is read); default
   * the image's own target.
   */
  signatures?: readonly Target[];
  /** Names the image in problems; default the target's location. */
  label?: string;
}

/**
 * Checks the cosign signatures of `image` (a manifest or index held by `target`).
 *
 * @throws {FerryError} only when the signature image cannot be looked up (a network or registry
 *   failure other than "not found"); everything wrong with a signature is a `problem` instead.
 */
export async function verifyImage(
  target: Target,
  image: Descriptor,
  options: VerifyImageOptions,
): Promise<ImageVerification> {
  if (options.keys.length === 0) throw new FerryError("usage", "no public key to verify with");
  const homes = options.signatures?.length ? options.signatures : [target];
  const label = options.label ?? target.location;
  const candidates = [image.digest];
  if (options.index && options.index.digest !== image.digest) candidates.push(options.index.digest);
  const signatures: SignatureCheck[] = [];
  const problems: string[] = [];
  for (const digest of candidates) {
    const tag = signatureTag(digest);
    const found = await resolveIn(homes, tag);
    if (!found) continue;
    const { home, desc: sigImage } = found;
    const layers = await signatureLayers(home, sigImage, `${label}: ${tag}`);
    if ("problem" in layers) {
      problems.push(`${tag}: ${layers.problem}`);
      continue;
    }
    for (const layer of layers) {
      signatures.push(await checkLayer(home, layer, digest, tag, options.keys));
    }
  }
  const good = signatures.filter((s) => s.key !== undefined);
  const keys = [...new Set(good.map((s) => s.key!))];
  if (good.length > 0) return { digest: image.digest, verified: good.length, keys, signatures };
  problems.push(...new Set(signatures.map((s) => s.problem!)));
  const reason = problems.length > 0
    ? problems.join("; ")
    : `no signature (no ${candidates.map(signatureTag).join(" or ")})`;
  return { digest: image.digest, verified: 0, keys, signatures, reason };
}

/** The first of `homes` that holds `tag`, and what it resolves to there. */
async function resolveIn(
  homes: readonly Target[],
  tag: string,
): Promise<{ home: Target; desc: Descriptor } | undefined> {
  for (const home of homes) {
    try {
      return { home, desc: await home.resolve(tag) };
    } catch (err) {
      if (!isFerryError(err, "not_found", "invalid_reference")) throw err;
    }
  }
  return undefined;
}

/** The layers of the signature image `desc`, or why it is not one. */
async function signatureLayers(
  target: Target,
  desc: Descriptor,
  where: string,
): Promise<Descriptor[] | { problem: string }> {
  let manifest: ImageManifest;
  try {
    if (desc.size > MAX_MANIFEST_SIZE) {
      return { problem: `signature manifest of ${desc.size} bytes exceeds the 4 MiB limit` };
    }
    const bytes = await readAll(await target.fetch(desc), MAX_MANIFEST_SIZE, where);
    if (sha256(bytes) !== desc.digest) {
      return { problem: `signature manifest does not hash to ${desc.digest}` };
    }
    const parsed = parseManifest(bytes, desc.mediaType, where);
    if (parsed.kind !== "manifest") return { problem: "an index, not a signature image" };
    manifest = parsed;
  } catch (err) {
    if (!isFerryError(err)) throw err;
    return { problem: errorMessage(err) };
  }
  if (manifest.layers.length > MAX_SIGNATURE_LAYERS) {
    return {
      problem: `${manifest.layers.length} signatures (at most ${MAX_SIGNATURE_LAYERS} are read)`,
    };
  }
  return manifest.layers;
}

/** Checks one signature layer against the keys and the digest it must name. */
async function checkLayer(
  target: Target,
  layer: Descriptor,
  expected: Digest,
  tag: string,
  keys: readonly PublicKey[],
): Promise<SignatureCheck> {
  const check: SignatureCheck = { tag, payload: layer.digest };
  const problem = (text: string): SignatureCheck => ({ ...check, problem: text });
  if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) {
    return problem(`layer of type ${layer.mediaType} is not a simple-signing payload`);
  }
  const annotations = layer.annotations ?? {};
  const keyless = typeof annotations[CERTIFICATE_ANNOTATION] === "string" ||
    typeof annotations[BUNDLE_ANNOTATION] === "string";
  const text = annotations[SIGNATURE_ANNOTATION];
  if (typeof text !== "string" || text === "") {
    return problem(keyless ? keylessNote : `no ${SIGNATURE_ANNOTATION} annotation`);
  }
  const signature = decodeStdBase64(text);
  if (!signature) return problem("signature annotation is not base64 of a signature");
  if (layer.size > MAX_SIGNATURE_PAYLOAD) {
    return problem(
      `payload of ${layer.size} bytes exceeds the ${MAX_SIGNATURE_PAYLOAD}-byte limit`,
    );
  }
  let payload: Uint8Array;
  try {
    payload = await readAll(await target.fetch(layer), MAX_SIGNATURE_PAYLOAD, `${tag} payload`);
  } catch (err) {
    if (!isFerryError(err)) throw err;
    return problem(`payload ${layer.digest}: ${errorMessage(err)}`);
  }
  const got = sha256(payload);
  if (got !== layer.digest || payload.byteLength !== layer.size) {
    return problem(`payload ${layer.digest} arrived with digest ${got}`);
  }
  const key = keys.find((k) => verifySignature(k, payload, signature));
  if (!key) {
    return problem(
      keyless
        ? keylessNote
        : `signature does not verify with ${keys.map((k) => k.label).join(", ")}`,
    );
  }
  const claims = parseSimpleSigning(payload);
  if ("problem" in claims) return problem(claims.problem);
  const signed = { ...check, signedDigest: claims.digest, dockerReference: claims.dockerReference };
  if (claims.digest !== expected) {
    return { ...signed, problem: `signature for ${claims.digest} not this image` };
  }
  return { ...signed, key: key.label };
}

const keylessNote = "keyless: not verified (a certificate or bundle signature needs sigstore's " +
  "trust root; ferry verifies key-based signatures)";

const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard padded base64 (as Go's `StdEncoding` writes and reads it), or undefined. */
function decodeStdBase64(text: string): Uint8Array | undefined {
  if (text.length > MAX_SIGNATURE_TEXT || !STD_BASE64.test(text)) return undefined;
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
