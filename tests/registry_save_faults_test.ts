/**
 * `ferry registry save` against servers that lie and processes that die: clear errors, nothing
 * written outside the registry directory, no bad blob left, and reruns that pick up where the
 * killed run stopped.
 */
import { digestOf } from "./support/digest.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  makeLayout,
  peerTest,
  pushToRegistry,
  startFaultProxy,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import { ferry, listFiles, spawnFerry } from "./ferry_cli.ts";

const enc = new TextEncoder();
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** A registry that serves one manifest per repository with crafted lies. */
function lyingRegistry() {
  const config = enc.encode(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [] },
    }),
  );
  const layer = enc.encode("the real layer bytes ".repeat(100));
  const manifest = (layerSize = layer.byteLength) =>
    enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: digestOf(config),
        size: config.byteLength,
      },
      layers: [{
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest: digestOf(layer),
        size: layerSize,
      }],
    }));
  const big = new Uint8Array(5 * 1024 * 1024).fill(32);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/(.+)$/.exec(path);
    if (path === "/v2/") return new Response("{}");
    if (!m) return new Response("", { status: 404 });
    const [, repo, kind, ref] = m;
    const head = req.method === "HEAD";
    const send = (bytes: Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) =>
      new Response(head ? null : bytes, {
        headers: { "content-length": String(bytes.byteLength), ...headers },
      });
    if (kind === "manifests") {
      if (repo === "lie/big") return send(big, { "content-type": OCI_MANIFEST });
      const bytes = manifest();
      if (repo === "lie/header") {
        return send(bytes, {
          "content-type": OCI_MANIFEST,
          "docker-content-digest": digestOf("other"),
        });
      }
      return send(bytes, {
        "content-type": OCI_MANIFEST,
        "docker-content-digest": digestOf(bytes),
      });
    }
    if (ref === digestOf(config)) return send(config);
    if (repo === "lie/digest") {
      const wrong = layer.slice();
      wrong[5] ^= 1;
      return send(wrong);
    }
    if (repo === "lie/size") {
      const longer = new Uint8Array(layer.byteLength + 10);
      longer.set(layer);
      return new Response(head ? null : longer);
    }
    return send(layer);
  });
  return { server, host: `127.0.0.1:${server.addr.port}`, layerDigest: digestOf(layer) };
}

Deno.test("save refuses lying servers with one clear line and keeps nothing bad", async (t) => {
  await using dir = await tempDir();
  const liar = lyingRegistry();
  try {
    const regDir = join(dir.path, "work", "registry");
    const cases: [string, RegExp][] = [
      ["lie/digest:1", /digest/],
      ["lie/size:1", /bytes|size/],
      ["lie/big:1", /4 MiB|limit|too large/i],
      ["lie/header:1", /Docker-Content-Digest|digest/],
    ];
    for (const [ref, why] of cases) {
      await t.step(ref, async () => {
        const run = await ferry([
          "registry",
          "save",
          "--registry-dir",
          regDir,
          "--images",
          `${liar.host}/${ref}`,
        ]);
        assert.equal(run.code, 1, run.stderr);
        // Progress lines of blobs that did finish may precede it; the error is one line, last.
        const lines = run.stderr.trim().split("\n");
        const errors = lines.filter((l) => l.startsWith("ferry: "));
        assert.equal(errors.length, 1, run.stderr);
        assert.equal(lines.at(-1), errors[0]);
        assert.match(errors[0], why);
        assert.doesNotMatch(run.stderr, /\n\s+at /); // no stack trace without --debug
      });
    }
    const parent = await listFiles(join(dir.path, "work"));
    assert.ok(parent.every((f) => f.startsWith("registry/")), parent.join("\n"));
    assert.ok(
      !parent.some((f) => f.includes(liar.layerDigest.slice(7))),
      "a bad layer blob was kept",
    );
    assert.ok(!parent.some((f) => f.includes(".ferry-tmp")), parent.join("\n"));

    await t.step("names that escape are refused before any request", async () => {
      for (
        const ref of [
          `${liar.host}/../../etc:1`,
          `${liar.host}/a/%2e%2e/b:1`,
          `${liar.host}/a/../b:1`,
        ]
      ) {
        const run = await ferry(["registry", "save", "--registry-dir", regDir, "--images", ref]);
        assert.equal(run.code, 1, ref);
        assert.match(run.stderr, /invalid reference/, run.stderr);
      }
    });
  } finally {
    await liar.server.shutdown();
  }
});

peerTest("a killed save resumes: finished blobs are not fetched again", [
  "docker-registry",
  "skopeo",
], async () => {
  await using dir = await tempDir();
  await using source = await startRegistry();
  await using proxy = await startFaultProxy({ upstream: source.url });
  const layout = join(dir.path, "layout");
  const names = Array.from({ length: 8 }, (_, i) => `img-${i}`);
  await makeLayout(
    layout,
    names.map((name) => ({
      name,
      layers: [{ seed: `${name}-a`, size: 400_000 }, { seed: `${name}-b`, size: 400_000 }],
    })),
  );
  for (const name of names) await pushToRegistry(layout, name, `${source.host}/kill/${name}:1`);
  const refs = names.map((n) => `${proxy.host}/kill/${n}:1`).join(",");
  const regDir = join(dir.path, "registry");
  const args = [
    "registry",
    "save",
    "--max-pull-procs",
    "1",
    "--registry-dir",
    regDir,
    "--images",
    refs,
    "--json",
  ];

  // First run: kill -9 as soon as the first image is reported done.
  const child = spawnFerry(args, { stderr: "null" });
  let buffer = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    if (buffer.includes('"type":"image-done"')) {
      child.kill("SIGKILL");
      break;
    }
  }
  const status = await child.status;
  assert.notEqual(status.code, 0, "the save finished before it could be killed");
  const fetchedFirst = new Set(
    proxy.log.filter((e) =>
      e.method === "GET" && e.path.includes("/blobs/") && e.status === 200 && e.bytes > 0 &&
      !e.range
    )
      .map((e) => e.path.split("/blobs/")[1]),
  );
  const stored = new Set(
    (await listFiles(regDir)).filter((f) => f.endsWith("/data")).map((f) =>
      `sha256:${f.split("/").at(-2)}`
    ),
  );
  assert.ok(stored.size > 0, "nothing was stored before the kill");

  proxy.clearLog();
  const rerun = await ferry(args.slice(0, -1));
  assert.equal(rerun.code, 0, rerun.stderr);
  const fetchedAgain = proxy.log.filter((e) => e.method === "GET" && e.path.includes("/blobs/"))
    .map((e) => e.path.split("/blobs/")[1]);
  for (const digest of fetchedAgain) {
    assert.ok(!stored.has(digest), `${digest} was stored before the kill but fetched again`);
  }
  assert.ok(fetchedFirst.size > 0);
  const files = await listFiles(regDir);
  assert.ok(!files.some((f) => f.includes(".ferry-tmp")), "staging left behind");
  await using served = await startRegistry({ root: regDir });
  const res = await fetch(`${served.url}/v2/_catalog`);
  assert.deepEqual((await res.json()).repositories, names.map((n) => `kill/${n}`).sort());
});
