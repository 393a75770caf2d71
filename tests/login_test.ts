/** `ferry login` / `ferry logout` against docker-registry with htpasswd; skopeo reads the file. */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  inspectRaw,
  makeLayout,
  peerTest,
  pushToRegistry,
  requirePeer,
  run,
  startRegistry,
  tempDir,
} from "./support/mod.ts";
import { ferry } from "./ferry_cli.ts";

peerTest("login verifies, writes an auth file skopeo reads, and logout removes it", [
  "docker-registry",
  "skopeo",
  "htpasswd",
], async () => {
  await using dir = await tempDir();
  await using reg = await startRegistry({ auth: { htpasswd: { users: { alice: "right-pass" } } } });
  const layout = join(dir.path, "layout");
  const [img] = await makeLayout(layout, [{ name: "x", layers: [{ seed: "login", size: 1000 }] }]);
  await pushToRegistry(layout, "x", `${reg.host}/lib/x:1`, { creds: "alice:right-pass" });
  const authfile = join(dir.path, "containers", "auth.json");
  await Deno.mkdir(join(dir.path, "containers"));
  await Deno.writeTextFile(
    authfile,
    JSON.stringify({ auths: { "other.example": { auth: btoa("o:p") } } }),
  );

  const wrong = await ferry([
    "login",
    "--authfile",
    authfile,
    "-u",
    "alice",
    "--password-stdin",
    reg.host,
  ], { stdin: "wrong-pass\n" });
  assert.equal(wrong.code, 1);
  assert.ok(!wrong.stderr.includes("wrong-pass"));
  assert.ok(
    !(await Deno.readTextFile(authfile)).includes(reg.host),
    "rejected credentials were stored",
  );

  const good = await ferry([
    "login",
    "--authfile",
    authfile,
    "-u",
    "alice",
    "--password-stdin",
    reg.host,
  ], { stdin: "right-pass\n" });
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /Login Succeeded/);
  assert.ok(!good.stdout.includes("right-pass") && !good.stderr.includes("right-pass"));
  assert.equal((await Deno.stat(authfile)).mode! & 0o777, 0o600);
  const doc = JSON.parse(await Deno.readTextFile(authfile));
  assert.ok(doc.auths["other.example"], "other entries must be kept");

  // skopeo reads what ferry wrote; so does ferry itself.
  const { stdout } = await run(requirePeer("skopeo"), [
    "inspect",
    "--raw",
    "--tls-verify=false",
    "--authfile",
    authfile,
    `docker://${reg.host}/lib/x:1`,
  ]);
  assert.ok(stdout.length > 0);
  assert.equal(
    (await inspectRaw(`${reg.host}/lib/x:1`, { creds: "alice:right-pass" })).digest,
    img.digest,
  );
  const save = await ferry([
    "registry",
    "save",
    "--authfile",
    authfile,
    "--registry-dir",
    join(dir.path, "r"),
    "--images",
    `${reg.host}/lib/x:1`,
  ]);
  assert.equal(save.code, 0, save.stderr);

  const out = await ferry(["logout", "--authfile", authfile, reg.host]);
  assert.equal(out.code, 0, out.stderr);
  const after = JSON.parse(await Deno.readTextFile(authfile));
  assert.deepEqual(Object.keys(after.auths), ["other.example"]);
  const again = await ferry(["logout", "--authfile", authfile, reg.host]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not logged in/);
});
