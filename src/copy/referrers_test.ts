import assert from "node:assert/strict";
import { describeReferrers, fallbackTag, isReferrerTag, referrerKind } from "./referrers.ts";

const HEX = "a".repeat(64);

Deno.test("referrers: the fallback and cosign tags are told from image tags", () => {
  assert.equal(fallbackTag(`sha256:${HEX}`), `sha256-${HEX}`);
  for (const tag of [`sha256-${HEX}`, `sha256-${HEX}.sig`, `app:sha256-${HEX}.att`]) {
    assert.ok(isReferrerTag(tag), tag);
  }
  for (const tag of ["1.0", `sha256-${HEX}.txt`, `sha256-${HEX.slice(1)}.sig`, "sha256-x"]) {
    assert.ok(!isReferrerTag(tag), tag);
  }
});

Deno.test("referrers: kinds from the cosign tag, the artifact type, else the layers", () => {
  assert.equal(referrerKind({ tag: `sha256-${HEX}.sig` }), "signature");
  assert.equal(referrerKind({ tag: `sha256-${HEX}.att` }), "attestation");
  assert.equal(referrerKind({ tag: `sha256-${HEX}.sbom` }), "sbom");
  assert.equal(referrerKind({ artifactType: "application/spdx+json" }), "sbom");
  assert.equal(referrerKind({ artifactType: "application/vnd.cyclonedx+json" }), "sbom");
  assert.equal(
    referrerKind({ artifactType: "application/vnd.dev.cosign.artifact.sig.v1+json" }),
    "signature",
  );
  assert.equal(referrerKind({ artifactType: "application/vnd.in-toto+json" }), "attestation");
  assert.equal(
    referrerKind({
      artifactType: "application/vnd.oci.image.config.v1+json",
      layers: [{
        mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
        digest: `sha256:${HEX}`,
        size: 1,
      }],
    }),
    "signature",
  );
  assert.equal(referrerKind({ artifactType: "application/vnd.example.thing" }), "other");
  assert.equal(describeReferrers(["signature", "sbom", "signature"]), "2 signatures, 1 SBOM");
  assert.equal(describeReferrers([]), "");
});
