import assert from "node:assert/strict";
import { isFerryError } from "../errors.ts";
import {
  defaultRoot,
  digestPrefix,
  isUnnamed,
  localImageName,
  lookupNames,
  remoteImageName,
} from "./names.ts";

const HEX = "a".repeat(64);

Deno.test("localImageName gives unqualified names localhost/ and a tag", () => {
  assert.equal(localImageName("app"), "localhost/app:latest");
  assert.equal(localImageName("app:1.0"), "localhost/app:1.0");
  assert.equal(localImageName("nginx:mine"), "localhost/nginx:mine");
  assert.equal(localImageName("team/app:2"), "localhost/team/app:2");
  assert.equal(localImageName("ghcr.io/org/app:1"), "ghcr.io/org/app:1");
  assert.equal(localImageName("localhost:5000/x"), "localhost:5000/x:latest");
  assert.equal(localImageName("localhost/x:3"), "localhost/x:3");
  assert.equal(localImageName("docker.io/nginx"), "docker.io/library/nginx:latest");
});

Deno.test("localImageName refuses bad names and digests with one-line reasons", () => {
  for (const bad of ["App", "app:", "a b", "", `app@sha256:${HEX}`, "../x"]) {
    assert.throws(
      () => localImageName(bad),
      (err) => isFerryError(err, "invalid_reference") && !err.message.includes("\n"),
      bad,
    );
  }
});

Deno.test("remoteImageName normalises the Docker way", () => {
  assert.equal(remoteImageName("nginx:1.27"), "docker.io/library/nginx:1.27");
  assert.equal(remoteImageName("nginx"), "docker.io/library/nginx:latest");
  assert.equal(remoteImageName("index.docker.io/org/x:1"), "docker.io/org/x:1");
  assert.equal(remoteImageName(`ghcr.io/a/b@sha256:${HEX}`), `ghcr.io/a/b@sha256:${HEX}`);
  assert.equal(remoteImageName(`ghcr.io/a/b:1@sha256:${HEX}`), "ghcr.io/a/b:1");
  assert.equal(remoteImageName("localhost/app:1.0"), "localhost/app:1.0");
});

Deno.test("lookupNames tries the text, the Docker form, then localhost/", () => {
  assert.deepEqual(lookupNames("nginx:1.27"), [
    "nginx:1.27",
    "docker.io/library/nginx:1.27",
    "localhost/nginx:1.27",
  ]);
  assert.deepEqual(lookupNames("app"), [
    "app",
    "docker.io/library/app:latest",
    "localhost/app:latest",
  ]);
  assert.deepEqual(lookupNames("ghcr.io/a/b:1"), ["ghcr.io/a/b:1"]);
  assert.deepEqual(lookupNames("localhost/app:1.0"), ["localhost/app:1.0"]);
  assert.deepEqual(lookupNames("Not A Name"), ["Not A Name"]);
});

Deno.test("digestPrefix accepts 12 to 64 hex digits, with or without sha256:", () => {
  assert.equal(digestPrefix("0123456789ab"), "0123456789ab");
  assert.equal(digestPrefix(`sha256:${HEX}`), HEX);
  assert.equal(digestPrefix("sha256:0123456789ab"), "0123456789ab");
  assert.equal(digestPrefix("0123456789a"), undefined);
  assert.equal(digestPrefix("0123456789AB"), undefined);
  assert.equal(digestPrefix("nginx"), undefined);
});

Deno.test("defaultRoot: FERRY_ROOT, then XDG_DATA_HOME/ferry, then ~/.local/share/ferry", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(defaultRoot(env({ FERRY_ROOT: "/r", XDG_DATA_HOME: "/x", HOME: "/h" })), "/r");
  assert.equal(defaultRoot(env({ XDG_DATA_HOME: "/x", HOME: "/h" })), "/x/ferry");
  assert.equal(defaultRoot(env({ HOME: "/h" })), "/h/.local/share/ferry");
  assert.throws(() => defaultRoot(env({})), (err) => isFerryError(err, "usage"));
});

Deno.test("isUnnamed recognises the digest placeholder only", () => {
  assert.equal(isUnnamed(`sha256:${HEX}`), true);
  assert.equal(isUnnamed("localhost/app:1"), false);
});
