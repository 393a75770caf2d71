/**
 * Cosign signatures come from the registry being checked: whatever a signature image holds (its
 * manifest, the annotations of its layers, the payload, a transparency-log bundle), checking it
 * records a problem or fails as a `FerryError`, and never counts a signature it should not.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign, verify } from "node:crypto";
import { OCI_CONFIG, OCI_MANIFEST } from "../../src/media_types.ts";
import { MemoryStore } from "../../src/memory_store/mod.ts";
import { bytesSource } from "../../src/store.ts";
import {
  BUNDLE_ANNOTATION,
  parsePublicKey,
  parseSimpleSigning,
  SIGNATURE_ANNOTATION,
  signatureTag,
  SIMPLE_SIGNING_MEDIA_TYPE,
  verifyImage,
} from "../../src/signature/mod.ts";
import { blob, makeImage, pushImage } from "../support/mod.ts";
import { byteMutator, fuzz, jsonMutator } from "../support/fuzz.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
const key = parsePublicKey(pem, "cosign.pub");

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function payloadFor(digest: string): Uint8Array {
  return encoder.encode(JSON.stringify({
    critical: {
      identity: { "docker-reference": "example.test/app" },
      image: { "docker-manifest-digest": digest },
      type: "cosign container image signature",
    },
    optional: null,
  }));
}

/** A cosign bundle whose `hashedrekord` entry records `payload`, `signature` and the key. */
function bundleFor(payload: Uint8Array, signature: string): string {
  const body = {
    apiVersion: "0.0.1",
    kind: "hashedrekord",
    spec: {
      data: {
        hash: { algorithm: "sha256", value: createHash("sha256").update(payload).digest("hex") },
      },
      signature: { content: signature, publicKey: { content: base64(encoder.encode(pem)) } },
    },
  };
  return JSON.stringify({
    SignedEntryTimestamp: "MEUCIQ==",
    Payload: {
      body: base64(encoder.encode(JSON.stringify(body))),
      integratedTime: 1700000000,
      logIndex: 1,
      logID: "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
    },
  });
}

Deno.test("fuzz: parseSimpleSigning answers claims or a problem, never throws", async () => {
  await fuzz({
    name: "parseSimpleSigning",
    corpus: [payloadFor(`sha256:${"a".repeat(64)}`)],
    mutate: jsonMutator(),
    runs: 2000,
    accept: () => false,
    target: (bytes) => {
      const claims = parseSimpleSigning(bytes);
      assert.ok("problem" in claims ? typeof claims.problem === "string" : claims.digest);
      if ("problem" in claims) assert.ok(!claims.problem.includes("\n"), claims.problem);
    },
  });
});

Deno.test("fuzz: parsePublicKey fails only as FerryError", async () => {
  await fuzz({
    name: "parsePublicKey",
    corpus: [encoder.encode(pem)],
    mutate: byteMutator({ dictionary: ["-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"] }),
    runs: 600,
    target: (bytes) => parsePublicKey(decoder.decode(bytes), "fuzz.pub"),
  });
});

Deno.test("fuzz: verifyImage over mutated signature images counts only what an independent check verifies", async () => {
  const repo = new MemoryStore().repository("org/app");
  const image = makeImage();
  await pushImage(repo, image, "1.0");
  const subject = image.manifest.desc;
  const payload = payloadFor(subject.digest);
  const text = base64(sign("sha256", payload, privateKey));
  const layerBlob = blob(SIMPLE_SIGNING_MEDIA_TYPE, payload);
  const config = blob(OCI_CONFIG, encoder.encode("{}"));
  await repo.push(config.desc, bytesSource(config.bytes));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: config.desc,
    layers: [{
      ...layerBlob.desc,
      annotations: { [SIGNATURE_ANNOTATION]: text, [BUNDLE_ANNOTATION]: bundleFor(payload, text) },
    }],
  };
  // The unmutated signature image verifies: the runs below start from one that counts.
  const tag = signatureTag(subject.digest);
  const push = async (manifestBytes: Uint8Array, payloadBytes: Uint8Array) => {
    const p = blob(SIMPLE_SIGNING_MEDIA_TYPE, payloadBytes);
    await repo.push(p.desc, bytesSource(p.bytes));
    const m = blob(OCI_MANIFEST, manifestBytes);
    await repo.push(m.desc, bytesSource(m.bytes));
    await repo.tag(m.desc, tag);
  };
  await repo.push(layerBlob.desc, bytesSource(layerBlob.bytes));
  await push(encoder.encode(JSON.stringify(manifest)), payload);
  assert.equal((await verifyImage(repo, subject, { keys: [key] })).verified, 1);

  const mutateManifest = jsonMutator();
  const mutatePayload = jsonMutator();
  const mutateText = byteMutator({ dictionary: ["=", "+", "/", "-", "_"] });
  const mutateBundle = jsonMutator();
  /** Payloads of the runs' mutated layers, by digest, stored before the manifest naming them. */
  const pending = new Map<string, Uint8Array>();
  const payloads = new Map<string, Uint8Array>([[layerBlob.desc.digest, payload]]);
  let counted = 0;
  await fuzz({
    name: "verifyImage",
    corpus: [encoder.encode(JSON.stringify(manifest))],
    runs: 500,
    // Each run mutates one part: the manifest's JSON, the payload, the signature's text or the
    // bundle; the payload blob is stored under the digest the (possibly mutated) layer names.
    mutate: (bytes, rng) => {
      const pick = rng.int(4);
      if (pick === 0) return mutateManifest(bytes, rng);
      const doc = structuredClone(manifest);
      const layer = doc.layers[0];
      if (pick === 1) {
        const changed = mutatePayload(payload, rng);
        const b = blob(SIMPLE_SIGNING_MEDIA_TYPE, changed);
        Object.assign(layer, b.desc);
        pending.set(b.desc.digest, changed);
      } else if (pick === 2) {
        layer.annotations[SIGNATURE_ANNOTATION] = decoder.decode(
          mutateText(encoder.encode(text), rng),
        );
      } else {
        layer.annotations[BUNDLE_ANNOTATION] = decoder.decode(
          mutateBundle(encoder.encode(layer.annotations[BUNDLE_ANNOTATION]), rng),
        );
      }
      return encoder.encode(JSON.stringify(doc));
    },
    target: async (bytes) => {
      for (const [digest, data] of pending) {
        const b = blob(SIMPLE_SIGNING_MEDIA_TYPE, data);
        if (b.desc.digest === digest) await repo.push(b.desc, bytesSource(data));
        payloads.set(digest, data);
      }
      pending.clear();
      const m = blob(OCI_MANIFEST, bytes);
      await repo.push(m.desc, bytesSource(m.bytes));
      await repo.tag(m.desc, tag);
      const result = await verifyImage(repo, subject, { keys: [key] });
      for (const s of result.signatures) {
        if (s.problem) assert.ok(!s.problem.includes("\n"), s.problem);
      }
      // Counted: the layer's annotation verifies over the payload (node:crypto, not ferry's
      // code), and the payload names the image. Whatever does not parse counts for nothing.
      const good = independentlyVerified(bytes, payloads, subject.digest);
      assert.ok(result.verified <= good, JSON.stringify(result.signatures));
      counted += result.verified;
    },
  });
  // Mutations that keep the signature whole (an extra annotation or field) still count: the
  // check above is not vacuous.
  assert.ok(counted > 0);
});

/** How many layers of the signature manifest `bytes` an independent check finds signed. */
function independentlyVerified(
  bytes: Uint8Array,
  payloads: Map<string, Uint8Array>,
  subject: string,
): number {
  let layers: unknown;
  try {
    layers = JSON.parse(decoder.decode(bytes)).layers;
  } catch {
    return 0;
  }
  if (!Array.isArray(layers)) return 0;
  return layers.filter((l) => {
    try {
      const data = payloads.get(l.digest);
      const text = l.annotations?.[SIGNATURE_ANNOTATION];
      if (!data || typeof text !== "string") return false;
      const claims = parseSimpleSigning(data);
      if ("problem" in claims || claims.digest !== subject) return false;
      return verify("sha256", data, publicKey, Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
    } catch {
      return false;
    }
  }).length;
}
