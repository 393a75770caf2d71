/**
 * cosign's signature images and their "simple signing" payloads, as cosign's
 * `specs/SIGNATURE_SPEC.md` describes them: the signature image of `sha256:<hex>` is the tag
 * `sha256-<hex>.sig` in the image's repository; each of its layers is one signature, a payload blob
 * of media type {@link SIMPLE_SIGNING_MEDIA_TYPE} with the base64 signature over the payload's
 * bytes in the layer annotation {@link SIGNATURE_ANNOTATION}. The payload is the JSON document of
 * containers-signature(5) with `critical.type` {@link COSIGN_SIGNATURE_TYPE}. cosign may instead
 * store the same manifest as an OCI 1.1 referrer of the image, without a tag
 * ({@link SIGNATURE_ARTIFACT_TYPE}).
 *
 * @module
 */
import { type Digest, digestHex, isDigest } from "../digest.ts";

/** Media type of a signature image's layers (the signed payload). */
export const SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
/** Layer annotation holding the base64 signature over the payload. */
export const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
/** Layer annotation of keyless signatures: the signing certificate (PEM). */
export const CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate";
/** Layer annotation of keyless signatures: the transparency-log bundle. */
export const BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle";
/**
 * The artifact type of a cosign signature stored as an OCI 1.1 referrer (`cosign sign
 * --registry-referrers-mode=oci-1-1`): its manifest's `artifactType`, or its config's media type
 * when it has none (as cosign writes it), with a `subject` naming the image and the same
 * simple-signing layers as a signature image.
 */
export const SIGNATURE_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json";
/** `critical.type` of a cosign image signature payload. */
export const COSIGN_SIGNATURE_TYPE = "cosign container image signature";

/** The tag of the signature image of the manifest or index `digest`: `sha256-<hex>.sig`. */
export function signatureTag(digest: Digest): string {
  return `sha256-${digestHex(digest)}.sig`;
}

/** What a payload claims. */
export interface SimpleSigningClaims {
  /** `critical.image.docker-manifest-digest`: the manifest or index signed. */
  digest: Digest;
  /** `critical.identity.docker-reference`: the name the signer gave the image (not enforced). */
  dockerReference?: string;
}

/**
 * Reads a simple-signing payload: a JSON object whose `critical` names the type
 * {@link COSIGN_SIGNATURE_TYPE} and the signed digest. Extra fields (`optional`, claims added
 * with `cosign sign -a`) are allowed and ignored.
 *
 * @returns the claims, or a one-line reason the payload is not one.
 */
export function parseSimpleSigning(bytes: Uint8Array): SimpleSigningClaims | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return { problem: "payload is not JSON" };
  }
  const critical = field(doc, "critical");
  if (critical === undefined) return { problem: "payload has no critical section" };
  const type = field(critical, "type");
  if (type !== COSIGN_SIGNATURE_TYPE) {
    return {
      problem: `payload type is ${JSON.stringify(type)}, not "${COSIGN_SIGNATURE_TYPE}"`,
    };
  }
  const digest = field(field(critical, "image"), "docker-manifest-digest");
  if (typeof digest !== "string" || !isDigest(digest)) {
    return { problem: "payload names no sha256 docker-manifest-digest" };
  }
  const reference = field(field(critical, "identity"), "docker-reference");
  return { digest, ...(typeof reference === "string" ? { dockerReference: reference } : {}) };
}

/** `value[name]` when `value` is a plain object that has it as its own property. */
function field(value: unknown, name: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
}
