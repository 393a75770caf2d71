/**
 * ferry as a library: every subpath export of deno.json loads and offers its key names, and the
 * one-call `copy()` moves an image between two location strings.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { copy, FerryError, OCI_INDEX, RegistryError } from "../mod.ts";
import { type BuiltIndex, makeLayout, tempDir } from "./support/mod.ts";
import type { Descriptor } from "../src/manifest.ts";
import { sha256 } from "../src/digest.ts";

const ROOT = new URL("../", import.meta.url);

/** Names each subpath export must offer at run time (types are checked by `deno check`). */
const KEY_NAMES: Record<string, string[]> = {
  ".": [
    "copy",
    "copyImage",
    "parseLocation",
    "CopyEngine",
    "RegistryClient",
    "RegistryError",
    "RegistryDir",
    "discoverImages",
    "saveImages",
    "FerryError",
    "parseReference",
  ],
  "./stores": [
    "RegistryClient",
    "RemoteRegistry",
    "RegistryDir",
    "OciLayout",
    "ArchiveWriter",
    "OciArchiveReader",
    "DockerArchiveReader",
    "openArchive",
    "MemoryStore",
    "ImageStore",
    "bytesSource",
  ],
  "./copy": ["CopyEngine", "selectChildren"],
  "./context": ["discoverImages", "formatWarning", "imageFromLine"],
  "./build": ["build", "LayerCache", "ImageResolver", "configBlob", "manifestBlob"],
  "./server": ["serveRegistry", "createRegistryHandler", "Htpasswd"],
  "./remote": [
    "RegistryClient",
    "defaultRegistryClient",
    "RegistryError",
    "DEFAULT_RETRY",
    "isLoopback",
  ],
  "./auth": ["Authenticator", "CredentialStore", "parseChallenges"],
  "./registry-dir": ["RegistryDir", "RegistryDirRepository"],
  "./oci-layout": ["OciLayout", "REF_NAME_ANNOTATION"],
  "./archive": ["ArchiveWriter", "openArchive"],
  "./memory-store": ["MemoryStore", "MemoryRepository"],
  "./image-store": ["ImageStore", "pullImage", "pushImage", "saveArchive", "loadArchive"],
  "./kubefile": ["parseInstructions", "findInstructionFiles", "compileIgnore"],
  "./layer": ["writeLayer", "readLayer", "walkTree"],
  "./merge": ["mergeImages"],
  "./signature": ["verifyImage", "readPublicKey", "parsePublicKey", "signatureTag"],
};

Deno.test("every subpath export of deno.json loads and offers its key names", async (t) => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const exports = config.exports as Record<string, string>;
  assert.deepEqual(Object.keys(exports).sort(), Object.keys(KEY_NAMES).sort());
  for (const [subpath, file] of Object.entries(exports)) {
    await t.step(subpath, async () => {
      const module = await import(new URL(file, ROOT).href);
      const missing = KEY_NAMES[subpath].filter((name) => module[name] === undefined);
      assert.deepEqual(missing, [], `${subpath} (${file}) lacks ${missing.join(", ")}`);
    });
  }
});

/** The descriptor a layout's index.json names `ref`. */
async function refIn(layout: string, ref: string): Promise<Descriptor | undefined> {
  const index = JSON.parse(await Deno.readTextFile(join(layout, "index.json")));
  return (index.manifests as Descriptor[]).find((d) =>
    d.annotations?.["org.opencontainers.image.ref.name"] === ref
  );
}

/** Every blob of `index`'s images is in the layout, whole. */
async function assertBlobs(layout: string, built: BuiltIndex): Promise<void> {
  for (const child of built.children) {
    for (const d of [child, child.config, ...child.layers]) {
      const bytes = await Deno.readFile(join(layout, "blobs", "sha256", d.digest.slice(7)));
      assert.equal(await sha256(bytes), d.digest);
    }
  }
}

Deno.test("copy(): an OCI layout to another by location strings, all platforms or the host's", async (t) => {
  await using dir = await tempDir();
  const src = join(dir.path, "src");
  const [index] = await makeLayout(src, [{
    name: "multi",
    children: [
      {
        platform: { os: "linux", architecture: "amd64" },
        layers: [{ seed: "lib-base", size: 20_000 }, { seed: "lib-amd", size: 5_000 }],
      },
      {
        platform: { os: "linux", architecture: "arm64" },
        layers: [{ seed: "lib-base", size: 20_000 }, { seed: "lib-arm", size: 5_000 }],
      },
    ],
  }]) as [BuiltIndex];

  await t.step("every platform: the same index, every blob", async () => {
    const dst = join(dir.path, "all");
    const result = await copy(`oci:${src}:multi`, `oci:${dst}:copied`, { all: true });
    assert.equal(result.root.digest, index.digest);
    assert.deepEqual(
      result.images.map((d) => d.digest).sort(),
      index.children.map((c) => c.digest).sort(),
    );
    assert.equal(result.source, `oci:${src}:multi`);
    assert.equal(result.destination, `oci:${dst}:copied`);
    const named = await refIn(dst, "copied");
    assert.equal(named?.digest, index.digest);
    assert.equal(named?.mediaType, OCI_INDEX);
    await assertBlobs(dst, index);
  });

  await t.step("one platform chosen: only its image is copied", async () => {
    const dst = join(dir.path, "arm");
    const arm = index.children[1];
    const result = await copy(`oci:${src}:multi`, `oci:${dst}:arm`, {
      platforms: [{ os: "linux", architecture: "arm64" }],
    });
    assert.deepEqual(result.images.map((d) => d.digest), [arm.digest]);
    for (const d of [arm, arm.config, ...arm.layers]) {
      await Deno.stat(join(dst, "blobs", "sha256", d.digest.slice(7)));
    }
    const amdOnly = index.children[0].layers[1];
    await assert.rejects(Deno.stat(join(dst, "blobs", "sha256", amdOnly.digest.slice(7))));
  });

  await t.step(
    "a location that does not parse is a usage error, and nothing is written",
    async () => {
      const dst = join(dir.path, "never");
      const err = await copy(`nonsense-transport:${src}`, `oci:${dst}:x`).catch((e) => e);
      assert.ok(err instanceof FerryError && err.code === "usage", String(err));
      assert.ok(!(err instanceof RegistryError));
      await assert.rejects(Deno.stat(dst), Deno.errors.NotFound);
    },
  );
});
