/**
 * The signature policy (`--verify-key`) where images enter and leave the local image store
 * (`pull`, `push`, `load`, `build`), the order in which `load` names images and their signature
 * tags, and what a platform subset of a signed index says about the index's signatures. Signatures
 * are made by openssl in cosign's format and pushed by skopeo into docker-registry 2.8.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BuiltImage,
  type BuiltIndex,
  makeKeyPair,
  makeLayout,
  peerTest,
  pushSignature,
  pushToRegistry,
  run,
  sigTag,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import { ferry, listFiles, ok } from "./ferry_cli.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };

/** The names `ferry images` lists in the store at `root`. */
async function storedNames(root: string): Promise<string[]> {
  const listed = ok(await ferry(["images", "--json", "--root", root]));
  return (JSON.parse(listed.stdout).images as { name?: string; digest: string }[])
    .map((i) => i.name ?? i.digest);
}

/** The ref names of the store's `index.json` (empty for a store not created). */
async function refNames(root: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(root, "index.json"));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return (JSON.parse(text).manifests as { annotations?: Record<string, string> }[])
    .map((m) => m.annotations?.["org.opencontainers.image.ref.name"] ?? "(unnamed)");
}

peerTest(
  "--verify-key: pull, push, load and build refuse an unsigned image and write nothing of it",
  ["docker-registry", "skopeo", "openssl"],
  async () => {
    await using dir = await tempDir();
    await using registry = await startRegistry();
    const layout = join(dir.path, "layout");
    const [signed] = await makeLayout(layout, [
      { name: "signed", layers: [{ seed: "p-signed", size: 2000 }] },
      { name: "unsigned", layers: [{ seed: "p-unsigned", size: 2000 }] },
    ]) as BuiltImage[];
    const ref = (name: string) => `${registry.host}/org/${name}:1.0`;
    await pushToRegistry(layout, "signed", ref("signed"));
    await pushToRegistry(layout, "unsigned", ref("unsigned"));
    const key = await makeKeyPair(dir.path);
    await pushSignature(`${registry.host}/org/signed`, signed.digest, { key });
    const verifyKey = ["--verify-key", key.publicKey];
    const refused = (run: { code: number; stderr: string }, what: string) => {
      assert.equal(run.code, 1, `${what}: ${run.stderr}`);
      assert.match(
        run.stderr,
        /^ferry: .*: not signed with cosign\.pub: no signature/m,
        `${what}: ${run.stderr}`,
      );
    };

    // pull: refused at the registry, nothing stored.
    const root = join(dir.path, "store");
    refused(await ferry(["pull", ...verifyKey, "--root", root, ref("unsigned")]), "pull");
    assert.deepEqual(await refNames(root), []);
    // Under --json, the refusal is its own class: the policy's, not a registry's "denied".
    const json = await ferry(["pull", "--json", ...verifyKey, "--root", root, ref("unsigned")]);
    assert.equal(json.code, 1);
    const error = JSON.parse(json.stdout.trim().split("\n").at(-1)!);
    assert.deepEqual([error.type, error.code], ["error", "untrusted"]);
    ok(await ferry(["pull", ...verifyKey, "--root", root, ref("signed")]));
    ok(await ferry(["pull", "--root", root, ref("unsigned")]));

    // push: the stored image is checked in the store, before the destination is opened.
    const out = join(dir.path, "out.tar");
    refused(
      await ferry(["push", ...verifyKey, "--root", root, ref("unsigned"), `oci-archive:${out}`]),
      "push",
    );
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
    ok(await ferry(["push", ...verifyKey, "--root", root, ref("signed"), `oci-archive:${out}`]));

    // load: every image of the archive is checked in it first; one unsigned refuses the load.
    const both = join(dir.path, "both.tar");
    ok(await ferry(["save", "--root", root, "-o", both, ref("signed"), ref("unsigned")]));
    const root2 = join(dir.path, "store2");
    refused(await ferry(["load", ...verifyKey, "--root", root2, "-i", both]), "load");
    assert.deepEqual(await refNames(root2), []);
    ok(await ferry(["load", ...verifyKey, "--root", root2, "-i", out]));
    const loaded = await storedNames(root2);
    assert.equal(loaded.length, 1, loaded.join("\n"));
    ok(await ferry(["verify", "--key", key.publicKey, `oci:${root2}:${loaded[0]}`]));

    // build: a context image saved into registry/ and a FROM image pulled are checked.
    const ctx = join(dir.path, "ctx");
    await Deno.mkdir(join(ctx, "images/shim"), { recursive: true });
    await Deno.writeTextFile(join(ctx, "Kubefile"), "FROM scratch\nCOPY registry ./registry\n");
    await Deno.writeTextFile(join(ctx, "images/shim/list.txt"), `${ref("unsigned")}\n`);
    const root3 = join(dir.path, "store3");
    const common = ["--root", root3, "--tls-verify=false", "-t", "cluster:1"];
    refused(await ferry(["build", ...verifyKey, ...common, ctx]), "build (context image)");
    const saved = await listFiles(join(ctx, "registry")).catch((): string[] => []);
    assert.ok(!saved.some((f) => f.includes("org/unsigned")), saved.join("\n"));
    await Deno.writeTextFile(join(ctx, "images/shim/list.txt"), `${ref("signed")}\n`);
    ok(await ferry(["build", ...verifyKey, ...common, ctx]));
    await Deno.writeTextFile(join(ctx, "Kubefile"), `FROM ${ref("unsigned")}\n`);
    refused(
      await ferry(["build", ...verifyKey, ...common, "--save-image=false", ctx]),
      "build (FROM)",
    );
    assert.ok(!(await storedNames(root3)).includes(ref("unsigned")));
  },
);

peerTest(
  "load: signature tags are written after the images' names; a failed load leaves none behind",
  ["docker-registry", "skopeo", "openssl"],
  async () => {
    await using dir = await tempDir();
    await using registry = await startRegistry();
    const layout = join(dir.path, "layout");
    const [signed, damaged] = await makeLayout(layout, [
      { name: "signed", layers: [{ seed: "l-signed", size: 2000 }] },
      { name: "damaged", layers: [{ seed: "l-damaged", size: 2000 }] },
    ]) as BuiltImage[];
    const ref = (name: string) => `${registry.host}/org/${name}:1.0`;
    await pushToRegistry(layout, "signed", ref("signed"));
    const key = await makeKeyPair(dir.path);
    await pushSignature(`${registry.host}/org/signed`, signed.digest, { key });

    // An OCI layout holding the signed image with its signature, then a second image whose
    // layer is damaged (same size: the archive's own check passes, the copy's digest check not).
    const oci = join(dir.path, "oci");
    ok(await ferry(["copy", `docker://${ref("signed")}`, `oci:${oci}:${ref("signed")}`]));
    ok(await ferry(["copy", `oci:${layout}:damaged`, `oci:${oci}:${ref("damaged")}`]));
    const blob = join(oci, "blobs/sha256", damaged.layers[0].digest.slice(7));
    const bytes = await Deno.readFile(blob);
    bytes[bytes.length - 1] ^= 0xff;
    await Deno.writeFile(blob, bytes);
    const tar = join(dir.path, "images.tar");
    await run("tar", ["-C", oci, "-cf", tar, "."]);

    const root = join(dir.path, "store");
    const failed = await ferry(["load", "--root", root, "-i", tar]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /damaged archive/);
    assert.deepEqual(await refNames(root), []);

    // Whole: the name and the signature tag, and the signature still verifies there.
    const whole = join(dir.path, "whole.tar");
    const single = join(dir.path, "single");
    ok(await ferry(["copy", `docker://${ref("signed")}`, `oci:${single}:${ref("signed")}`]));
    await run("tar", ["-C", single, "-cf", whole, "."]);
    ok(await ferry(["load", "--root", root, "-i", whole]));
    assert.deepEqual((await refNames(root)).sort(), [ref("signed"), sigTag(signed.digest)].sort());
    ok(await ferry(["verify", "--key", key.publicKey, `oci:${root}:${ref("signed")}`]));
  },
);

peerTest(
  "pull --platform: the signatures of an index stored as a platform subset are left out with one warning, in --json too",
  ["docker-registry", "skopeo", "openssl"],
  async () => {
    await using dir = await tempDir();
    await using registry = await startRegistry();
    const layout = join(dir.path, "layout");
    const [index] = await makeLayout(layout, [{
      name: "multi",
      children: [
        { platform: AMD64, layers: [{ seed: "w-amd64", size: 2000 }] },
        { platform: ARM64, layers: [{ seed: "w-arm64", size: 2000 }] },
      ],
    }]) as BuiltIndex[];
    const ref = `${registry.host}/org/multi:1.0`;
    await pushToRegistry(layout, "multi", ref);
    const key = await makeKeyPair(dir.path);
    await pushSignature(`${registry.host}/org/multi`, index.digest, { key });

    const root = join(dir.path, "store");
    const text = ok(await ferry(["pull", "--root", root, "--platform", "linux/arm64", ref]));
    const warned = text.stderr.split("\n").filter((l) => /left out/.test(l));
    assert.equal(warned.length, 1, text.stderr);
    assert.match(
      warned[0],
      new RegExp(`1 signature of the index ${index.digest} left out: only some of its platforms`),
    );
    const json = ok(
      await ferry([
        "pull",
        "--json",
        "--root",
        join(dir.path, "s2"),
        "--platform",
        "linux/arm64",
        ref,
      ]),
    );
    const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const warnings = events.filter((e) => e.type === "warning" && /left out/.test(e.message));
    assert.equal(warnings.length, 1, json.stdout);
    // The whole index keeps it.
    const all = ok(await ferry(["pull", "--all", "--root", join(dir.path, "s3"), ref]));
    assert.doesNotMatch(all.stderr, /left out/);
    ok(await ferry(["verify", "--key", key.publicKey, `oci:${join(dir.path, "s3")}:${ref}`]));
  },
);
