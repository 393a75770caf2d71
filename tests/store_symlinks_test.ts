/**
 * Planted symlinks in a registry directory, through the CLI: `ferry copy` into `registry-dir:` and
 * `ferry registry serve filesystem` (to its shutdown) leave what a symlink points at untouched, and
 * a symlinked store root works as a plain one.
 */
import assert from "node:assert/strict";
import { makeVictim, snapshotTree } from "../src/symlink_test_util.ts";
import { makeLayout, tempDir } from "./support/mod.ts";
import { ferry } from "./ferry_cli.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function seed(layout: string) {
  await makeLayout(layout, [{ name: "app", layers: [{ seed: "symlinks", size: 64 << 10 }] }]);
}

Deno.test("copy into a registry-dir whose .ferry-tmp is a symlink: refused in one line, victim untouched", async () => {
  await using dir = await tempDir();
  await seed(dir.join("layout"));
  const victim = dir.join("victim");
  await makeVictim(victim);
  const before = await snapshotTree(victim);
  await Deno.mkdir(dir.join("reg"));
  await Deno.symlink("../victim", dir.join("reg", ".ferry-tmp"));

  const run = await ferry([
    "copy",
    `oci:${dir.join("layout")}:app`,
    `registry-dir:${dir.join("reg")}:app:1`,
  ]);
  assert.notEqual(run.code, 0, run.stdout);
  const lines = run.stderr.trim().split("\n");
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], /\.ferry-tmp.*symbolic link/);
  assert.deepEqual(await snapshotTree(victim), before);
});

Deno.test("copy into a registry-dir reached through a symlinked root works", async () => {
  await using dir = await tempDir();
  await seed(dir.join("layout"));
  await Deno.mkdir(dir.join("real"));
  await Deno.symlink(dir.join("real"), dir.join("mounted"));
  const dest = `registry-dir:${dir.join("mounted")}:app:1`;
  const run = await ferry(["copy", `oci:${dir.join("layout")}:app`, dest]);
  assert.equal(run.code, 0, run.stderr);
  const tag = dir.join(
    "real",
    "docker/registry/v2/repositories/app/_manifests/tags/1/current/link",
  );
  assert.match(await Deno.readTextFile(tag), /^sha256:[a-f0-9]{64}$/);
});

Deno.test("registry serve filesystem: shutdown leaves a symlinked .ferry-tmp's target untouched", async () => {
  await using dir = await tempDir();
  const victim = dir.join("victim");
  await makeVictim(victim);
  const before = await snapshotTree(victim);
  await Deno.mkdir(dir.join("reg"));
  await Deno.symlink("../victim", dir.join("reg", ".ferry-tmp"));

  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      MAIN,
      "registry",
      "serve",
      "filesystem",
      dir.join("reg"),
      "--port",
      "0",
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  let stdout = "";
  let url: string | undefined;
  const deadline = Date.now() + 30_000;
  while (url === undefined && Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    stdout += decoder.decode(value, { stream: true });
    url = stdout.match(/Listening on (https?:\/\/[\d.]+:\d+)/)?.[1];
  }
  try {
    assert.ok(url, `serve did not start: ${stdout}`);
    const res = await fetch(`${url}/v2/`);
    await res.body?.cancel();
    assert.equal(res.status, 200);
  } finally {
    child.kill("SIGTERM");
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    const stderr = decoder.decode(await new Response(child.stderr).arrayBuffer());
    const status = await child.status;
    assert.equal(status.code, 0, stderr);
  }
  assert.deepEqual(await snapshotTree(victim), before);
});
