/**
 * The signature policy of the copying commands (`--verify-key`): before an image is copied, its
 * cosign signature is verified at the source, and an image without a valid one is refused with
 * nothing of it written. The copy engine calls the check through `CopyOptions.beforeCopy`, once
 * the reference is resolved.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import type { PublicKey } from "../signature/keys.ts";
import type { Store, Target } from "../store.ts";
import type { Location } from "./location.ts";

/** An image about to be copied, as its source holds it. */
export interface SourceImage {
  /** The repository it is read from. */
  target: Target;
  /** Where its signature images (`sha256-<hex>.sig`) are resolved, in order; default `target`. */
  signatures?: readonly Target[];
  /** What its reference resolved to. */
  root: Descriptor;
  /** Names it in messages (a location string). */
  label: string;
}

/** A check of an image at its source before it is copied; a rejection refuses the image. */
export type ImageCheck = (image: SourceImage) => Promise<void>;

/**
 * The check that `image` carries a cosign signature, verified with one of `keys`, that names the
 * digest about to be copied (an index's digest for a multi-platform image: the index's signature
 * covers every platform it lists).
 *
 * @throws {FerryError} `untrusted` from the check: `LABEL: not signed with KEY: REASON`.
 */
export function signaturePolicy(keys: readonly PublicKey[]): ImageCheck {
  if (keys.length === 0) throw new FerryError("usage", "a signature policy needs a public key");
  return async (image) => {
    // Loaded only when a policy is in force: copies without one never evaluate the crypto.
    const { verifyImage } = await import("../signature/verify.ts");
    const result = await verifyImage(image.target, image.root, {
      keys,
      signatures: image.signatures,
      label: image.label,
    });
    if (result.verified === 0) {
      throw new FerryError(
        "untrusted",
        `${image.label}: not signed with ${
          keys.map((k) => k.label).join(" or ")
        }: ${result.reason}`,
      );
    }
  };
}

/** The engine's `beforeCopy` for `check` of the image at `at`, or none without a check. */
export function checkHook(
  check: ImageCheck | undefined,
  at: Omit<SourceImage, "root">,
): ((root: Descriptor) => Promise<void>) | undefined {
  return check && ((root) => check({ ...at, root }));
}

const ARTIFACT_TAG = /^sha256-[0-9a-f]{64}(?:\.(?:sig|att|sbom))?$/;

/**
 * Whether `tag` names what belongs to another image rather than an image to check: cosign's
 * `sha256-<hex>.sig`/`.att`/`.sbom` and the OCI referrers fallback tag `sha256-<hex>`. A sync
 * under a signature policy copies them unchecked (a signature is not itself signed).
 */
export function isArtifactTag(tag: string): boolean {
  return ARTIFACT_TAG.test(tag);
}

/**
 * The repositories of `store` where the signature images of `reference` (as `location` names it)
 * may live, in the order they are tried: the image's own for registries and registry directories;
 * in an OCI layout or archive, beside the ref name (`NAME:sha256-<hex>.sig` for a ref name
 * `NAME:TAG`), then the bare tag (`sha256-<hex>.sig`, as a copy into the layout writes it).
 */
export function signatureHomes(
  location: Location,
  store: Store,
  target: Target,
  reference: string,
): Target[] {
  if (location.transport !== "oci" && location.transport !== "oci-archive") return [target];
  const colon = reference.lastIndexOf(":");
  if (reference.startsWith("sha256:") || colon <= reference.lastIndexOf("/")) return [target];
  return [store.repository(reference.slice(0, colon)), target];
}
