/**
 * What a rerun of `registry save` on a finished directory reads: each image's manifest once (the
 * bytes its tag's resolve verified serve the copy), against a real docker-registry.
 *
 * @module
 */
import assert from "node:assert/strict";
import { defaultRegistryClient } from "../src/remote/mod.ts";
import { saveImages } from "../src/transfer/save.ts";
import {
  makeImage,
  makeIndex,
  peerTest,
  pushImage,
  pushIndex,
  startRegistry,
  tempDir,
} from "./support/mod.ts";

/** Runs `fn`, recording the paths `Deno.open` was asked for. */
async function recordingOpens<T>(fn: () => Promise<T>): Promise<{ result: T; opened: string[] }> {
  const realOpen = Deno.open;
  const opened: string[] = [];
  Deno.open = (path: string | URL, options?: Deno.OpenOptions) => {
    opened.push(String(path));
    return realOpen(path, options);
  };
  try {
    return { result: await fn(), opened };
  } finally {
    Deno.open = realOpen;
  }
}

peerTest(
  "a rerun of registry save opens each stored manifest it looks at once, and no layer or config",
  ["docker-registry"],
  async () => {
    await using source = await startRegistry();
    await using tmp = await tempDir();
    const client = await defaultRegistryClient({ tlsVerify: false });
    try {
      const seed = client.registry(source.host);
      const one = makeImage();
      const two = makeImage();
      const index = makeIndex();
      await pushImage(seed.repository("lib/one"), one, "1");
      await pushImage(seed.repository("lib/two"), two, "1");
      await pushIndex(seed.repository("lib/multi"), index, "1");
      const options = {
        registryDir: tmp.path,
        images: ["lib/one:1", "lib/two:1", "lib/multi:1"].map((i) => `${source.host}/${i}`),
        platforms: [{ os: "linux", architecture: "amd64" }],
        client,
      };
      await saveImages(options);
      const { result, opened } = await recordingOpens(() => saveImages(options));
      assert.equal(result.length, 3);
      const blobs = `${tmp.path}/docker/registry/v2/blobs/sha256/`;
      const data = opened.filter((p) => p.startsWith(blobs)).map((p) => p.slice(blobs.length));
      const manifests = [
        one.manifest.desc.digest,
        two.manifest.desc.digest,
        index.index.desc.digest,
        index.images[0].manifest.desc.digest,
      ].map((d) => `${d.slice(7, 9)}/${d.slice(7)}/data`);
      // Every manifest the rerun looks at, each opened once; no layer or config opened.
      assert.deepEqual(data.sort(), manifests.sort());
    } finally {
      await client.close();
    }
  },
);
