/**
 * Issue 13's acceptance: signed images (one multi-platform) cross the air gap by every transport
 * and their signatures still verify there with the public key; a tampered signature still fails.
 * Signatures are made with openssl in cosign's format and pushed with skopeo
 * (tests/support/cosign.ts); the registries are docker-registry 2.8 (no referrers API: the
 * signatures travel under their `sha256-<hex>.sig` tags) and `ferry registry serve`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BuiltImage,
  type BuiltIndex,
  freePort,
  type KeyPair,
  makeKeyPair,
  makeLayout,
  peerTest,
  pushSignature,
  pushToRegistry,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import { ferry, ok, spawnFerry } from "./ferry_cli.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };

/** The repositories of the test and what a verify of each must say. */
const SIGNED = ["org/app", "org/multi"];
const TAMPERED = "org/tampered";

/**
 * Runs `ferry verify` on `org/app`, `org/multi` and `org/tampered` at `where(repo)`: the two
 * signed verify, the tampered one fails with its reason.
 */
async function assertVerifies(key: KeyPair, where: (repo: string) => string, what: string) {
  const run = await ferry([
    "verify",
    "--key",
    key.publicKey,
    ...[...SIGNED, TAMPERED].map(where),
  ]);
  assert.equal(run.code, 1, `${what}: ${run.stderr}`);
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 3, `${what}:\n${run.stdout}`);
  for (const [i, repo] of SIGNED.entries()) {
    assert.match(lines[i], /: verified: 1 signature\(s\) by cosign\.pub$/, `${what}: ${repo}`);
  }
  assert.match(lines[2], /signature does not verify with cosign\.pub/, `${what}: tampered`);
  assert.match(run.stderr, /1 of 3 image\(s\) have no valid signature/, what);
}

/** `ferry registry serve filesystem DIR` on a free port; stops when disposed. */
async function serve(dir: string) {
  const port = freePort();
  const child = spawnFerry(["registry", "serve", "filesystem", dir, "-p", String(port)], {
    stderr: "null",
  });
  const reader = child.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 20_000;
  while (!/Listening on /.test(text) && Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const drain = (async () => {
    while (!(await reader.read()).done);
  })();
  assert.match(text, /Listening on /, "ferry registry serve did not start");
  return {
    host: `127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await drain;
    },
  };
}

peerTest(
  "signed images: registry save, docker-registry and ferry registry serve, save/load/push, copy --all; every signature verifies, a tampered one fails",
  ["docker-registry", "skopeo", "openssl"],
  async (t) => {
    await using dir = await tempDir();
    await using origin = await startRegistry();
    const layout = join(dir.path, "layout");
    const [app, multi, tampered] = await makeLayout(layout, [
      { name: "app", layers: [{ seed: "gap-app", size: 4000 }] },
      {
        name: "multi",
        children: [
          { platform: AMD64, layers: [{ seed: "gap-amd64", size: 4000 }] },
          { platform: ARM64, layers: [{ seed: "gap-arm64", size: 4000 }] },
        ],
      },
      { name: "tampered", layers: [{ seed: "gap-tampered", size: 4000 }] },
    ]) as [BuiltImage, BuiltIndex, BuiltImage];
    const key = await makeKeyPair(dir.path);
    for (const [name, built] of [["app", app], ["multi", multi], ["tampered", tampered]] as const) {
      await pushToRegistry(layout, name, `${origin.host}/org/${name}:1.0`);
      await pushSignature(`${origin.host}/org/${name}`, built.digest, {
        key,
        tamper: name === "tampered",
      });
    }
    // cosign sign --recursive: the platforms are signed too.
    for (const child of multi.children) {
      await pushSignature(`${origin.host}/org/multi`, child.digest, { key });
    }
    await assertVerifies(key, (repo) => `docker://${origin.host}/${repo}:1.0`, "origin");

    const regDir = join(dir.path, "registry");
    await t.step("registry save, then docker-registry and registry serve", async () => {
      ok(
        await ferry([
          "registry",
          "save",
          "--all",
          "--registry-dir",
          regDir,
          "--images",
          [...SIGNED, TAMPERED].map((r) => `${origin.host}/${r}:1.0`).join(","),
        ]),
      );
      await assertVerifies(key, (repo) => `registry-dir:${regDir}:${repo}:1.0`, "registry dir");
      {
        await using served = await startRegistry({ root: regDir, readOnly: true });
        await assertVerifies(
          key,
          (repo) => `docker://${served.host}/${repo}:1.0`,
          "docker-registry",
        );
        ok(
          await ferry([
            "verify",
            "--key",
            key.publicKey,
            "--platform",
            "linux/amd64,linux/arm64",
            `docker://${served.host}/org/multi:1.0`,
          ]),
        );
      }
      await using served = await serve(regDir);
      await assertVerifies(key, (repo) => `docker://${served.host}/${repo}:1.0`, "registry serve");
    });

    await t.step("save → load → push", async () => {
      await using target = await startRegistry();
      const root = ["--root", join(dir.path, "store")];
      const fresh = ["--root", join(dir.path, "store2")];
      const archive = join(dir.path, "images.tar");
      const names = [...SIGNED, TAMPERED].map((r) => `${origin.host}/${r}:1.0`);
      for (const name of names) ok(await ferry(["pull", ...root, "--all", name]));
      ok(await ferry(["save", ...root, "-o", archive, ...names]));
      ok(await ferry(["load", ...fresh, "-i", archive]));
      for (const repo of [...SIGNED, TAMPERED]) {
        ok(
          await ferry([
            "push",
            ...fresh,
            `${origin.host}/${repo}:1.0`,
            `docker://${target.host}/${repo}:1.0`,
          ]),
        );
      }
      await assertVerifies(key, (repo) => `docker://${target.host}/${repo}:1.0`, "save/load/push");
    });

    await t.step("copy --all registry → registry", async () => {
      await using target = await startRegistry();
      for (const repo of [...SIGNED, TAMPERED]) {
        ok(
          await ferry([
            "copy",
            "--all",
            `docker://${origin.host}/${repo}:1.0`,
            `docker://${target.host}/${repo}:1.0`,
          ]),
        );
      }
      await assertVerifies(key, (repo) => `docker://${target.host}/${repo}:1.0`, "copy --all");
    });
  },
);
