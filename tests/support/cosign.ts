/**
 * cosign-format signatures made for tests, by an implementation independent of the one ferry
 * verifies with: key pairs and signatures come from the `openssl` command (`openssl dgst -sha256
 * -sign` writes the ASN.1 DER ECDSA signature cosign writes), payloads and signature images follow
 * cosign's `specs/SIGNATURE_SPEC.md`, and images reach registries through skopeo.
 *
 * ```ts
 * const key = await makeKeyPair(dir.path);
 * await pushSignature(`${registry.host}/org/app`, digest, { key });
 * // ferry verify --key key.publicKey docker://HOST/org/app@DIGEST
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { type Digest, digestHex, sha256 } from "../../src/digest.ts";
import type { Descriptor } from "../../src/manifest.ts";
import { OCI_CONFIG, OCI_INDEX, OCI_MANIFEST } from "../../src/media_types.ts";
import { layoutBlobPath } from "./images.ts";
import { requirePeer } from "./peers.ts";
import { run } from "./process.ts";
import { copy } from "./skopeo.ts";
import { tempDir } from "./tmp.ts";

/** Media type of a signature layer. */
export const SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";
/** Layer annotation with the base64 signature. */
export const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";

/** A key pair on disk, PEM. */
export interface KeyPair {
  /** The private key (openssl's PEM). */
  privateKey: string;
  /** The public key, `-----BEGIN PUBLIC KEY-----` as `cosign.pub` holds it. */
  publicKey: string;
  kind: KeyKind;
}

/** Key types cosign signs with. */
export type KeyKind = "ecdsa-p256" | "rsa" | "ed25519";

async function openssl(args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  return (await run(requirePeer("openssl"), args, { stdin })).stdoutBytes;
}

/** Makes a key pair in `dir`: `NAME.key` and `NAME.pub` (default `cosign`, ECDSA P-256). */
export async function makeKeyPair(
  dir: string,
  options: { name?: string; kind?: KeyKind } = {},
): Promise<KeyPair> {
  const name = options.name ?? "cosign";
  const kind = options.kind ?? "ecdsa-p256";
  const privateKey = join(dir, `${name}.key`);
  const publicKey = join(dir, `${name}.pub`);
  if (kind === "ecdsa-p256") {
    await openssl(["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", privateKey]);
  } else if (kind === "rsa") {
    await openssl([
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      privateKey,
    ]);
  } else {
    await openssl(["genpkey", "-algorithm", "ed25519", "-out", privateKey]);
  }
  await openssl(["pkey", "-in", privateKey, "-pubout", "-out", publicKey]);
  return { privateKey, publicKey, kind };
}

/**
 * The simple-signing payload cosign signs for `digest` (as `cosign sign` writes it: `critical`
 * with identity, image and type, then `optional`).
 */
export function simpleSigningPayload(
  digest: Digest,
  dockerReference: string,
  optional: Record<string, string> | null = null,
): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    critical: {
      identity: { "docker-reference": dockerReference },
      image: { "docker-manifest-digest": digest },
      type: "cosign container image signature",
    },
    optional,
  }));
}

/** `key`'s signature over `payload`, base64 as the annotation holds it. */
export async function signPayload(key: KeyPair, payload: Uint8Array): Promise<string> {
  await using dir = await tempDir("ferry-sign-");
  const file = join(dir.path, "payload");
  await Deno.writeFile(file, payload);
  const signature = key.kind === "ed25519"
    ? await openssl(["pkeyutl", "-sign", "-inkey", key.privateKey, "-rawin", "-in", file])
    : await openssl(["dgst", "-sha256", "-sign", key.privateKey, file]);
  let binary = "";
  for (const b of signature) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** `base64` with one character changed (still valid base64 of another signature). */
export function tamper(base64: string): string {
  const at = 10;
  const swapped = base64[at] === "A" ? "B" : "A";
  return base64.slice(0, at) + swapped + base64.slice(at + 1);
}

/** One signature layer of a signature image. */
export interface SignatureLayer {
  payload: Uint8Array;
  /** Base64 signature; absent for a layer without the annotation. */
  signature?: string;
  /** More layer annotations (a keyless certificate, a bundle). */
  annotations?: Record<string, string>;
}

async function writeBlob(layout: string, bytes: Uint8Array): Promise<Digest> {
  const digest = await sha256(bytes);
  await Deno.writeFile(layoutBlobPath(layout, digest), bytes);
  return digest;
}

async function writeJson(layout: string, mediaType: string, value: unknown): Promise<Descriptor> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return { mediaType, digest: await writeBlob(layout, bytes), size: bytes.byteLength };
}

/** The artifact type of cosign's signatures stored as OCI 1.1 referrers. */
export const SIGNATURE_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json";

/**
 * Writes a cosign signature image (OCI manifest, config as cosign writes it, one layer per
 * signature) into the OCI layout `layout` (created when missing) under the ref name `refName`,
 * replacing an entry of that name. With `subject`, it is written as `cosign sign
 * --registry-referrers-mode=oci-1-1` writes it: the config's media type is
 * {@link SIGNATURE_ARTIFACT_TYPE} (cosign sets no top-level `artifactType`) and `subject` names
 * the signed manifest. Returns the signature manifest's descriptor.
 */
export async function writeSignatureImage(
  layout: string,
  refName: string,
  layers: SignatureLayer[],
  subject?: Descriptor,
): Promise<Descriptor> {
  await Deno.mkdir(join(layout, "blobs", "sha256"), { recursive: true });
  await Deno.writeTextFile(join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  const descs: Descriptor[] = [];
  for (const layer of layers) {
    const digest = await writeBlob(layout, layer.payload);
    const annotations = {
      ...(layer.signature !== undefined ? { [SIGNATURE_ANNOTATION]: layer.signature } : {}),
      ...layer.annotations,
    };
    descs.push({ mediaType: SIMPLE_SIGNING, digest, size: layer.payload.byteLength, annotations });
  }
  const epoch = "0001-01-01T00:00:00Z";
  const config = await writeJson(layout, subject ? SIGNATURE_ARTIFACT_TYPE : OCI_CONFIG, {
    architecture: "",
    created: epoch,
    history: descs.map(() => ({ created: epoch })),
    os: "",
    rootfs: { type: "layers", diff_ids: descs.map((d) => d.digest) },
    config: {},
  });
  const manifest = await writeJson(layout, OCI_MANIFEST, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config,
    layers: descs,
    ...(subject
      ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } }
      : {}),
  });
  await addToLayoutIndex(layout, refName, manifest);
  return manifest;
}

/** Lists `desc` in the layout's `index.json` under `refName`, replacing an entry of that name. */
async function addToLayoutIndex(layout: string, refName: string, desc: Descriptor): Promise<void> {
  const indexPath = join(layout, "index.json");
  let manifests: Descriptor[] = [];
  try {
    manifests = JSON.parse(await Deno.readTextFile(indexPath)).manifests ?? [];
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const REF = "org.opencontainers.image.ref.name";
  manifests = manifests.filter((m) => m.annotations?.[REF] !== refName);
  manifests.push({ ...desc, annotations: { [REF]: refName } });
  await Deno.writeTextFile(
    indexPath,
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }),
  );
}

/** The cosign signature tag of `digest`. */
export function sigTag(digest: Digest): string {
  return `sha256-${digestHex(digest)}.sig`;
}

/** Options of {@link signatureLayer}. */
export interface SignOptions {
  key: KeyPair;
  /** The payload names this digest instead (a signature of another image). */
  payloadDigest?: Digest;
  /** `docker-reference` in the payload (default `example.test/signed`). */
  dockerReference?: string;
  /** Change one character of the base64 signature. */
  tamper?: boolean;
  /**
   * Add the transparency-log bundle cosign writes with key-based signatures by default
   * (`dev.sigstore.cosign/bundle`: a `hashedrekord` entry recording the public key, the signed
   * payload's SHA-256 and the signature as made), unsigned by any log.
   */
  bundle?: boolean;
  /** Carry another payload (another `docker-reference`) than the one signed. */
  changePayload?: boolean;
}

/** A signature layer for the image `digest`, signed as `options` say. */
export async function signatureLayer(
  digest: Digest,
  options: SignOptions,
): Promise<SignatureLayer> {
  const payload = simpleSigningPayload(
    options.payloadDigest ?? digest,
    options.dockerReference ?? "example.test/signed",
  );
  const signature = await signPayload(options.key, payload);
  return {
    payload: options.changePayload
      ? simpleSigningPayload(options.payloadDigest ?? digest, "example.test/changed")
      : payload,
    signature: options.tamper ? tamper(signature) : signature,
    ...(options.bundle
      ? { annotations: { [BUNDLE_ANNOTATION]: await logBundle(options.key, payload, signature) } }
      : {}),
  };
}

/** Layer annotation of cosign's transparency-log bundle. */
export const BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle";

/**
 * A cosign bundle annotation for `signature` over `payload` by `key`, in Rekor's `hashedrekord`
 * entry format; its timestamp is random bytes (no log signs it).
 */
async function logBundle(key: KeyPair, payload: Uint8Array, signature: string): Promise<string> {
  const pem = await Deno.readTextFile(key.publicKey);
  const body = {
    apiVersion: "0.0.1",
    kind: "hashedrekord",
    spec: {
      data: { hash: { algorithm: "sha256", value: digestHex(await sha256(payload)) } },
      signature: { content: signature, publicKey: { content: btoa(pem) } },
    },
  };
  const random = crypto.getRandomValues(new Uint8Array(64));
  return JSON.stringify({
    SignedEntryTimestamp: btoa(String.fromCharCode(...random)),
    Payload: {
      body: btoa(JSON.stringify(body)),
      integratedTime: 1_700_000_000,
      logIndex: 1,
      logID: "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
    },
  });
}

/**
 * Signs the image `digest` of `repository` (`127.0.0.1:PORT/org/app`) and pushes the signature
 * image with skopeo as `repository:sha256-<hex>.sig`, bytes unchanged. More layers (signatures)
 * may be given in `layers`. Returns the signature manifest's digest.
 */
export async function pushSignature(
  repository: string,
  digest: Digest,
  options: SignOptions & { layers?: SignatureLayer[] },
): Promise<Digest> {
  await using dir = await tempDir("ferry-sig-");
  const layers = [await signatureLayer(digest, options), ...options.layers ?? []];
  await writeSignatureImage(dir.path, "sig", layers);
  const { digest: pushed } = await copy(
    `oci:${dir.path}:sig`,
    `docker://${repository}:${sigTag(digest)}`,
    { preserveDigests: true },
  );
  return pushed;
}

/**
 * Signs `subject` (a manifest or index of `repository`, `127.0.0.1:PORT/org/app`) as `cosign sign
 * --registry-referrers-mode=oci-1-1` stores it in a registry without the referrers API: the
 * signature manifest has `subject` and no tag, and the referrers fallback tag `sha256-<hex>` names
 * an index listing it, pushed by skopeo with `--all` (skopeo 1.9 rewrites that index and drops
 * the entry's `artifactType`, as any copy by it does). Returns the signature manifest's digest.
 */
export async function pushReferrerSignature(
  repository: string,
  subject: Descriptor,
  options: SignOptions,
): Promise<Digest> {
  await using dir = await tempDir("ferry-sig-");
  const signature = await writeSignatureImage(
    dir.path,
    "sig",
    [await signatureLayer(subject.digest, options)],
    subject,
  );
  const list = await writeJson(dir.path, OCI_INDEX, {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ ...signature, artifactType: SIGNATURE_ARTIFACT_TYPE }],
  });
  await addToLayoutIndex(dir.path, "fallback", list);
  await copy(
    `oci:${dir.path}:fallback`,
    `docker://${repository}:sha256-${digestHex(subject.digest)}`,
    { all: true },
  );
  return signature.digest;
}
