/**
 * `ferry registry save` against real peers: images pushed by skopeo into docker-registry, saved by
 * ferry, then served by a fresh docker-registry from ferry's directory and read back by skopeo.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BuiltImage,
  type BuiltIndex,
  copy,
  inspect,
  inspectRaw,
  makeLayout,
  peerTest,
  pushToRegistry,
  requirePeer,
  run as runCommand,
  startFaultProxy,
  startRegistry,
  startTokenIssuer,
  tempDir,
} from "./support/mod.ts";
import { ferry, listFiles, ok, writeAuthFile } from "./ferry_cli.ts";
import { formatSize } from "../src/byte_size.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };
const ARMV7 = { os: "linux", architecture: "arm", variant: "v7" };

/** Four images: two sharing a base layer, a three-platform index, a Docker-format image. */
async function seed(layoutDir: string, host: string, creds?: string) {
  const built = await makeLayout(layoutDir, [
    { name: "app-0", layers: [{ seed: "base", size: 200_000 }, { seed: "app-0", size: 50_000 }] },
    { name: "app-1", layers: [{ seed: "base", size: 200_000 }, { seed: "app-1", size: 70_000 }] },
    {
      name: "multi",
      children: [
        {
          platform: AMD64,
          layers: [{ seed: "base", size: 200_000 }, { seed: "m-amd64", size: 30_000 }],
        },
        { platform: ARM64, layers: [{ seed: "m-arm64", size: 30_000 }] },
        { platform: ARMV7, layers: [{ seed: "m-armv7", size: 30_000 }] },
      ],
    },
    { name: "dock", format: "docker", layers: [{ seed: "dock", size: 40_000 }] },
  ]);
  const [app0, app1, multi, dock] = built as [BuiltImage, BuiltImage, BuiltIndex, BuiltImage];
  await pushToRegistry(layoutDir, "app-0", `${host}/library/app-0:1.0`, { creds });
  await pushToRegistry(layoutDir, "app-1", `${host}/library/app-1:1.0`, { creds });
  await pushToRegistry(layoutDir, "multi", `${host}/multi/arch:1.0`, { creds });
  await pushToRegistry(layoutDir, "dock", `${host}/dock/er:2`, { creds });
  return { app0, app1, multi, dock };
}

/** A build context listing the images through a shim file and a manifest. */
async function writeContext(
  dir: string,
  lines: string[],
  manifest: string[] = [],
): Promise<string> {
  const ctx = join(dir, "ctx");
  await Deno.mkdir(join(ctx, "images/shim"), { recursive: true });
  await Deno.writeTextFile(join(ctx, "images/shim/list.txt"), lines.join("\n") + "\n");
  if (manifest.length) {
    await Deno.mkdir(join(ctx, "manifests"), { recursive: true });
    await Deno.writeTextFile(join(ctx, "manifests/deploy.yaml"), manifest.join("\n") + "\n");
  }
  return ctx;
}

peerTest("save: a fresh docker-registry serves ferry's directory with the source digests", [
  "docker-registry",
  "skopeo",
], async () => {
  await using dir = await tempDir();
  await using source = await startRegistry();
  const img = await seed(join(dir.path, "layout"), source.host);
  const h = source.host;
  const ctx = await writeContext(dir.path, [`${h}/library/app-0:1.0`, `${h}/dock/er:2`], [
    "spec:",
    "  containers:",
    `  - image: ${h}/library/app-1:1.0`,
    `  - image: "${h}/multi/arch:1.0"`,
  ]);
  const regDir = join(ctx, "registry");
  const run = await ferry([
    "registry",
    "save",
    "--registry-dir",
    regDir,
    "--platform",
    "linux/amd64,linux/arm64",
    ctx,
  ]);
  ok(run);
  assert.match(run.stderr, /Copying blob [0-9a-f]{12} done/);
  assert.match(run.stderr, /4 images saved/);

  // Nothing left over from staging; the layout is what docker-registry writes.
  const files = await listFiles(regDir);
  assert.ok(!files.some((f) => f.includes(".ferry-tmp")), files.join("\n"));
  assert.ok(
    files.includes(`docker/registry/v2/repositories/multi/arch/_manifests/tags/1.0/current/link`),
  );

  await using served = await startRegistry({ root: regDir });
  const s = served.host;
  for (
    const [ref, want] of [
      ["library/app-0:1.0", img.app0.digest],
      ["library/app-1:1.0", img.app1.digest],
      ["dock/er:2", img.dock.digest],
      ["multi/arch:1.0", img.multi.digest], // the index is kept byte for byte: its digest holds
    ] as const
  ) {
    const { digest } = await inspectRaw(`${s}/${ref}`);
    assert.equal(digest, want, ref);
  }
  // Both selected platforms are pullable by the tag; the unselected one is not stored.
  const amd = await inspect(`${s}/multi/arch:1.0`, { overrideArch: "amd64" });
  assert.deepEqual(amd.Layers, img.multi.children[0].layers.map((l) => l.digest));
  const arm = await inspect(`${s}/multi/arch:1.0`, {
    overrideArch: "arm64",
    overrideVariant: "v8",
  });
  assert.deepEqual(arm.Layers, img.multi.children[1].layers.map((l) => l.digest));
  await assert.rejects(
    inspect(`${s}/multi/arch:1.0`, { overrideArch: "arm", overrideVariant: "v7" }),
  );
  // A digest-pinned reference resolves by its original digest.
  assert.equal((await inspectRaw(`${s}/multi/arch@${img.multi.digest}`)).digest, img.multi.digest);
  // skopeo copies every selected image out of the served directory.
  await using out = await tempDir();
  await copy(`docker://${s}/library/app-0:1.0`, `oci:${out.path}:x`);
  await runCommand(requirePeer("skopeo"), [
    "--insecure-policy",
    "--override-arch=arm64",
    "copy",
    "--src-tls-verify=false",
    `docker://${s}/multi/arch:1.0`,
    `oci:${out.path}:y`,
  ]);
});

peerTest(
  "save leaves images named only in env values out, in one line; --include-referenced saves them",
  [
    "docker-registry",
    "skopeo",
  ],
  async () => {
    await using dir = await tempDir();
    await using source = await startRegistry();
    await seed(join(dir.path, "layout"), source.host);
    const h = source.host;
    const ctx = await writeContext(dir.path, [], [
      "spec:",
      "  containers:",
      `  - image: ${h}/library/app-0:1.0`,
      "    env:",
      "    - name: RELATED_IMAGE_APP_1",
      `      value: ${h}/library/app-1:1.0`,
    ]);
    const regDir = join(dir.path, "registry");
    const base = ["registry", "save", "--registry-dir", regDir, ctx];
    const first = await ferry(base);
    ok(first);
    const notices = first.stderr.split("\n").filter((l) => l.includes("--include-referenced"));
    assert.deepEqual(notices, [
      "1 image named only in env values or container args was left out (references, such as " +
      "every version an operator supports); --include-referenced saves them too",
    ]);
    assert.match(first.stderr, /1 image saved/);
    const files = await listFiles(regDir);
    assert.ok(!files.some((f) => f.includes("library/app-1/")), files.join("\n"));

    const second = await ferry([...base.slice(0, -1), "--include-referenced", ctx]);
    ok(second);
    assert.doesNotMatch(second.stderr, /left out/);
    assert.match(second.stderr, /2 images saved/);
  },
);

peerTest("save --all keeps the whole index; a rerun fetches nothing", [
  "docker-registry",
  "skopeo",
], async () => {
  await using dir = await tempDir();
  await using source = await startRegistry();
  await using proxy = await startFaultProxy({ upstream: source.url });
  const img = await seed(join(dir.path, "layout"), source.host);
  const regDir = join(dir.path, "registry");
  const args = [
    "registry",
    "save",
    "--registry-dir",
    regDir,
    "--all",
    "--images",
    `${proxy.host}/multi/arch:1.0`,
  ];
  const first = await ferry([...args, "--json"]);
  ok(first);
  const events = first.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const result = events.find((e) => e.type === "result");
  assert.equal(result.images[0].digest, img.multi.digest);
  assert.equal(result.images[0].manifests.length, 3);
  const blobGets = proxy.log.filter((e) => e.method === "GET" && e.path.includes("/blobs/")).length;
  assert.equal(blobGets, 7); // 3 configs + 4 distinct layers, each fetched once
  assert.equal(
    new Set(
      proxy.log.filter((e) => e.method === "GET" && e.path.includes("/blobs/")).map((e) => e.path),
    ).size,
    blobGets,
  );

  // The totals count each distinct blob once: all fetched now, all present on the rerun.
  const distinct = new Map(
    img.multi.children.flatMap((c) => [c.config, ...c.layers]).map((d) => [d.digest, d.size]),
  );
  const bytes = [...distinct.values()].reduce((a, b) => a + b, 0);
  assert.equal(result.totals.bytesFetched, bytes);
  assert.equal(result.totals.bytesPresent, 0);
  assert.equal(result.totals.blobs, distinct.size);

  proxy.clearLog();
  const second = await ferry(args);
  ok(second);
  assert.equal(
    proxy.log.filter((e) => e.path.includes("/blobs/")).length,
    0,
    "rerun fetched blobs",
  );
  // Not a terminal: no progress lines, only the closing summary.
  const summary = new RegExp(
    `^1 image saved to ${regDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} ` +
      `\\(0B fetched, ${formatSize(bytes).replace(".", "\\.")} already present, ` +
      "\\d+\\.\\d\\ds, 0B/s\\)$",
  );
  assert.match(second.stderr.trimEnd().split("\n").at(-1)!, summary);
  assert.doesNotMatch(second.stderr, /Images \d/);
  // Only a HEAD of the tag: everything else is read from the registry directory. The lookup of
  // new signatures is one tag list of the repository, which holds none: no cosign or fallback
  // tag of the index or its two images is asked for.
  assert.deepEqual(
    proxy.log.filter((e) => e.path.includes("/manifests/")).map((e) => e.method),
    ["HEAD"],
  );
  assert.deepEqual(
    proxy.log.filter((e) => e.path.includes("/tags/list")).map((e) => e.path),
    ["/v2/multi/arch/tags/list?n=1000"],
  );

  await using served = await startRegistry({ root: regDir });
  await using out = await tempDir();
  await copy(`docker://${served.host}/multi/arch:1.0`, `oci:${out.path}:all`, { all: true });
});

peerTest("save through htpasswd basic auth; missing credentials fail in one line", [
  "docker-registry",
  "skopeo",
  "htpasswd",
], async () => {
  await using dir = await tempDir();
  const password = "s3cret-Pa55";
  await using source = await startRegistry({ auth: { htpasswd: { users: { alice: password } } } });
  const img = await seed(join(dir.path, "layout"), source.host, `alice:${password}`);
  const authfile = await writeAuthFile(dir.path, source.host, "alice", password);
  const regDir = join(dir.path, "registry");
  const traced = await ferry([
    "registry",
    "save",
    "--debug",
    "--authfile",
    authfile,
    "--registry-dir",
    regDir,
    "--images",
    `${source.host}/library/app-0:1.0`,
  ]);
  ok(traced);
  // --debug traces every request, and never a secret.
  assert.match(traced.stderr, /debug: GET http:\/\/127\.0\.0\.1:\d+\/v2\/library\/app-0\/blobs\//);
  assert.ok(!traced.stderr.includes(password), "password in --debug output");
  assert.ok(
    !traced.stderr.includes(btoa(`alice:${password}`)),
    "basic credentials in --debug output",
  );
  await using served = await startRegistry({ root: regDir });
  assert.equal((await inspectRaw(`${served.host}/library/app-0:1.0`)).digest, img.app0.digest);

  const empty = join(dir.path, "empty.json");
  await Deno.writeTextFile(empty, "{}");
  const denied = await ferry([
    "registry",
    "save",
    "--authfile",
    empty,
    "--registry-dir",
    join(dir.path, "r2"),
    "--images",
    `${source.host}/library/app-0:1.0`,
  ]);
  assert.equal(denied.code, 1);
  assert.equal(denied.stderr.trim().split("\n").length, 1, denied.stderr);
  assert.match(denied.stderr, /ferry: .*(unauthorized|authentication|credentials)/i);
  assert.ok(!denied.stderr.includes(password));
});

peerTest("save through token auth asks one scope per repository", [
  "docker-registry",
  "skopeo",
  "openssl",
], async () => {
  await using dir = await tempDir();
  await using issuer = await startTokenIssuer({
    users: { bob: "tok-pass", pusher: "push-pass" },
    acl: (account, res) =>
      res.type === "repository"
        ? (account === "pusher" ? ["pull", "push"] : account === "bob" ? ["pull"] : [])
        : [],
  });
  await using source = await startRegistry({ auth: { token: issuer } });
  const img = await seed(join(dir.path, "layout"), source.host, "pusher:push-pass");
  const authfile = await writeAuthFile(dir.path, source.host, "bob", "tok-pass");
  const regDir = join(dir.path, "registry");
  const before = issuer.requests.length;
  const run = await ferry([
    "registry",
    "save",
    "--authfile",
    authfile,
    "--registry-dir",
    regDir,
    "--images",
    `${source.host}/library/app-0:1.0,${source.host}/dock/er:2`,
  ]);
  ok(run);
  const asked = issuer.requests.slice(before).flatMap((r) => r.scopes);
  assert.ok(asked.includes("repository:library/app-0:pull"), asked.join(" "));
  assert.ok(asked.includes("repository:dock/er:pull"), asked.join(" "));
  assert.ok(issuer.requests.slice(before).every((r) => r.account === "bob"));
  await using served = await startRegistry({ root: regDir });
  assert.equal((await inspectRaw(`${served.host}/dock/er:2`)).digest, img.dock.digest);
});

peerTest("save survives connection resets, 500s and 429s, resuming with Range", [
  "docker-registry",
  "skopeo",
], async () => {
  await using dir = await tempDir();
  await using source = await startRegistry();
  await using proxy = await startFaultProxy({
    upstream: source.url,
    faults: {
      resetAfterBytes: { bytes: 60_000, times: 3 },
      status500Every: 7,
      status429Every: 11,
      retryAfterSeconds: 1,
    },
  });
  const img = await seed(join(dir.path, "layout"), source.host);
  const regDir = join(dir.path, "registry");
  const run = await ferry([
    "registry",
    "save",
    "--registry-dir",
    regDir,
    "--images",
    `${proxy.host}/library/app-0:1.0,${proxy.host}/library/app-1:1.0,${proxy.host}/multi/arch:1.0`,
  ]);
  ok(run);
  assert.ok(proxy.log.some((e) => e.fault === "reset"), "no reset was injected");
  assert.ok(
    proxy.log.some((e) => e.range?.startsWith("bytes=")),
    "no download was resumed with Range",
  );
  assert.ok(proxy.log.some((e) => e.fault === "500") && proxy.log.some((e) => e.fault === "429"));
  await using served = await startRegistry({ root: regDir });
  for (
    const [ref, want] of [["library/app-0:1.0", img.app0.digest], [
      "library/app-1:1.0",
      img.app1.digest,
    ]]
  ) {
    assert.equal((await inspectRaw(`${served.host}/${ref}`)).digest, want);
    await inspect(`${served.host}/${ref}`); // config readable
  }
});

peerTest("save reads images/skopeo/tar.txt archives written by skopeo", [
  "docker-registry",
  "skopeo",
], async () => {
  await using dir = await tempDir();
  const layout = join(dir.path, "layout");
  const [app] = await makeLayout(layout, [{
    name: "app",
    layers: [{ seed: "tar-a", size: 30_000 }, { seed: "tar-b", size: 20_000 }],
  }]) as BuiltImage[];
  const ctx = join(dir.path, "ctx");
  const skopeoDir = join(ctx, "images/skopeo");
  await Deno.mkdir(skopeoDir, { recursive: true });
  await copy(`oci:${layout}:app`, `docker-archive:${join(skopeoDir, "app.tar")}:library/app:1`);
  await copy(`oci:${layout}:app`, `oci-archive:${join(skopeoDir, "app-oci.tar")}:app`);
  await Deno.writeTextFile(
    join(skopeoDir, "tar.txt"),
    "docker-archive:app.tar@library/from-docker\noci-archive:app-oci.tar@library/from-oci:2.0\n",
  );
  const regDir = join(ctx, "registry");
  ok(await ferry(["registry", "save", "--registry-dir", regDir, ctx]));
  await using served = await startRegistry({ root: regDir });
  const fromOci = await inspectRaw(`${served.host}/library/from-oci:2.0`);
  assert.equal(fromOci.digest, app.digest);
  const fromDocker = await inspectRaw(`${served.host}/library/from-docker:latest`);
  const manifest = JSON.parse(new TextDecoder().decode(fromDocker.bytes));
  assert.equal(manifest.config.digest, app.config.digest);
  assert.equal(manifest.layers.length, 2);
  await inspect(`${served.host}/library/from-docker:latest`);
});

Deno.test("--tars items are checked like tar.txt lines before anything is read or written", async () => {
  await using dir = await tempDir();
  await Deno.writeFile(join(dir.path, "app.tar"), new Uint8Array(1024));
  const cases: [string, RegExp][] = [
    ["docker-archive:app.tar@Bad/Name", /invalid destination repository "Bad\/Name"/],
    ["docker-archive:app.tar@app:-x", /invalid destination tag "-x"/],
    ["docker-archive:@app", /empty archive path/],
    ["dir:app.tar@app", /unsupported transport "dir"/],
    ["docker-archive:app.tar", /is not <transport>:<path>@<repository\[:tag\]>/],
  ];
  for (const [spec, message] of cases) {
    const res = await ferry(["registry", "save", "--tars", spec], { cwd: dir.path });
    assert.equal(res.code, 2, `${spec}: ${res.stderr}`);
    const lines = res.stderr.trim().split("\n");
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0], new RegExp(`^ferry: invalid archive "${RegExp.escape(spec)}": `));
    assert.match(lines[0], message, spec);
  }
  // Nothing was written for any of them.
  assert.deepEqual(await listFiles(dir.path), ["app.tar"]);
});
