/**
 * What a rerun of `registry save` on a finished directory costs: each image's manifest read once
 * (the bytes its tag's resolve verified serve the copy), and request rounds that need not wait for
 * each other sent together; against a real docker-registry.
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
  startHostileRegistry,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import { recordingOpens } from "./support/open_spy.ts";

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

peerTest(
  "registry save asks each repository's tag list alongside its manifest, not once the manifest is answered",
  ["docker-registry"],
  async () => {
    await using source = await startRegistry();
    await using tmp = await tempDir();
    const client = await defaultRegistryClient({ tlsVerify: false });
    // In front of the registry: a repository's manifest is answered only once its tag list has
    // been asked for (or after 10 s, noted), so a save that lists tags only after it has the
    // manifest is held up and caught.
    const listed = new Map<string, { seen: Promise<void>; tell: () => void }>();
    const listing = (repo: string) => {
      let entry = listed.get(repo);
      if (!entry) {
        let tell!: () => void;
        const seen = new Promise<void>((resolve) => tell = resolve);
        entry = { seen, tell };
        listed.set(repo, entry);
      }
      return entry;
    };
    const heldUp: string[] = [];
    await using front = startHostileRegistry(async (req) => {
      const m = /^\/v2\/(.+)\/(tags\/list|manifests\/1)$/.exec(req.url.pathname);
      if (m?.[2] === "tags/list") listing(m[1]).tell();
      else if (m) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<boolean>((resolve) => timer = setTimeout(resolve, 10_000, true));
        if (await Promise.race([listing(m[1]).seen.then(() => false), late])) heldUp.push(m[1]);
        clearTimeout(timer);
      }
      return await fetch(`${source.url}${req.url.pathname}${req.url.search}`, {
        method: req.method,
        headers: req.headers,
      });
    });
    try {
      const seed = client.registry(source.host);
      const names = ["lib/a", "lib/b", "lib/c"];
      for (const name of names) await pushImage(seed.repository(name), makeImage(), "1");
      const options = {
        registryDir: tmp.path,
        images: names.map((n) => `${front.host}/${n}:1`),
        platforms: [],
        client,
      };
      await saveImages(options);
      // The rerun too, where nothing else is asked.
      await saveImages(options);
      assert.deepEqual(heldUp, []);
      assert.deepEqual([...listed.keys()].sort(), names);
    } finally {
      await client.close();
    }
  },
);
