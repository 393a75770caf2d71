/**
 * `ferry copy`, `ferry registry copy` and `ferry registry sync` between every kind of store,
 * checked with skopeo and docker-registry.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BuiltIndex,
  inspect,
  inspectRaw,
  makeLayout,
  peerTest,
  pushToRegistry,
  startFaultProxy,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import { ferry, ok } from "./ferry_cli.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };

peerTest("copy round-trips a multi-arch image through every transport with identical digests", [
  "docker-registry",
  "skopeo",
], async (t) => {
  await using dir = await tempDir();
  await using a = await startRegistry();
  await using b = await startRegistry();
  const layout = join(dir.path, "src-layout");
  const [index] = await makeLayout(layout, [{
    name: "multi",
    children: [
      {
        platform: AMD64,
        layers: [{ seed: "cp-base", size: 40_000 }, { seed: "cp-amd", size: 10_000 }],
      },
      {
        platform: ARM64,
        layers: [{ seed: "cp-base", size: 40_000 }, { seed: "cp-arm", size: 10_000 }],
      },
    ],
  }]) as [BuiltIndex];
  await pushToRegistry(layout, "multi", `${a.host}/multi/app:1`);
  const p = (name: string) => join(dir.path, name);

  await t.step("docker → oci", async () => {
    ok(await ferry(["copy", "--all", `docker://${a.host}/multi/app:1`, `oci:${p("l1")}:multi`]));
    assert.equal((await inspectRaw(`oci:${p("l1")}:multi`)).digest, index.digest);
  });
  await t.step("oci → oci-archive", async () => {
    ok(await ferry(["copy", "--all", `oci:${p("l1")}:multi`, `oci-archive:${p("a1.tar")}:multi`]));
    assert.equal((await inspectRaw(`oci-archive:${p("a1.tar")}:multi`)).digest, index.digest);
  });
  await t.step("oci-archive → registry-dir", async () => {
    ok(
      await ferry([
        "copy",
        "--all",
        `oci-archive:${p("a1.tar")}:multi`,
        `registry-dir:${p("rd")}:multi/app:1`,
      ]),
    );
    await using served = await startRegistry({ root: p("rd") });
    assert.equal((await inspectRaw(`${served.host}/multi/app:1`)).digest, index.digest);
  });
  await t.step("registry-dir → docker", async () => {
    ok(
      await ferry([
        "copy",
        "--all",
        `registry-dir:${p("rd")}:multi/app:1`,
        `docker://${b.host}/multi/app:2`,
      ]),
    );
    assert.equal((await inspectRaw(`${b.host}/multi/app:2`)).digest, index.digest);
  });
  await t.step("docker → docker-archive (one platform) → docker", async () => {
    ok(
      await ferry([
        "copy",
        "--platform",
        "linux/arm64",
        `docker://${b.host}/multi/app:2`,
        `docker-archive:${p("d.tar")}:multi/app:arm`,
      ]),
    );
    const arm = index.children[1];
    ok(await ferry(["copy", `docker-archive:${p("d.tar")}`, `docker://${b.host}/from/archive:1`]));
    const got = await inspect(`${b.host}/from/archive:1`);
    assert.equal(got.Architecture, "arm64");
    const raw = JSON.parse(
      new TextDecoder().decode((await inspectRaw(`${b.host}/from/archive:1`)).bytes),
    );
    assert.equal(raw.config.digest, arm.config.digest);
    // skopeo reads the archive too.
    const viaSkopeo = await inspect(`docker-archive:${p("d.tar")}`);
    assert.equal(viaSkopeo.Architecture, "arm64");
  });
  await t.step(
    "a platform subset pushed to a registry becomes a valid filtered index or image",
    async () => {
      ok(
        await ferry([
          "copy",
          "--platform",
          "linux/amd64",
          `docker://${a.host}/multi/app:1`,
          `docker://${b.host}/one/app:1`,
        ]),
      );
      assert.equal((await inspectRaw(`${b.host}/one/app:1`)).digest, index.children[0].digest);
    },
  );
});

peerTest("copy within one registry mounts blobs instead of uploading them", [
  "docker-registry",
  "skopeo",
], async () => {
  await using dir = await tempDir();
  await using reg = await startRegistry();
  await using proxy = await startFaultProxy({ upstream: reg.url });
  const layout = join(dir.path, "layout");
  await makeLayout(layout, [{
    name: "img",
    layers: [{ seed: "mount-1", size: 30_000 }, { seed: "mount-2", size: 30_000 }],
  }]);
  await pushToRegistry(layout, "img", `${reg.host}/team/a:1`);
  proxy.clearLog();
  ok(await ferry(["copy", `docker://${proxy.host}/team/a:1`, `docker://${proxy.host}/team/b:1`]));
  const mounts = proxy.log.filter((e) => e.method === "POST" && e.path.includes("mount="));
  assert.equal(mounts.length, 3, JSON.stringify(proxy.log.map((e) => `${e.method} ${e.path}`))); // config + 2 layers
  assert.ok(
    !proxy.log.some((e) => e.method === "PUT" && e.path.includes("/blobs/")),
    "a blob was uploaded",
  );
  assert.ok(
    !proxy.log.some((e) => e.method === "GET" && e.path.includes("/blobs/")),
    "a blob was downloaded",
  );
  assert.equal(
    (await inspectRaw(`${reg.host}/team/b:1`)).digest,
    (await inspectRaw(`${reg.host}/team/a:1`)).digest,
  );
});

peerTest("registry sync and registry copy move every image, credentials kept apart", [
  "docker-registry",
  "skopeo",
  "htpasswd",
], async () => {
  await using dir = await tempDir();
  await using source = await startRegistry();
  await using dest = await startRegistry({ auth: { htpasswd: { users: { admin: "dest-pass" } } } });
  const layout = join(dir.path, "layout");
  const built = await makeLayout(layout, [
    { name: "one", layers: [{ seed: "sync-1", size: 20_000 }] },
    {
      name: "two",
      children: [{ platform: AMD64, layers: [{ seed: "sync-2a", size: 20_000 }] }, {
        platform: ARM64,
        layers: [{ seed: "sync-2b", size: 20_000 }],
      }],
    },
  ]);
  await pushToRegistry(layout, "one", `${source.host}/lib/one:1`);
  await pushToRegistry(layout, "one", `${source.host}/lib/one:latest`);
  await pushToRegistry(layout, "two", `${source.host}/multi/two:3`);

  // registry → registry directory → registry (the air-gap round trip).
  const regDir = join(dir.path, "mirror");
  ok(await ferry(["registry", "sync", `${source.host}`, regDir]));
  ok(await ferry(["registry", "sync", "--dest-creds", "admin:dest-pass", regDir, dest.host]));
  for (
    const [ref, want] of [["lib/one:1", built[0].digest], ["lib/one:latest", built[0].digest], [
      "multi/two:3",
      built[1].digest,
    ]]
  ) {
    assert.equal(
      (await inspectRaw(`${dest.host}/${ref}`, { creds: "admin:dest-pass" })).digest,
      want,
      ref,
    );
  }
  // registry copy: destination path = source path; source needs no creds, destination does.
  ok(
    await ferry([
      "registry",
      "copy",
      "--all",
      "--dest-creds",
      "admin:dest-pass",
      `${source.host}/multi/two:3`,
      `${dest.host}`,
    ]),
  );
  const denied = await ferry(["registry", "copy", `${source.host}/lib/one:1`, dest.host]);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /ferry: .*(unauthorized|authentication|credentials)/i);
});

Deno.test("copy rejects unknown transports and digest destinations with usage errors", async () => {
  const unknown = await ferry(["copy", "dir:/tmp/x", "oci:/tmp/y"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown transport dir/);
  const digestDest = await ferry([
    "copy",
    "oci:/tmp/none:x",
    `docker://127.0.0.1:1/a@sha256:${"a".repeat(64)}`,
  ]);
  assert.ok(digestDest.code !== 0);
});

Deno.test("a failed command under --json ends its event stream with an error event", async () => {
  const run = await ferry([
    "registry",
    "save",
    "--json",
    "--registry-dir",
    "/nonexistent/x",
    "--images",
    "Bad_Name:1",
  ]);
  assert.equal(run.code, 1);
  const last = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
  assert.equal(last.type, "error");
  assert.equal(last.code, "invalid_reference");
  assert.match(last.message, /Bad_Name/);
});
