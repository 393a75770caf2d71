import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { digestOf } from "../../tests/support/digest.ts";
import type { Digest } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { OCI_CONFIG, OCI_MANIFEST } from "../media_types.ts";
import type { Descriptor } from "../manifest.ts";
import { MemoryStore } from "../memory_store/mod.ts";
import { bytesSource, type Target } from "../store.ts";
import { blob, makeImage, makeIndex, pushImage, pushIndex } from "../../tests/support/images.ts";
import {
  CERTIFICATE_ANNOTATION,
  MAX_SIGNATURE_LAYERS,
  MAX_SIGNATURE_PAYLOAD,
  MAX_SIGNATURE_REFERRERS,
  parsePublicKey,
  type PublicKey,
  SIGNATURE_ANNOTATION,
  SIGNATURE_ARTIFACT_TYPE,
  signatureTag,
  SIMPLE_SIGNING_MEDIA_TYPE,
  verifyImage,
} from "./mod.ts";

// These tests cover the bounds and the format; signatures made by an independent implementation
// (openssl) are checked in tests/verify_test.ts.

function keyPair(name = "cosign.pub"): { key: PublicKey; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return { key: parsePublicKey(pem, name), privateKey };
}

function payloadFor(
  digest: string,
  type = "cosign container image signature",
  nonce?: number,
): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    critical: {
      identity: { "docker-reference": "example.test/app" },
      image: { "docker-manifest-digest": digest },
      type,
    },
    optional: nonce === undefined ? null : { nonce: String(nonce) },
  }));
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

interface Layer {
  payload: Uint8Array;
  annotations: Record<string, string>;
  mediaType?: string;
}

function signed(privateKey: KeyObject, payload: Uint8Array): Layer {
  return {
    payload,
    annotations: { [SIGNATURE_ANNOTATION]: base64(sign("sha256", payload, privateKey)) },
  };
}

/**
 * Pushes a signature image for `digest` holding `layers` into `target`: tagged `sha256-<hex>.sig`,
 * or with `referrer` as cosign's OCI 1.1 mode writes it (the artifact type as the config's media
 * type, a `subject`, no tag). Returns the manifest's descriptor.
 */
async function pushSignatures(
  target: Target,
  digest: Digest,
  layers: Layer[],
  referrer?: { subject: Descriptor; artifactType?: string },
): Promise<Descriptor> {
  const descs: Descriptor[] = [];
  for (const layer of layers) {
    const b = blob(layer.mediaType ?? SIMPLE_SIGNING_MEDIA_TYPE, layer.payload);
    await target.push(b.desc, bytesSource(b.bytes));
    descs.push({ ...b.desc, annotations: layer.annotations });
  }
  const config = blob(
    referrer ? referrer.artifactType ?? SIGNATURE_ARTIFACT_TYPE : OCI_CONFIG,
    new TextEncoder().encode("{}"),
  );
  await target.push(config.desc, bytesSource(config.bytes));
  const manifest = blob(
    OCI_MANIFEST,
    new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: config.desc,
      layers: descs,
      ...(referrer
        ? {
          subject: {
            mediaType: referrer.subject.mediaType,
            digest: referrer.subject.digest,
            size: referrer.subject.size,
          },
        }
        : {}),
    })),
  );
  await target.push(manifest.desc, bytesSource(manifest.bytes));
  if (!referrer) await target.tag(manifest.desc, signatureTag(digest));
  return manifest.desc;
}

async function setup() {
  const repo = new MemoryStore().repository("org/app");
  const image = makeImage();
  await pushImage(repo, image, "1.0");
  return { repo, image: image.manifest.desc };
}

Deno.test("verifyImage: a signature over a payload naming the image verifies", async () => {
  const { repo, image } = await setup();
  const { key, privateKey } = keyPair();
  await pushSignatures(repo, image.digest, [signed(privateKey, payloadFor(image.digest))]);
  const result = await verifyImage(repo, image, { keys: [key] });
  assert.equal(result.verified, 1);
  assert.deepEqual(result.keys, ["cosign.pub"]);
  assert.equal(result.signatures[0].dockerReference, "example.test/app");
  assert.equal(result.reason, undefined);
});

Deno.test("verifyImage: payloads past the size bound are not read", async () => {
  const { repo, image } = await setup();
  const { key, privateKey } = keyPair();
  const big = new Uint8Array(MAX_SIGNATURE_PAYLOAD + 1).fill(0x20);
  big.set(payloadFor(image.digest));
  let fetched = false;
  const watched: Target = {
    name: repo.name,
    location: repo.location,
    resolve: (r) => repo.resolve(r),
    fetch: (d, o) => {
      if (d.digest === digestOf(big)) fetched = true;
      return repo.fetch(d, o);
    },
    exists: (d) => repo.exists(d),
    push: (d, c) => repo.push(d, c),
    tag: (d, t) => repo.tag(d, t),
    tags: () => repo.tags(),
  };
  await pushSignatures(repo, image.digest, [signed(privateKey, big)]);
  const result = await verifyImage(watched, image, { keys: [key] });
  assert.equal(result.verified, 0);
  assert.match(result.reason!, /payload of 65537 bytes exceeds the 65536-byte limit/);
  assert.equal(fetched, false);
});

Deno.test("verifyImage: a signature image of more than the layer bound is refused whole", async () => {
  const { repo, image } = await setup();
  const { key, privateKey } = keyPair();
  const layer = signed(privateKey, payloadFor(image.digest));
  await pushSignatures(repo, image.digest, Array(MAX_SIGNATURE_LAYERS + 1).fill(layer));
  const result = await verifyImage(repo, image, { keys: [key] });
  assert.equal(result.verified, 0);
  assert.match(result.reason!, /101 signatures \(at most 100 are read\)/);
});

Deno.test("verifyImage: keyless, foreign-type, non-base64 and non-payload layers each say why", async () => {
  const { repo, image } = await setup();
  const { key, privateKey } = keyPair();
  const other = keyPair("other.pub");
  const keyless = signed(other.privateKey, payloadFor(image.digest));
  keyless.annotations[CERTIFICATE_ANNOTATION] = "-----BEGIN CERTIFICATE-----\n…";
  await pushSignatures(repo, image.digest, [
    keyless,
    signed(privateKey, payloadFor(image.digest, "atomic container signature")),
    { payload: payloadFor(image.digest), annotations: { [SIGNATURE_ANNOTATION]: "not base64!" } },
    { payload: payloadFor(image.digest), annotations: {} },
    { ...signed(privateKey, payloadFor(image.digest)), mediaType: "application/octet-stream" },
  ]);
  const result = await verifyImage(repo, image, { keys: [key] });
  assert.equal(result.verified, 0);
  assert.deepEqual(result.signatures.map((s) => s.problem), [
    "keyless: not verified (a certificate or bundle signature needs sigstore's trust root; " +
    "ferry verifies key-based signatures)",
    'payload type is "atomic container signature", not "cosign container image signature"',
    "signature annotation is not base64 of a signature",
    `no ${SIGNATURE_ANNOTATION} annotation`,
    "layer of type application/octet-stream is not a simple-signing payload",
  ]);
});

Deno.test("verifyImage: a platform manifest is covered by its index's signature, not another's", async () => {
  const repo = new MemoryStore().repository("org/multi");
  const index = makeIndex();
  await pushIndex(repo, index, "1.0");
  const child = index.images[0].manifest.desc;
  const { key, privateKey } = keyPair();
  await pushSignatures(repo, index.index.desc.digest, [
    signed(privateKey, payloadFor(index.index.desc.digest)),
  ]);
  const viaIndex = await verifyImage(repo, child, { keys: [key], index: index.index.desc });
  assert.equal(viaIndex.verified, 1);
  const alone = await verifyImage(repo, child, { keys: [key] });
  assert.equal(alone.verified, 0);
  assert.equal(
    alone.reason,
    `no signature (no ${signatureTag(child.digest)}, no signature referrer)`,
  );
});

Deno.test("verifyImage: a signature stored as an OCI 1.1 referrer (cosign's oci-1-1 mode) verifies", async () => {
  const { repo, image } = await setup();
  const { key, privateKey } = keyPair();
  const sig = await pushSignatures(
    repo,
    image.digest,
    [signed(privateKey, payloadFor(image.digest))],
    { subject: image },
  );
  const result = await verifyImage(repo, image, { keys: [key] });
  assert.equal(result.verified, 1, result.reason);
  assert.equal(result.signatures[0].referrer, sig.digest);
  assert.equal(result.signatures[0].tag, undefined);
  assert.equal(result.signatures[0].key, "cosign.pub");
});

Deno.test("verifyImage: a platform manifest is covered by its index's OCI 1.1 signature", async () => {
  const repo = new MemoryStore().repository("org/multi");
  const index = makeIndex();
  await pushIndex(repo, index, "1.0");
  const { key, privateKey } = keyPair();
  await pushSignatures(repo, index.index.desc.digest, [
    signed(privateKey, payloadFor(index.index.desc.digest)),
  ], { subject: index.index.desc });
  const child = index.images[1].manifest.desc;
  const viaIndex = await verifyImage(repo, child, { keys: [key], index: index.index.desc });
  assert.equal(viaIndex.verified, 1, viaIndex.reason);
  assert.equal((await verifyImage(repo, child, { keys: [key] })).verified, 0);
});

Deno.test("verifyImage: referrers of other types are not read; a listed one is checked for its subject", async () => {
  const { repo, image } = await setup();
  const { key, privateKey } = keyPair();
  // An SBOM-typed referrer with a valid signature layer does not count: it is not a signature.
  await pushSignatures(repo, image.digest, [signed(privateKey, payloadFor(image.digest))], {
    subject: image,
    artifactType: "application/spdx+json",
  });
  const sbomOnly = await verifyImage(repo, image, { keys: [key] });
  assert.equal(sbomOnly.verified, 0);
  assert.equal(sbomOnly.signatures.length, 0);
  // A list that names a signature of another image as this image's: its own subject decides.
  const other = makeImage();
  await pushImage(repo, other, "2.0");
  const foreign = await pushSignatures(repo, other.manifest.desc.digest, [
    signed(privateKey, payloadFor(image.digest)),
  ], { subject: other.manifest.desc });
  const lying: Target = {
    name: repo.name,
    location: repo.location,
    resolve: (r) => repo.resolve(r),
    fetch: (d, o) => repo.fetch(d, o),
    exists: (d) => repo.exists(d),
    push: (d, c) => repo.push(d, c),
    tag: (d, t) => repo.tag(d, t),
    tags: () => repo.tags(),
    referrers: () => Promise.resolve([{ ...foreign, artifactType: SIGNATURE_ARTIFACT_TYPE }]),
  };
  const result = await verifyImage(lying, image, { keys: [key] });
  assert.equal(result.verified, 0);
  assert.match(
    result.reason!,
    new RegExp(`its subject is ${other.manifest.desc.digest}, not ${image.digest}`),
  );
});

Deno.test("verifyImage: more signature referrers than the bound are refused whole", async () => {
  const { repo, image } = await setup();
  const { key, privateKey } = keyPair();
  for (let i = 0; i <= MAX_SIGNATURE_REFERRERS; i++) {
    await pushSignatures(repo, image.digest, [
      signed(privateKey, payloadFor(image.digest, undefined, i)),
    ], { subject: image });
  }
  const result = await verifyImage(repo, image, { keys: [key] });
  assert.equal(result.verified, 0);
  assert.match(result.reason!, /33 signature referrers, .*\(at most 32 are read\)/);
});

Deno.test("parsePublicKey: only one PEM public key of a supported kind", () => {
  const refuses = (pem: string, pattern: RegExp) =>
    assert.throws(() => parsePublicKey(pem, "k.pub"), (e) => {
      assert.ok(e instanceof FerryError);
      assert.match(e.message, pattern);
      return true;
    });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pub = ec.publicKey.export({ type: "spki", format: "pem" }).toString();
  refuses(ec.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), /found PRIVATE KEY/);
  refuses(pub + pub, /found PUBLIC KEY, PUBLIC KEY/);
  refuses("hello", /no PEM block/);
  refuses(
    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    /k\.pub: the public key does not parse/,
  );
  const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
  refuses(
    small.publicKey.export({ type: "spki", format: "pem" }).toString(),
    /RSA key of 1024 bits is too small/,
  );
  const k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" });
  refuses(k1.publicKey.export({ type: "spki", format: "pem" }).toString(), /curve secp256k1/);
  assert.equal(parsePublicKey(pub, "k.pub").algorithm, "ECDSA P-256");
});
