/**
 * Manifests that belong to an image, in the shapes registries hold them, for tests that copy
 * them: a cosign-style signature (tagged `sha256-<hex>.sig`; its signature annotation is random
 * base64, as these tests need the structure, not a valid signature) and an OCI 1.1 artifact with
 * a `subject` (an SBOM, or anything given an `artifactType`).
 *
 * ```ts
 * const sig = makeSignature(image.manifest.desc);
 * await pushImage(target, sig, cosignTag(image.manifest.desc.digest, ".sig"));
 * await pushImage(target, makeArtifact(image.manifest.desc)); // found by the referrers API
 * ```
 *
 * @module
 */
import { type Digest, digestHex } from "../../src/digest.ts";
import type { Descriptor } from "../../src/manifest.ts";
import { OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from "../../src/media_types.ts";
import { blob, randomBytes, type TestBlob, type TestImage } from "./images.ts";

const encoder = new TextEncoder();

/** cosign's layer media type for a simple-signing payload. */
export const SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";
/** cosign's annotation holding the base64 signature. */
export const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
/** The artifact type SBOMs get by default here. */
export const SPDX = "application/spdx+json";

/** The cosign tag of `subject` (`sha256-<hex>.sig`, `.att`, `.sbom`). */
export function cosignTag(subject: Digest, suffix: ".sig" | ".att" | ".sbom"): string {
  return `sha256-${digestHex(subject)}${suffix}`;
}

/** The referrers fallback tag of `subject` (`sha256-<hex>`). */
export function fallbackTagOf(subject: Digest): string {
  return `sha256-${digestHex(subject)}`;
}

function layer(b: TestBlob) {
  return { ...b, diffId: b.desc.digest };
}

/**
 * A cosign-style signature manifest for `subject`: an OCI image manifest, config `{}`, one
 * simple-signing layer naming the digest, the signature annotation set to random base64. With
 * `referrer`, it also names `subject` as its OCI 1.1 subject.
 */
export function makeSignature(
  subject: Descriptor,
  options: { referrer?: boolean } = {},
): TestImage {
  const config = blob(OCI_CONFIG, encoder.encode("{}"));
  const payload = blob(
    SIMPLE_SIGNING,
    encoder.encode(JSON.stringify({
      critical: {
        identity: { "docker-reference": "ferry.test/app" },
        image: { "docker-manifest-digest": subject.digest },
        type: "cosign container image signature",
      },
      optional: { nonce: crypto.randomUUID() },
    })),
  );
  const signature = btoa(String.fromCharCode(...randomBytes(64)));
  const manifest = blob(
    OCI_MANIFEST,
    encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: config.desc,
      layers: [{ ...payload.desc, annotations: { [SIGNATURE_ANNOTATION]: signature } }],
      ...(options.referrer ? { subject: strip(subject) } : {}),
    })),
  );
  return { config, layers: [layer(payload)], manifest };
}

/**
 * An OCI 1.1 artifact manifest with `subject`: `artifactType` (default SPDX, an SBOM), the empty
 * config, one layer of `content` (default a small random SPDX-like document).
 */
export function makeArtifact(
  subject: Descriptor,
  options: { artifactType?: string; content?: Uint8Array } = {},
): TestImage {
  const artifactType = options.artifactType ?? SPDX;
  const config = blob(OCI_EMPTY, encoder.encode("{}"));
  const content = blob(
    artifactType,
    options.content ??
      encoder.encode(JSON.stringify({ spdxVersion: "SPDX-2.3", name: crypto.randomUUID() })),
  );
  const manifest = blob(
    OCI_MANIFEST,
    encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType,
      config: config.desc,
      layers: [content.desc],
      subject: strip(subject),
      annotations: { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
    })),
  );
  return { config, layers: [layer(content)], manifest };
}

/** An OCI index listing `manifests` (a referrers fallback index). */
export function makeReferrersIndex(manifests: Descriptor[]): TestBlob {
  return blob(
    OCI_INDEX,
    encoder.encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })),
  );
}

/** A descriptor as a `subject` names it: media type, digest, size. */
function strip(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}
