/**
 * Verifying an image's cosign signatures offline with public keys: resolve the signature image
 * (`sha256-<hex>.sig`) and list the signatures stored as OCI 1.1 referrers through any
 * {@link Target}, read each signature layer's payload (bounded, digest-checked), check the
 * signature over those bytes with each key, and check that the payload names the image. Only
 * `resolve`, `fetch` and `referrers` are used, so a remote registry, a registry directory, an OCI
 * layout or an archive all serve.
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
import { isImageManifestType, MAX_MANIFEST_SIZE } from "../media_types.ts";
import { listReferrers } from "../copy/referrers.ts";
import type { Target } from "../store.ts";
import { readAll } from "../streams.ts";
import { whyNotVerified } from "./diagnose.ts";
import { type PublicKey, verifySignature } from "./keys.ts";
import {
  BUNDLE_ANNOTATION,
  CERTIFICATE_ANNOTATION,
  parseSimpleSigning,
  SIGNATURE_ANNOTATION,
  SIGNATURE_ARTIFACT_TYPE,
  signatureTag,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from "./simple_signing.ts";

/** Largest signature payload read; a simple-signing payload is a few hundred bytes. */
export const MAX_SIGNATURE_PAYLOAD = 64 * 1024;
/** Most signatures (layers) one signature image may hold. */
export const MAX_SIGNATURE_LAYERS = 100;
/** Largest base64 signature annotation (an RSA 8192 signature is 1366 characters). */
export const MAX_SIGNATURE_TEXT = 4096;

/** Most cosign signatures stored as OCI 1.1 referrers read for one digest. */
export const MAX_SIGNATURE_REFERRERS = 32;

/** One signature (a layer of a signature image) and what became of it. */
export interface SignatureCheck {
  /** The signature image's tag (`sha256-<hex>.sig`); absent for an OCI 1.1 referrer. */
  tag?: string;
  /** The signature manifest's digest, for a signature stored as an OCI 1.1 referrer. */
  referrer?: Digest;
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

/** Where a signature manifest was found: under a cosign tag, or as an OCI 1.1 referrer. */
type Origin = { tag: string } | { referrer: Digest };

/**
 * Checks the cosign signatures of `image` (a manifest or index held by `target`): those of its
 * signature image (`sha256-<hex>.sig`) and those stored as OCI 1.1 referrers of it (listed by the
 * target's referrers API, else its fallback tag `sha256-<hex>`).
 *
 * @throws {FerryError} only when the signatures cannot be looked up (a network or registry
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
  const candidates = [image];
  if (options.index && options.index.digest !== image.digest) candidates.push(options.index);
  const signatures: SignatureCheck[] = [];
  const problems: string[] = [];
  for (const subject of candidates) {
    const digest = subject.digest;
    const found: { home: Target; desc: Descriptor; origin: Origin }[] = [];
    const tag = signatureTag(digest);
    // The two lookups at once: a registry round trip each.
    const [tagged, listed] = await Promise.all([
      resolveIn(homes, tag),
      signatureReferrers(target, subject, label),
    ]);
    if (tagged) found.push({ ...tagged, origin: { tag } });
    if ("problem" in listed) problems.push(listed.problem);
    else {
      for (const desc of listed) {
        // A manifest both tagged and listed is one signature image, read once.
        if (desc.digest === tagged?.desc.digest) continue;
        found.push({ home: target, desc, origin: { referrer: desc.digest } });
      }
    }
    for (const { home, desc, origin } of found) {
      const name = "tag" in origin ? origin.tag : `signature referrer ${origin.referrer}`;
      const layers = await signatureLayers(home, desc, `${label}: ${name}`, subject, origin);
      if ("problem" in layers) {
        problems.push(`${name}: ${layers.problem}`);
        continue;
      }
      for (const layer of layers) {
        signatures.push(await checkLayer(home, layer, digest, origin, options.keys));
      }
    }
  }
  const good = signatures.filter((s) => s.key !== undefined);
  const keys = [...new Set(good.map((s) => s.key!))];
  if (good.length > 0) return { digest: image.digest, verified: good.length, keys, signatures };
  problems.push(...new Set(signatures.map((s) => s.problem!)));
  const reason = problems.length > 0
    ? problems.join("; ")
    : `no signature (no ${
      candidates.map((c) => signatureTag(c.digest)).join(" or ")
    }, no signature referrer)`;
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

/**
 * The OCI 1.1 referrers of `subject` in `target` that may be cosign signatures, or why they
 * cannot be read: those listed with the signature artifact type, and those listed without any
 * (a fallback index copied by a tool that drops the field, as skopeo 1.9 does), whose manifest's
 * own type decides. The list is the source's word: each manifest's subject and type are checked
 * when it is read.
 */
async function signatureReferrers(
  target: Target,
  subject: Descriptor,
  label: string,
): Promise<Descriptor[] | { problem: string }> {
  let listed: Descriptor[];
  try {
    listed = await listReferrers(target, subject, label);
  } catch (err) {
    if (!isFerryError(err, "invalid_input", "too_large", "digest_mismatch", "unsupported")) {
      throw err;
    }
    return { problem: `referrers of ${subject.digest}: ${errorMessage(err)}` };
  }
  const signatures = listed.filter((d) =>
    d.artifactType === SIGNATURE_ARTIFACT_TYPE ||
    (d.artifactType === undefined && isImageManifestType(d.mediaType))
  );
  if (signatures.length > MAX_SIGNATURE_REFERRERS) {
    return {
      problem: `${subject.digest} has ${signatures.length} signature referrers, or referrers ` +
        `listed without a type (at most ${MAX_SIGNATURE_REFERRERS} are read)`,
    };
  }
  return signatures;
}

/**
 * The layers of the signature manifest `desc`, or why it is not one. A referrer must name
 * `subject` as its own and be a cosign signature by its type (one listed without a type that is
 * not a signature has no layers to check); a tagged one is named by its tag.
 */
async function signatureLayers(
  target: Target,
  desc: Descriptor,
  where: string,
  subject: Descriptor,
  origin: Origin,
): Promise<Descriptor[] | { problem: string }> {
  let manifest: ImageManifest;
  try {
    if (desc.size > MAX_MANIFEST_SIZE) {
      return { problem: `signature manifest of ${desc.size} bytes exceeds the 4 MiB limit` };
    }
    const bytes = await readAll(await target.fetch(desc), MAX_MANIFEST_SIZE, where);
    if (await sha256(bytes) !== desc.digest) {
      return { problem: `signature manifest does not hash to ${desc.digest}` };
    }
    const parsed = parseManifest(bytes, desc.mediaType, where);
    if (parsed.kind !== "manifest") return { problem: "an index, not a signature image" };
    manifest = parsed;
  } catch (err) {
    if (!isFerryError(err)) throw err;
    return { problem: errorMessage(err) };
  }
  if ("referrer" in origin) {
    if (manifest.subject?.digest !== subject.digest) {
      return {
        problem: `its subject is ${manifest.subject?.digest ?? "missing"}, not ${subject.digest}`,
      };
    }
    const type = manifest.artifactType ?? manifest.config.mediaType;
    if (type !== SIGNATURE_ARTIFACT_TYPE) {
      // Listed without a type: an SBOM or attestation, read to find out; not a problem.
      if (desc.artifactType === undefined) return [];
      return { problem: `of artifact type ${type}, not a cosign signature` };
    }
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
  origin: Origin,
  keys: readonly PublicKey[],
): Promise<SignatureCheck> {
  const check: SignatureCheck = { ...origin, payload: layer.digest };
  const name = "tag" in origin ? origin.tag : `signature referrer ${origin.referrer}`;
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
    payload = await readAll(await target.fetch(layer), MAX_SIGNATURE_PAYLOAD, `${name} payload`);
  } catch (err) {
    if (!isFerryError(err)) throw err;
    return problem(`payload ${layer.digest}: ${errorMessage(err)}`);
  }
  const got = await sha256(payload);
  if (got !== layer.digest || payload.byteLength !== layer.size) {
    return problem(`payload ${layer.digest} arrived with digest ${got}`);
  }
  const key = keys.find((k) => verifySignature(k, payload, signature));
  if (!key) {
    // A certificate's key signed it (keyless); a bundle alone is also written with a key.
    if (typeof annotations[CERTIFICATE_ANNOTATION] === "string") return problem(keylessNote);
    return problem(whyNotVerified(keys, payload, signature, text, annotations[BUNDLE_ANNOTATION]));
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
