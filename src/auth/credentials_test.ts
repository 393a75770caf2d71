import assert from "node:assert/strict";
import { FerryError } from "../errors.ts";
import {
  type Credential,
  CredentialStore,
  type CredentialStoreOptions,
  encodeBasic,
  normalizeAuthKey,
} from "./credentials.ts";
import { runCredentialHelper } from "./helper.ts";

/** A temp directory tree for one test; `env` is the injected environment. */
async function sandbox() {
  const root = await Deno.makeTempDir({ prefix: "ferry-auth-" });
  const vars: Record<string, string> = {};
  return {
    root,
    home: `${root}/home`,
    vars,
    env: (name: string) => vars[name],
    async write(path: string, content: unknown) {
      const full = `${root}/${path}`;
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(
        full,
        typeof content === "string" ? content : JSON.stringify(content),
      );
      return full;
    },
    store(options: Partial<CredentialStoreOptions> = {}) {
      return new CredentialStore({ env: (n) => vars[n], home: `${root}/home`, ...options });
    },
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

const basic = (username: string, password = "pw"): Credential => ({
  kind: "basic",
  username,
  password,
});
const authEntry = (user: string, password = "pw") => ({ auth: encodeBasic(user, password) });

Deno.test("CredentialStore: files are consulted in containers/image order", async () => {
  await using s = await sandbox();
  s.vars.XDG_RUNTIME_DIR = `${s.root}/run`;
  const files = {
    runtime: await s.write("run/containers/auth.json", { auths: { "r.io": authEntry("runtime") } }),
    config: await s.write("home/.config/containers/auth.json", {
      auths: { "r.io": authEntry("config") },
    }),
    docker: await s.write("home/.docker/config.json", { auths: { "r.io": authEntry("docker") } }),
    legacy: await s.write("home/.dockercfg", { "https://r.io/v1/": authEntry("legacy") }),
  };
  const expectUser = async (user: string | undefined) => {
    const got = await s.store().lookup("r.io");
    assert.deepEqual(got, user === undefined ? undefined : basic(user));
  };
  await expectUser("runtime");
  await Deno.remove(files.runtime);
  await expectUser("config");
  await Deno.remove(files.config);
  await expectUser("docker");
  await Deno.remove(files.docker);
  await expectUser("legacy");
  await Deno.remove(files.legacy);
  await expectUser(undefined);
});

Deno.test("CredentialStore: a file without the registry does not stop the search", async () => {
  await using s = await sandbox();
  s.vars.XDG_RUNTIME_DIR = `${s.root}/run`;
  await s.write("run/containers/auth.json", { auths: { "other.io": authEntry("x") } });
  await s.write("home/.docker/config.json", { auths: { "r.io": authEntry("docker") } });
  assert.deepEqual(await s.store().lookup("r.io"), basic("docker"));
});

Deno.test("CredentialStore: REGISTRY_AUTH_FILE replaces the runtime file, DOCKER_CONFIG the docker one", async () => {
  await using s = await sandbox();
  s.vars.XDG_RUNTIME_DIR = `${s.root}/run`;
  await s.write("run/containers/auth.json", { auths: { "a.io": authEntry("runtime") } });
  const raf = await s.write("raf.json", { auths: { "b.io": authEntry("raf") } });
  s.vars.REGISTRY_AUTH_FILE = raf;
  await s.write("home/.docker/config.json", { auths: { "c.io": authEntry("home-docker") } });
  await s.write("dc/config.json", { auths: { "c.io": authEntry("docker-config") } });
  s.vars.DOCKER_CONFIG = `${s.root}/dc`;
  s.vars.XDG_CONFIG_HOME = `${s.root}/xdgconf`;
  await s.write("xdgconf/containers/auth.json", { auths: { "d.io": authEntry("xdg-config") } });
  await s.write("home/.config/containers/auth.json", { auths: { "d.io": authEntry("no") } });

  const store = s.store();
  assert.equal(await store.lookup("a.io"), undefined);
  assert.deepEqual(await store.lookup("b.io"), basic("raf"));
  assert.deepEqual(await store.lookup("c.io"), basic("docker-config"));
  assert.deepEqual(await store.lookup("d.io"), basic("xdg-config"));
  assert.deepEqual(store.locations().map((l) => l.path), [
    raf,
    `${s.root}/xdgconf/containers/auth.json`,
    `${s.root}/dc/config.json`,
    `${s.home}/.dockercfg`,
  ]);
});

Deno.test("CredentialStore: --authfile is the only file, and must exist", async () => {
  await using s = await sandbox();
  await s.write("home/.docker/config.json", { auths: { "r.io": authEntry("docker") } });
  const authfile = await s.write("mine.json", { auths: { "q.io": authEntry("mine") } });
  const store = s.store({ authfile });
  assert.deepEqual(await store.lookup("q.io"), basic("mine"));
  assert.equal(await store.lookup("r.io"), undefined);

  const missing = `${s.root}/missing.json`;
  await assert.rejects(s.store({ authfile: missing }).lookup("r.io"), (err: unknown) => {
    assert.ok(err instanceof FerryError);
    assert.equal(err.code, "invalid_input");
    assert.ok(err.message.includes(missing), err.message);
    return true;
  });
});

Deno.test("CredentialStore: malformed files fail naming the path, never the content", async () => {
  await using s = await sandbox();
  const secret = "s3cr3t-Passw0rd";
  const cases: [unknown, string][] = [
    [`{"auths": {"r.io": {"auth": "${encodeBasic("u", secret)}"}`, "not valid JSON"],
    [`{"auths": {"r.io": {"password": "${secret}", }}}`, "not valid JSON"],
    [["not", "an", "object"], "not a JSON object"],
    [{ auths: [] }, `"auths" is not an object`],
    [{ auths: { "r.io": "x" } }, "is not an object"],
    [{ credHelpers: { "r.io": 3 } }, "is not a string"],
    [{ credsStore: true }, `"credsStore" is not a string`],
  ];
  for (const [content, why] of cases) {
    const path = await s.write("home/.docker/config.json", content);
    await assert.rejects(s.store().lookup("r.io"), (err: unknown) => {
      assert.ok(err instanceof FerryError);
      assert.equal(err.code, "invalid_input");
      assert.ok(err.message.includes(path), err.message);
      assert.ok(err.message.includes(why), err.message);
      assert.ok(!err.message.includes(secret), err.message);
      assert.ok(!err.message.includes(encodeBasic("u", secret)), err.message);
      return true;
    });
  }
  // A bad "auth" value fails only for its own registry, naming file and key, not the value.
  const path = await s.write("home/.docker/config.json", {
    auths: { "r.io": { auth: "!!not base64!!" }, "ok.io": authEntry("fine") },
  });
  const store = s.store();
  assert.deepEqual(await store.lookup("ok.io"), basic("fine"));
  await assert.rejects(store.lookup("r.io"), (err: unknown) => {
    assert.ok(err instanceof FerryError);
    assert.ok(err.message.includes(path) && err.message.includes('"r.io"'), err.message);
    assert.ok(!err.message.includes("!!not base64!!"), err.message);
    return true;
  });
  await s.write("home/.docker/config.json", {
    auths: { "r.io": { auth: btoa("no-colon-here") } },
  });
  await assert.rejects(s.store().lookup("r.io"), /not base64 of user:password/);
});

Deno.test("CredentialStore: empty files and missing files are fine", async () => {
  await using s = await sandbox();
  await s.write("home/.docker/config.json", "");
  assert.equal(await s.store().lookup("r.io"), undefined);
  assert.equal(await new CredentialStore({ env: () => undefined }).lookup("r.io"), undefined);
});

Deno.test("CredentialStore: auth decoding, identity and registry tokens", async () => {
  await using s = await sandbox();
  await s.write("home/.docker/config.json", {
    auths: {
      "colon.io": authEntry("user", "pa:ss:word"),
      "utf8.io": authEntry("jürgen", "pässwörd✓"),
      "padless.io": { auth: encodeBasic("ab", "c").replace(/=+$/, "") },
      "fields.io": { username: "plain", password: "pw" },
      "id.io": { auth: encodeBasic("me", ""), identitytoken: "refresh-123" },
      "idonly.io": { identitytoken: "refresh-456" },
      "rt.io": { registrytoken: "bearer-789" },
      "empty.io": {},
      "blank.io": { auth: "" },
    },
  });
  const store = s.store();
  assert.deepEqual(await store.lookup("colon.io"), basic("user", "pa:ss:word"));
  assert.deepEqual(await store.lookup("utf8.io"), basic("jürgen", "pässwörd✓"));
  assert.deepEqual(await store.lookup("padless.io"), basic("ab", "c"));
  assert.deepEqual(await store.lookup("fields.io"), basic("plain", "pw"));
  assert.deepEqual(await store.lookup("id.io"), {
    kind: "identity_token",
    username: "me",
    token: "refresh-123",
  });
  assert.deepEqual(await store.lookup("idonly.io"), {
    kind: "identity_token",
    token: "refresh-456",
  });
  assert.deepEqual(await store.lookup("rt.io"), { kind: "registry_token", token: "bearer-789" });
  assert.equal(await store.lookup("empty.io"), undefined);
  assert.equal(await store.lookup("blank.io"), undefined);
});

Deno.test("CredentialStore: Docker Hub and URL-shaped keys normalise to the host", async () => {
  for (
    const key of [
      "https://index.docker.io/v1/",
      "docker.io",
      "registry-1.docker.io",
      "index.docker.io",
      "http://registry-1.docker.io/v2/",
    ]
  ) {
    await using s = await sandbox();
    await s.write("home/.docker/config.json", { auths: { [key]: authEntry("hub") } });
    const store = s.store();
    assert.deepEqual(await store.lookup("docker.io"), basic("hub"), key);
    assert.deepEqual(await store.lookup("index.docker.io"), basic("hub"), key);
    assert.equal(await store.lookup("quay.io"), undefined, key);
  }
  await using s = await sandbox();
  await s.write("home/.docker/config.json", {
    auths: { "https://my.registry:5000/v2/": authEntry("url"), "LOCALHOST:5000": authEntry("lh") },
  });
  assert.deepEqual(await s.store().lookup("my.registry:5000"), basic("url"));
  assert.deepEqual(await s.store().lookup("localhost:5000"), basic("lh"));
  assert.equal(await s.store().lookup("my.registry"), undefined);

  assert.equal(normalizeAuthKey("https://index.docker.io/v1/"), "docker.io");
  assert.equal(normalizeAuthKey("quay.io/org"), "quay.io/org");
  assert.equal(normalizeAuthKey("quay.io/org", true), "quay.io");
});

Deno.test("CredentialStore: repository-scoped keys match their repositories only", async () => {
  await using s = await sandbox();
  s.vars.XDG_RUNTIME_DIR = `${s.root}/run`;
  await s.write("run/containers/auth.json", {
    auths: {
      "quay.io/org": authEntry("org"),
      "quay.io/org/special": authEntry("special"),
      "quay.io": authEntry("host"),
      "ghcr.io/team": authEntry("team-only"),
    },
  });
  const store = s.store();
  assert.deepEqual(await store.lookup("quay.io", "org/app"), basic("org"));
  assert.deepEqual(await store.lookup("quay.io", "org/special"), basic("special"));
  assert.deepEqual(await store.lookup("quay.io", "org/special/x"), basic("special"));
  assert.deepEqual(await store.lookup("quay.io", "other/app"), basic("host"));
  assert.deepEqual(await store.lookup("quay.io", "organ/app"), basic("host"));
  assert.deepEqual(await store.lookup("quay.io"), basic("host"));
  assert.equal(await store.lookup("ghcr.io"), undefined);
  assert.deepEqual(await store.lookup("ghcr.io", "team/app"), basic("team-only"));
});

Deno.test("CredentialStore: credHelpers, auths, then credsStore; helper results cached", async () => {
  await using s = await sandbox();
  await s.write("home/.docker/config.json", {
    credHelpers: { "gcr.io": "gcloud", "https://index.docker.io/v1/": "hub", "none.io": "empty" },
    credsStore: "desktop",
    auths: { "file.io": authEntry("from-file"), "stored.io": {} },
  });
  const calls: string[] = [];
  const store = s.store({
    runHelper: (helper, server) => {
      calls.push(`${helper} ${server}`);
      if (helper === "gcloud") return Promise.resolve({ Username: "oauth2", Secret: "g" });
      if (helper === "hub") return Promise.resolve({ Username: "<token>", Secret: "hub-refresh" });
      if (helper === "desktop" && server === "stored.io") {
        return Promise.resolve({ Username: "d", Secret: "s" });
      }
      return Promise.resolve(undefined);
    },
  });
  assert.deepEqual(await store.lookup("gcr.io"), basic("oauth2", "g"));
  assert.deepEqual(await store.lookup("docker.io"), {
    kind: "identity_token",
    token: "hub-refresh",
  });
  assert.deepEqual(await store.lookup("file.io"), basic("from-file"));
  assert.deepEqual(await store.lookup("stored.io"), basic("d", "s"));
  assert.equal(await store.lookup("none.io"), undefined);
  assert.deepEqual(await store.lookup("gcr.io"), basic("oauth2", "g"));
  assert.deepEqual(calls, [
    "gcloud gcr.io",
    "hub https://index.docker.io/v1/",
    "desktop stored.io",
    "empty none.io",
    "desktop none.io",
  ]);
});

// A helper script speaking the docker-credential-helpers protocol.
const HELPER_SCRIPT = `#!/bin/sh
[ "$1" = get ] || { echo "unexpected action $1" >&2; exit 2; }
server=$(cat)
case "$server" in
  found.example) printf '{"ServerURL":"%s","Username":"alice","Secret":"wonder land"}' "$server" ;;
  token.example) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-tok"}' "$server" ;;
  echo.example) printf '{"Username":"%s","Secret":"x"}' "$server" ;;
  garbage.example) echo "not json: secret-in-output" ;;
  fail.example) echo "keychain locked" >&2; exit 3 ;;
  https://index.docker.io/v1/) printf '{"Username":"hubuser","Secret":"hubpw"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;

Deno.test("runCredentialHelper: runs docker-credential-<name> from PATH", async () => {
  await using s = await sandbox();
  const bin = `${s.root}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(`${bin}/docker-credential-test`, HELPER_SCRIPT, { mode: 0o755 });
  const env = (name: string) => (name === "PATH" ? `${bin}:/usr/bin:/bin` : undefined);
  const run = (server: string) => runCredentialHelper("test", server, { env });

  assert.deepEqual(await run("found.example"), { Username: "alice", Secret: "wonder land" });
  assert.deepEqual(await run("token.example"), { Username: "<token>", Secret: "refresh-tok" });
  assert.deepEqual(await run("echo.example"), { Username: "echo.example", Secret: "x" });
  assert.equal(await run("unknown.example"), undefined);
  await assert.rejects(run("fail.example"), (err: unknown) => {
    assert.ok(err instanceof FerryError);
    assert.match(
      err.message,
      /docker-credential-test failed for fail\.example \(exit 3\): keychain locked/,
    );
    return true;
  });
  await assert.rejects(run("garbage.example"), (err: unknown) => {
    assert.ok(err instanceof FerryError);
    assert.ok(!err.message.includes("secret-in-output"), err.message);
    return true;
  });

  const notes: string[] = [];
  assert.equal(
    await runCredentialHelper("absent", "found.example", { env, log: (m) => notes.push(m) }),
    undefined,
  );
  assert.match(notes.join("\n"), /docker-credential-absent is not installed/);
  await assert.rejects(runCredentialHelper("../evil", "x", { env }), /invalid credential helper/);

  // The store's default runner uses the same PATH, and maps "<token>" to an identity token.
  await s.write("home/.docker/config.json", {
    credsStore: "test",
    credHelpers: { "gone.example": "absent" },
  });
  const store = new CredentialStore({ env, home: s.home, log: (m) => notes.push(m) });
  assert.deepEqual(await store.lookup("found.example"), basic("alice", "wonder land"));
  assert.deepEqual(await store.lookup("token.example"), {
    kind: "identity_token",
    token: "refresh-tok",
  });
  assert.deepEqual(await store.lookup("docker.io"), basic("hubuser", "hubpw"));
  assert.equal(await store.lookup("nothing.example"), undefined);
  // A missing helper is skipped; the credsStore is asked next.
  assert.equal(await store.lookup("gone.example"), undefined);
});
