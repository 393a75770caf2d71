/**
 * One token for many repositories: a save from docker-registry behind a token server (`auth:
 * token`, a token per repository as Docker Hub) asks the token server once for every repository
 * it reads (several `scope` parameters), and where the server grants less than asked (a server
 * that reads one scope per token), the repositories left out get a token of their own.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RegistryDir } from "../src/registry_dir/mod.ts";
import { defaultRegistryClient } from "../src/remote/mod.ts";
import { saveImages } from "../src/transfer/save.ts";
import {
  makeImage,
  peerTest,
  pushImage,
  startRegistry,
  startTokenIssuer,
  tempDir,
  type TestImage,
} from "./support/mod.ts";

const REPOS = ["lib/a", "lib/b", "team/c", "team/d", "x/e", "x/f", "x/g"];

async function saveAll(options: { firstScopeOnly?: boolean }) {
  await using issuer = await startTokenIssuer({
    users: { bob: "pull-pass", pusher: "push-pass" },
    acl: (account, res) =>
      res.type === "repository"
        ? (account === "pusher" ? ["pull", "push"] : account === "bob" ? ["pull"] : [])
        : [],
    firstScopeOnly: options.firstScopeOnly,
  });
  await using source = await startRegistry({ auth: { token: issuer } });
  const images = new Map<string, TestImage>();
  const pusher = await defaultRegistryClient({ tlsVerify: false, creds: "pusher:push-pass" });
  try {
    for (const repo of REPOS) {
      const image = makeImage();
      images.set(repo, image);
      await pushImage(pusher.registry(source.host).repository(repo), image, "1");
    }
  } finally {
    await pusher.close();
  }
  await using tmp = await tempDir();
  const before = issuer.requests.length;
  const client = await defaultRegistryClient({ tlsVerify: false, creds: "bob:pull-pass" });
  try {
    await saveImages({
      registryDir: tmp.path,
      images: REPOS.map((r) => `${source.host}/${r}:1`),
      platforms: [],
      client,
    });
  } finally {
    await client.close();
  }
  const dir = await RegistryDir.open(tmp.path, { readOnly: true });
  try {
    for (const [repo, image] of images) {
      assert.equal(
        (await dir.repository(repo).resolve("1")).digest,
        image.manifest.desc.digest,
        repo,
      );
    }
  } finally {
    await dir.close();
  }
  return issuer.requests.slice(before);
}

peerTest(
  "token auth: a save of seven repositories asks the token server once, for all seven",
  ["docker-registry", "openssl"],
  async () => {
    const requests = await saveAll({});
    assert.equal(requests.length, 1, requests.map((r) => r.scopes.join(" ")).join("\n"));
    assert.deepEqual(
      [...requests[0].scopes].sort(),
      REPOS.map((r) => `repository:${r}:pull`).sort(),
    );
    assert.ok(requests.every((r) => r.account === "bob" && r.status === 200));
  },
);

peerTest(
  "token auth: a token server granting one scope per token: each repository left out gets its own token",
  ["docker-registry", "openssl"],
  async () => {
    const requests = await saveAll({ firstScopeOnly: true });
    // Every repository was granted, each by a token asked for it first or alone.
    const granted = new Set(requests.flatMap((r) => r.granted.map((g) => g.name)));
    assert.deepEqual([...granted].sort(), [...REPOS].sort());
    assert.ok(requests.length <= 1 + REPOS.length, `${requests.length} token requests`);
  },
);
