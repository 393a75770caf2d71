/**
 * Signatures in cosign's format, made by openssl and pushed by skopeo, verified by ferry: `ferry
 * verify` over a registry, a registry directory docker-registry wrote and an OCI layout, and the
 * `--verify-key` policy of the copying commands.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Digest } from "../src/digest.ts";
import { RegistryDir } from "../src/registry_dir/mod.ts";
import { serveRegistry } from "../src/server/mod.ts";
import {
  type BuiltImage,
  type BuiltIndex,
  makeKeyPair,
  makeLayout,
  peerTest,
  pushReferrerSignature,
  pushSignature,
  pushToRegistry,
  run as runCommand,
  signatureLayer,
  sigTag,
  startRegistry,
  tempDir,
  writeSignatureImage,
} from "./support/mod.ts";
import { ferry, listFiles, ok } from "./ferry_cli.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };

/** `count` single-platform images with different layers, in one layout. */
async function images(dir: string, names: string[]): Promise<BuiltImage[]> {
  return await makeLayout(
    dir,
    names.map((name) => ({ name, layers: [{ seed: name, size: 2000 }] })),
  ) as BuiltImage[];
}

/** The line of `text` about `location`. */
function lineOf(text: string, location: string): string {
  const line = text.split("\n").find((l) => l.startsWith(`${location}: `));
  assert.ok(line, `no line for ${location} in:\n${text}`);
  return line;
}

peerTest(
  "verify: a signed image verifies; tampered, another image's, wrong-key and unsigned fail with their reason",
  ["docker-registry", "skopeo", "openssl"],
  async () => {
    await using dir = await tempDir();
    await using registry = await startRegistry();
    const layout = join(dir.path, "layout");
    const names = ["signed", "tampered", "other", "wrongkey", "unsigned", "changed", "bare"];
    const built = await images(layout, names);
    const digest: Record<string, Digest> = {};
    for (const [i, name] of names.entries()) {
      digest[name] = built[i].digest;
      await pushToRegistry(layout, name, `${registry.host}/org/${name}:1.0`);
    }
    const key = await makeKeyPair(dir.path);
    const otherKey = await makeKeyPair(dir.path, { name: "other" });
    const repo = (name: string) => `${registry.host}/org/${name}`;
    await pushSignature(repo("signed"), digest.signed, { key });
    // With cosign's log bundle (its default with a key), as the reasons below rely on it.
    await pushSignature(repo("tampered"), digest.tampered, { key, tamper: true, bundle: true });
    await pushSignature(repo("other"), digest.other, { key, payloadDigest: digest.signed });
    await pushSignature(repo("wrongkey"), digest.wrongkey, { key: otherKey, bundle: true });
    await pushSignature(repo("changed"), digest.changed, {
      key,
      changePayload: true,
      bundle: true,
    });
    // Without a bundle, an ECDSA signature cannot tell another key from a changed signature.
    await pushSignature(repo("bare"), digest.bare, { key: otherKey });

    const loc = (name: string) => `docker://${repo(name)}:1.0`;
    const good = ok(await ferry(["verify", "--key", key.publicKey, loc("signed")]));
    assert.match(lineOf(good.stdout, loc("signed")), /verified: 1 signature\(s\) by cosign\.pub$/);

    const all = await ferry(["verify", "--key", key.publicKey, ...names.map(loc)]);
    assert.equal(all.code, 1, all.stderr);
    assert.match(lineOf(all.stdout, loc("signed")), /verified: 1 signature/);
    assert.match(
      lineOf(all.stdout, loc("tampered")),
      /signature does not verify with cosign\.pub: the signature was changed \(the signature its log entry records verifies with cosign\.pub\)$/,
    );
    assert.match(
      lineOf(all.stdout, loc("other")),
      new RegExp(`signature for ${digest.signed} not this image`),
    );
    assert.match(
      lineOf(all.stdout, loc("wrongkey")),
      /signature does not verify with cosign\.pub: signed with another key \(the signature's log entry, unverified, names a key with SPKI SHA-256 [0-9a-f]{16}…\)$/,
    );
    assert.match(
      lineOf(all.stdout, loc("changed")),
      /signature does not verify with cosign\.pub: the payload was changed after signing/,
    );
    assert.match(
      lineOf(all.stdout, loc("bare")),
      /signature does not verify with cosign\.pub: made with another key, or the signature or payload was changed/,
    );
    assert.match(
      lineOf(all.stdout, loc("unsigned")),
      new RegExp(
        `no signature \\(no ${
          sigTag(digest.unsigned).replace(".", "\\.")
        }, no signature referrer\\)`,
      ),
    );
    assert.match(all.stderr, /6 of 7 image\(s\) have no valid signature/);

    // The other key verifies what it signed; either of two keys is enough.
    ok(await ferry(["verify", "--key", otherKey.publicKey, loc("wrongkey")]));
    const both = ok(
      await ferry(["verify", "--key", key.publicKey, "--key", otherKey.publicKey, loc("wrongkey")]),
    );
    assert.match(both.stdout, /verified: 1 signature\(s\) by other\.pub/);

    // --json: one snapshot with every image, its signatures and reasons.
    const json = await ferry(["verify", "--json", "--key", key.publicKey, ...names.map(loc)]);
    assert.equal(json.code, 1);
    const snapshot = JSON.parse(json.stdout.trim().split("\n")[0]);
    assert.equal(snapshot.images.length, 7);
    assert.equal(snapshot.images[0].verified, 1);
    assert.deepEqual(snapshot.images[0].keys, ["cosign.pub"]);
    assert.equal(snapshot.images[0].signatures[0].signedDigest, digest.signed);
    assert.equal(snapshot.images[0].signatures[0].dockerReference, "example.test/signed");
    assert.equal(snapshot.images[2].signatures[0].signedDigest, digest.signed);
    assert.equal(snapshot.images[4].signatures.length, 0);
  },
);

peerTest(
  "verify: a multi-platform image signed at the index verifies, and so do its platforms",
  ["docker-registry", "skopeo", "openssl"],
  async () => {
    await using dir = await tempDir();
    await using registry = await startRegistry();
    const layout = join(dir.path, "layout");
    const [index, unsignedIndex] = await makeLayout(layout, [
      {
        name: "multi",
        children: [
          { platform: AMD64, layers: [{ seed: "m-amd64", size: 2000 }] },
          { platform: ARM64, layers: [{ seed: "m-arm64", size: 2000 }] },
        ],
      },
      {
        name: "bare",
        children: [
          { platform: AMD64, layers: [{ seed: "b-amd64", size: 2000 }] },
          { platform: ARM64, layers: [{ seed: "b-arm64", size: 2000 }] },
        ],
      },
    ]) as BuiltIndex[];
    await pushToRegistry(layout, "multi", `${registry.host}/org/multi:1.0`);
    await pushToRegistry(layout, "bare", `${registry.host}/org/bare:1.0`);
    const key = await makeKeyPair(dir.path);
    await pushSignature(`${registry.host}/org/multi`, index.digest, { key });
    const loc = `docker://${registry.host}/org/multi:1.0`;
    const whole = ok(await ferry(["verify", "--key", key.publicKey, loc]));
    assert.match(whole.stdout, /verified: 1 signature/);
    const arm = ok(
      await ferry(["verify", "--key", key.publicKey, "--platform", "linux/arm64", "--json", loc]),
    );
    const snap = JSON.parse(arm.stdout);
    assert.equal(snap.images.length, 1);
    assert.equal(snap.images[0].platform, "linux/arm64/v8");
    assert.equal(snap.images[0].digest, index.children[1].digest);
    assert.equal(snap.images[0].signatures[0].signedDigest, index.digest);

    const bare = await ferry([
      "verify",
      "--key",
      key.publicKey,
      "--platform",
      "linux/amd64",
      `docker://${registry.host}/org/bare:1.0`,
    ]);
    // Unsigned: neither the platform's manifest nor its index has a signature tag.
    assert.equal(bare.code, 1);
    assert.match(
      bare.stdout,
      new RegExp(
        `no ${sigTag(unsignedIndex.children[0].digest)} or ${sigTag(unsignedIndex.digest)}`,
      ),
    );
  },
);

peerTest(
  "verify: over a registry directory docker-registry wrote, OCI layouts and an oci-archive",
  ["docker-registry", "skopeo", "openssl"],
  async () => {
    await using dir = await tempDir();
    const root = join(dir.path, "registry");
    const layout = join(dir.path, "layout");
    const [signed] = await images(layout, ["signed", "unsigned"]);
    const key = await makeKeyPair(dir.path);
    {
      await using registry = await startRegistry({ root });
      await pushToRegistry(layout, "signed", `${registry.host}/org/app:1.0`);
      await pushToRegistry(layout, "unsigned", `${registry.host}/org/app:2.0`);
      await pushSignature(`${registry.host}/org/app`, signed.digest, { key });
    }
    const regDir = (tag: string) => `registry-dir:${root}:org/app:${tag}`;
    const run = await ferry(["verify", "--key", key.publicKey, regDir("1.0"), regDir("2.0")]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(lineOf(run.stdout, regDir("1.0")), /verified: 1 signature/);
    assert.match(lineOf(run.stdout, regDir("2.0")), /no signature/);

    // An OCI layout: the signature image sits beside the ref name (bare, or NAME:sha256-….sig).
    const oci = join(dir.path, "oci");
    const [bare, named, copied] = await makeLayout(oci, [
      { name: "app", layers: [{ seed: "bare", size: 2000 }] },
      { name: "localhost/app:1.0", layers: [{ seed: "named", size: 2000 }] },
      { name: "localhost/copied:1.0", layers: [{ seed: "copied", size: 2000 }] },
    ]) as BuiltImage[];
    // A signature copied into a layout's whole namespace has the bare tag as its ref name.
    await writeSignatureImage(oci, sigTag(copied.digest), [
      await signatureLayer(copied.digest, { key }),
    ]);
    await writeSignatureImage(oci, sigTag(bare.digest), [
      await signatureLayer(bare.digest, { key }),
    ]);
    await writeSignatureImage(oci, `localhost/app:${sigTag(named.digest)}`, [
      await signatureLayer(named.digest, { key, tamper: true }),
      await signatureLayer(named.digest, { key }),
    ]);
    const layoutRun = ok(
      await ferry([
        "verify",
        "--key",
        key.publicKey,
        `oci:${oci}:app`,
        `oci:${oci}:localhost/app:1.0`,
        `oci:${oci}:localhost/copied:1.0`,
      ]),
    );
    assert.match(lineOf(layoutRun.stdout, `oci:${oci}:localhost/copied:1.0`), /verified: 1/);
    assert.match(lineOf(layoutRun.stdout, `oci:${oci}:app`), /verified: 1 signature/);
    // One of the two signatures is tampered: the other still verifies.
    assert.match(lineOf(layoutRun.stdout, `oci:${oci}:localhost/app:1.0`), /verified: 1 signature/);

    // The same layout as an oci-archive (packed by GNU tar).
    const archive = join(dir.path, "oci.tar");
    await runCommand("tar", ["-C", oci, "-cf", archive, "."]);
    const archived = [`oci-archive:${archive}:app`, `oci-archive:${archive}:localhost/app:1.0`];
    const archiveRun = ok(await ferry(["verify", "--key", key.publicKey, ...archived]));
    for (const loc of archived) {
      assert.match(lineOf(archiveRun.stdout, loc), /verified: 1 signature/);
    }
  },
);

peerTest(
  "verify: RSA and Ed25519 keys, and key files that are not public keys",
  ["openssl"],
  async () => {
    await using dir = await tempDir();
    const oci = join(dir.path, "oci");
    const [rsaImage, edImage] = await images(oci, ["rsa", "ed"]);
    const rsa = await makeKeyPair(dir.path, { name: "rsa", kind: "rsa" });
    const ed = await makeKeyPair(dir.path, { name: "ed", kind: "ed25519" });
    await writeSignatureImage(oci, sigTag(rsaImage.digest), [
      await signatureLayer(rsaImage.digest, { key: rsa }),
    ]);
    await writeSignatureImage(oci, sigTag(edImage.digest), [
      await signatureLayer(edImage.digest, { key: ed }),
    ]);
    const run = ok(
      await ferry([
        "verify",
        "--key",
        rsa.publicKey,
        "--key",
        ed.publicKey,
        `oci:${oci}:rsa`,
        `oci:${oci}:ed`,
      ]),
    );
    assert.match(lineOf(run.stdout, `oci:${oci}:rsa`), /by rsa\.pub$/);
    assert.match(lineOf(run.stdout, `oci:${oci}:ed`), /by ed\.pub$/);

    // The private key given as the key: refused with one line, before anything is read.
    const priv = await ferry(["verify", "--key", rsa.privateKey, `oci:${oci}:rsa`]);
    assert.equal(priv.code, 1);
    assert.match(
      priv.stderr,
      /^ferry: rsa\.key: not a PEM public key \(want one "PUBLIC KEY" block, found PRIVATE KEY\)$/m,
    );
    const missing = await ferry(["verify", "--key", join(dir.path, "nope.pub"), `oci:${oci}:rsa`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.pub: no such key file/);
  },
);

peerTest(
  "--verify-key: registry save, copy and registry sync refuse an unsigned image and write nothing of it",
  ["docker-registry", "skopeo", "openssl"],
  async () => {
    await using dir = await tempDir();
    await using registry = await startRegistry();
    const layout = join(dir.path, "layout");
    const [signed, unsigned] = await images(layout, ["signed", "unsigned"]);
    await pushToRegistry(layout, "signed", `${registry.host}/org/signed:1.0`);
    await pushToRegistry(layout, "unsigned", `${registry.host}/org/unsigned:1.0`);
    const key = await makeKeyPair(dir.path);
    await pushSignature(`${registry.host}/org/signed`, signed.digest, { key });

    const regDir = join(dir.path, "saved");
    const save = await ferry([
      "registry",
      "save",
      "--registry-dir",
      regDir,
      "--verify-key",
      key.publicKey,
      "--images",
      `${registry.host}/org/signed:1.0,${registry.host}/org/unsigned:1.0`,
    ]);
    assert.equal(save.code, 1, save.stderr);
    assert.match(save.stderr, /1 of 2 images failed/);
    assert.match(save.stderr, /org\/unsigned:1\.0: .*not signed with cosign\.pub: no signature/);
    const files = await listFiles(regDir);
    assert.ok(
      files.includes("docker/registry/v2/repositories/org/signed/_manifests/tags/1.0/current/link"),
      files.join("\n"),
    );
    assert.ok(!files.some((f) => f.includes("org/unsigned")), files.join("\n"));
    assert.ok(!files.some((f) => f.includes(unsigned.layers[0].digest.slice(7))), files.join("\n"));

    // copy: the unsigned image is refused before the destination is written.
    const out = join(dir.path, "out.tar");
    const refused = await ferry([
      "copy",
      "--verify-key",
      key.publicKey,
      `docker://${registry.host}/org/unsigned:1.0`,
      `oci-archive:${out}`,
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /not signed with cosign\.pub/);
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
    ok(
      await ferry([
        "copy",
        "--verify-key",
        key.publicKey,
        `docker://${registry.host}/org/signed:1.0`,
        `oci-archive:${out}`,
      ]),
    );

    // registry sync: the signed image and its signature tag copy, the unsigned one is refused.
    const mirror = join(dir.path, "mirror");
    const sync = await ferry([
      "registry",
      "sync",
      "--verify-key",
      key.publicKey,
      registry.host,
      mirror,
    ]);
    assert.equal(sync.code, 1, sync.stderr);
    // The signature's tag is not an image of its own: it travels with the signed image.
    assert.match(sync.stderr, /1 of 2 images failed/);
    assert.match(sync.stderr, /org\/unsigned:1\.0: .*not signed with cosign\.pub/);
    const tags = (repo: string) =>
      listFiles(join(mirror, "docker/registry/v2/repositories", repo, "_manifests/tags"))
        .catch((): string[] => []);
    const signedTags = await tags("org/signed");
    assert.ok(signedTags.includes("1.0/current/link"), signedTags.join("\n"));
    assert.ok(
      signedTags.includes(`${sigTag(signed.digest)}/current/link`),
      signedTags.join("\n"),
    );
    assert.deepEqual(await tags("org/unsigned"), []);
    ok(
      await ferry([
        "verify",
        "--key",
        key.publicKey,
        `registry-dir:${mirror}:org/signed:1.0`,
      ]),
    );
  },
);

peerTest(
  "verify: signatures stored only as OCI 1.1 referrers (cosign's oci-1-1 mode) verify through the fallback tag and the referrers API",
  ["docker-registry", "skopeo", "openssl"],
  async () => {
    await using dir = await tempDir();
    await using registry = await startRegistry();
    const layout = join(dir.path, "layout");
    const [single, tampered] = await images(layout, ["single", "tampered"]);
    const [index] = await makeLayout(join(dir.path, "multi"), [{
      name: "multi",
      children: [
        { platform: AMD64, layers: [{ seed: "r-amd64", size: 2000 }] },
        { platform: ARM64, layers: [{ seed: "r-arm64", size: 2000 }] },
      ],
    }]) as BuiltIndex[];
    await pushToRegistry(layout, "single", `${registry.host}/org/single:1.0`);
    await pushToRegistry(layout, "tampered", `${registry.host}/org/tampered:1.0`);
    await pushToRegistry(join(dir.path, "multi"), "multi", `${registry.host}/org/multi:1.0`);
    const key = await makeKeyPair(dir.path);
    const desc = (b: { digest: Digest; mediaType: string; size: number }) => b;
    const sig = await pushReferrerSignature(`${registry.host}/org/single`, desc(single), { key });
    await pushReferrerSignature(`${registry.host}/org/tampered`, desc(tampered), {
      key,
      tamper: true,
    });
    await pushReferrerSignature(`${registry.host}/org/multi`, desc(index), { key });

    // docker-registry 2.8 has no referrers API: the fallback tag lists the signature.
    const loc = (name: string) => `docker://${registry.host}/org/${name}:1.0`;
    const run = await ferry([
      "verify",
      "--json",
      "--key",
      key.publicKey,
      loc("single"),
      loc("multi"),
      loc("tampered"),
    ]);
    assert.equal(run.code, 1, run.stderr);
    const snap = JSON.parse(run.stdout.trim().split("\n")[0]);
    assert.equal(snap.images[0].verified, 1, JSON.stringify(snap.images[0]));
    assert.equal(snap.images[0].signatures[0].referrer, sig);
    assert.equal(snap.images[0].signatures[0].tag, undefined);
    assert.equal(snap.images[1].verified, 1, JSON.stringify(snap.images[1]));
    assert.equal(snap.images[2].verified, 0);
    assert.match(snap.images[2].reason, /does not verify/);
    const arm = ok(
      await ferry(["verify", "--key", key.publicKey, "--platform", "linux/arm64", loc("multi")]),
    );
    assert.match(arm.stdout, /\(linux\/arm64\/v8\): verified: 1 signature/);

    // Carried into a registry directory and served by ferry, whose referrers API lists it.
    const saved = join(dir.path, "saved");
    ok(
      await ferry([
        "registry",
        "save",
        "--all",
        "--verify-key",
        key.publicKey,
        "--registry-dir",
        saved,
        "--images",
        `${registry.host}/org/single:1.0,${registry.host}/org/multi:1.0`,
      ]),
    );
    ok(
      await ferry([
        "verify",
        "--key",
        key.publicKey,
        `registry-dir:${saved}:org/single:1.0`,
        `registry-dir:${saved}:org/multi:1.0`,
      ]),
    );
    const server = await serveRegistry({
      store: await RegistryDir.open(saved, { readOnly: true }),
      port: 0,
    });
    try {
      const served = `docker://127.0.0.1:${server.addr.port}/org/single:1.0`;
      const viaApi = ok(await ferry(["verify", "--key", key.publicKey, served]));
      assert.match(viaApi.stdout, /verified: 1 signature/);
      // The API answers: the fallback tag is not what found it.
      const listed = await fetch(
        `http://127.0.0.1:${server.addr.port}/v2/org/single/referrers/${single.digest}`,
      );
      const body = await listed.json();
      assert.deepEqual(body.manifests.map((m: { digest: string }) => m.digest), [sig]);
    } finally {
      await server.shutdown();
    }
  },
);
