import { digestOf } from "../../tests/support/digest.ts";
import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { digestHex } from "../digest.ts";
import { whyNotVerified } from "./diagnose.ts";
import { parsePublicKey, type PublicKey, verifySignature } from "./keys.ts";

// Signatures made by an independent implementation (openssl), with and without cosign's log
// bundle, are checked end to end in tests/verify_test.ts.

type Kind = "ec" | "p384" | "rsa" | "ed25519";

function keyPair(kind: Kind, label = "cosign.pub"): { key: PublicKey; privateKey: KeyObject } {
  const pair = kind === "ec"
    ? generateKeyPairSync("ec", { namedCurve: "P-256" })
    : kind === "p384"
    ? generateKeyPairSync("ec", { namedCurve: "P-384" })
    : kind === "rsa"
    ? generateKeyPairSync("rsa", { modulusLength: 2048 })
    : generateKeyPairSync("ed25519");
  const pem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
  return { key: parsePublicKey(pem, label), privateKey: pair.privateKey };
}

function signWith(privateKey: KeyObject, payload: Uint8Array): Uint8Array {
  return sign(privateKey.asymmetricKeyType === "ed25519" ? null : "sha256", payload, privateKey);
}

const payload = new TextEncoder().encode(
  '{"critical":{"type":"cosign container image signature"}}',
);
const changed = new TextEncoder().encode(
  '{"critical":{"type":"cosign container image signature"},"x":1}',
);
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

function why(key: PublicKey, signature: Uint8Array, over = payload, bundle?: string): string {
  assert.equal(verifySignature(key, over, signature), false);
  return whyNotVerified([key], over, signature, b64(signature), bundle);
}

/** A cosign bundle annotation recording `signer`'s `signature` over `signed`. */
function bundleOf(signer: KeyObject | PublicKey, signed: Uint8Array, signature: Uint8Array) {
  const publicKey = "key" in signer ? signer.key : signer;
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const body = {
    apiVersion: "0.0.1",
    kind: "hashedrekord",
    spec: {
      data: { hash: { algorithm: "sha256", value: digestHex(digestOf(signed)) } },
      signature: { content: b64(signature), publicKey: { content: btoa(pem) } },
    },
  };
  return JSON.stringify({ Payload: { body: btoa(JSON.stringify(body)) } });
}

Deno.test("whyNotVerified: a signature of another kind than the key's was made with another key", () => {
  const { key } = keyPair("ec");
  const ed = keyPair("ed25519");
  assert.equal(
    why(key, signWith(ed.privateKey, payload)),
    "signature does not verify with cosign.pub: made with another key (not an ECDSA signature)",
  );
  const p384 = keyPair("p384");
  let sig = signWith(p384.privateKey, payload);
  // A P-384 integer can be short by chance; sign until both are of full size.
  for (let i = 0; i < 20 && sig.byteLength < 100; i++) sig = signWith(p384.privateKey, payload);
  assert.match(
    why(key, sig),
    /made with another key \(too long for an ECDSA P-256 signature\)$/,
  );
  const rsa = keyPair("rsa");
  assert.match(
    why(rsa.key, signWith(keyPair("ec").privateKey, payload)),
    /made with another key \(\d+ bits, not an RSA 2048 signature\)$/,
  );
  assert.match(
    why(keyPair("ed25519").key, signWith(rsa.privateKey, payload)),
    /made with another key \(256 bytes, not an Ed25519 signature\)$/,
  );
});

Deno.test("whyNotVerified: an RSA key's signature over other bytes says the payload changed", () => {
  const { key, privateKey } = keyPair("rsa");
  assert.equal(
    why(key, signWith(privateKey, payload), changed),
    "signature does not verify with cosign.pub: cosign.pub signed other bytes: the payload was changed after signing",
  );
  const other = keyPair("rsa");
  assert.equal(
    why(key, signWith(other.privateKey, payload)),
    "signature does not verify with cosign.pub: made with another key, or the signature was changed",
  );
});

Deno.test("whyNotVerified: ECDSA without a bundle does not guess; with cosign's bundle it tells", () => {
  const { key, privateKey } = keyPair("ec");
  const other = keyPair("ec");
  const generic = "signature does not verify with cosign.pub: made with another key, or the " +
    "signature or payload was changed (an ECDSA or Ed25519 signature cannot tell which)";
  const good = signWith(privateKey, payload);
  const tampered = Uint8Array.from(good);
  tampered[10] ^= 0x01;
  assert.equal(why(key, signWith(other.privateKey, payload)), generic);
  assert.equal(why(key, tampered), generic);
  assert.equal(why(key, good, changed), generic);

  const foreign = signWith(other.privateKey, payload);
  assert.match(
    why(key, foreign, payload, bundleOf(other.key, payload, foreign)),
    /: signed with another key \(the signature's log entry, unverified, names a key with SPKI SHA-256 [0-9a-f]{16}…\)$/,
  );
  assert.equal(
    why(key, tampered, payload, bundleOf(key, payload, good)),
    "signature does not verify with cosign.pub: the signature was changed (the signature its " +
      "log entry records verifies with cosign.pub)",
  );
  assert.match(
    why(key, good, changed, bundleOf(key, payload, good)),
    /: the payload was changed after signing \(the signature's log entry, unverified, records a payload of SHA-256 [0-9a-f]{12}…\)$/,
  );
  // A bundle that lies about the signature is not believed: the logged one must verify.
  assert.equal(
    why(key, tampered, payload, bundleOf(key, payload, tampered)),
    "signature does not verify with cosign.pub: the signature was changed (its log entry names " +
      "cosign.pub and this payload)",
  );
  // Unreadable bundles are ignored.
  for (const junk of ["{", '{"Payload":{"body":"!!"}}', "x".repeat(70_000)]) {
    assert.equal(why(key, tampered, payload, junk), generic);
  }
});
