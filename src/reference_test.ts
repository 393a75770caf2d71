import assert from "node:assert/strict";
import { FerryError } from "./errors.ts";
import {
  familiarName,
  formatReference,
  isRepositoryName,
  manifestReference,
  parseReference,
  referenceName,
  registryHost,
  tagOrLatest,
  tryParseReference,
  validateRepositoryName,
  validateTag,
} from "./reference.ts";

const HEX = "0123456789abcdef".repeat(4);
const DIGEST = `sha256:${HEX}`;

/** Input → fully formatted normalised reference. */
const VALID: [string, string][] = [
  ["nginx", "docker.io/library/nginx"],
  ["nginx:1.23.1", "docker.io/library/nginx:1.23.1"],
  ["bitnami/redis:7", "docker.io/bitnami/redis:7"],
  ["docker.io/nginx", "docker.io/library/nginx"],
  ["docker.io/library/nginx:1", "docker.io/library/nginx:1"],
  ["index.docker.io/x/y", "docker.io/x/y"],
  ["index.docker.io/library/nginx:1", "docker.io/library/nginx:1"],
  ["index.docker.io/nginx", "docker.io/library/nginx"],
  ["localhost:5000/a/b:1", "localhost:5000/a/b:1"],
  ["localhost/a", "localhost/a"],
  ["localhost:5000/a", "localhost:5000/a"],
  ["registry.k8s.io/ubuntu-slim:0.1", "registry.k8s.io/ubuntu-slim:0.1"],
  ["registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"],
  ["ghcr.io/a/b/c/d:v1", "ghcr.io/a/b/c/d:v1"],
  ["foo:5000", "docker.io/library/foo:5000"],
  ["foo:tag", "docker.io/library/foo:tag"],
  ["foo:5000/bar", "foo:5000/bar"],
  ["foo:5000/bar:tag", "foo:5000/bar:tag"],
  [`quay.io/c/c:v1@${DIGEST}`, `quay.io/c/c:v1@${DIGEST}`],
  [`nginx@${DIGEST}`, `docker.io/library/nginx@${DIGEST}`],
  [`nginx:1.25@${DIGEST}`, `docker.io/library/nginx:1.25@${DIGEST}`],
  ["a/b_c/d__e/f-g/h--i/j.k", "docker.io/a/b_c/d__e/f-g/h--i/j.k"],
  ["nginx:Latest_1.0-rc", "docker.io/library/nginx:Latest_1.0-rc"],
  ["nginx:_x", "docker.io/library/nginx:_x"],
  [`nginx:${"a".repeat(128)}`, `docker.io/library/nginx:${"a".repeat(128)}`],
  ["127.0.0.1:5000/x", "127.0.0.1:5000/x"],
  ["[::1]:5000/x:1", "[::1]:5000/x:1"],
  ["my-registry.local/ns/app", "my-registry.local/ns/app"],
  ["Registry/app", "Registry/app"], // an uppercase first component is a host, as in Docker
  ["sub.Example.com/app", "sub.Example.com/app"],
  ["library/nginx", "docker.io/library/nginx"],
  ["docker.io/library/library/x", "docker.io/library/library/x"],
];

/** Input → a fragment the error message must contain. */
const INVALID: [string, string][] = [
  ["", "empty reference"],
  ["Nginx", "must be lowercase"],
  ["docker.io/Library/nginx", "must be lowercase"],
  ["quay.io/Org/App:v1", "must be lowercase"],
  ['"nginx', "quote"],
  ["nginx'", "quote"],
  ["nginx # c", "whitespace"],
  ["nginx:1.25 ", "whitespace"],
  ["../x", "not allowed"],
  ["a/../b", "not allowed"],
  ["localhost/./b", "not allowed"],
  ["a//b", "empty path component"],
  ["a/", "empty path component"],
  ["/a", "empty path component"],
  ["quay.io/", "empty repository"],
  ["a/%2e%2e/b", "invalid path component"],
  ["-nginx", "invalid path component"],
  ["nginx-", "invalid path component"],
  ["a..b", "invalid path component"],
  ["a___b", "invalid path component"],
  ["nginx:", "empty tag"],
  ["nginx:.x", "invalid tag"],
  ["nginx:-x", "invalid tag"],
  [`nginx:${"a".repeat(129)}`, "invalid tag"],
  ["nginx:a:b", "invalid tag"],
  ["nginx@", "invalid digest"],
  ["nginx@sha256:abc", "64 lowercase"],
  [`nginx@sha256:${HEX.toUpperCase()}`, "64 lowercase"],
  [`nginx@sha256:${HEX}0`, "64 lowercase"],
  [`nginx@sha512:${HEX}${HEX}`, "not supported"],
  [`nginx@${DIGEST}@${DIGEST}`, "64 lowercase"],
  [HEX, "image ID"],
  ["foo:bar/baz", "invalid registry"],
  ["-bad.io/x", "invalid registry"],
  ["bad-.io/x", "invalid registry"],
  ["{{ .Values.image }}", "whitespace"],
  ["${IMAGE}", "invalid path component"],
  ["nginx\u0000", "control character"],
];

Deno.test("parseReference: valid references normalise like Docker", () => {
  for (const [input, want] of VALID) {
    const ref = parseReference(input);
    assert.equal(formatReference(ref), want, input);
    // Formatting is a fixed point: the normalised text parses to the same value.
    assert.deepEqual(parseReference(want), ref, `reparse ${want}`);
  }
});

Deno.test("parseReference: invalid references fail with the reason", () => {
  for (const [input, fragment] of INVALID) {
    assert.throws(
      () => parseReference(input),
      (err: unknown) => {
        assert.ok(err instanceof FerryError, input);
        assert.equal(err.code, "invalid_reference", input);
        assert.ok(
          err.message.startsWith(`invalid reference ${JSON.stringify(input)}: `),
          `${input}: ${err.message}`,
        );
        assert.ok(err.message.includes(fragment), `${input}: ${err.message}`);
        return true;
      },
      input,
    );
    assert.equal(tryParseReference(input), undefined);
  }
});

Deno.test("parseReference: fields, tag and digest both kept, no implicit latest", () => {
  assert.deepEqual(parseReference("nginx"), {
    registry: "docker.io",
    repository: "library/nginx",
  });
  assert.equal("tag" in parseReference("nginx"), false);
  assert.deepEqual(parseReference(`quay.io/c/c:v1@${DIGEST}`), {
    registry: "quay.io",
    repository: "c/c",
    tag: "v1",
    digest: DIGEST,
  });
  assert.deepEqual(parseReference(`nginx@${DIGEST}`), {
    registry: "docker.io",
    repository: "library/nginx",
    digest: DIGEST,
  });
  assert.deepEqual(parseReference("localhost:5000/a/b:1"), {
    registry: "localhost:5000",
    repository: "a/b",
    tag: "1",
  });
  assert.deepEqual(parseReference("registry.k8s.io/ubuntu-slim:0.1"), {
    registry: "registry.k8s.io",
    repository: "ubuntu-slim",
    tag: "0.1",
  });
});

Deno.test("parseReference: stray quote gives a clear one-line message", () => {
  assert.throws(() => parseReference('"nginx'), {
    name: "FerryError",
    message: 'invalid reference "\\"nginx": contains a quote character',
  });
});

Deno.test("parseReference: where prefixes the message", () => {
  assert.throws(() => parseReference("Nginx", { where: "images/shim/list:3" }), {
    message: 'images/shim/list:3: invalid reference "Nginx": repository name must be lowercase',
  });
});

Deno.test("parseReference: name length limit is 255 characters including the registry", () => {
  // "docker.io/" is 10 characters, so a 245-character repository is exactly at the limit.
  const at = `a/${"b".repeat(243)}`;
  assert.equal(referenceName(parseReference(at)).length, 255);
  assert.throws(() => parseReference(`${at}b`), /256 characters long/);
  const host = "r.io/";
  assert.equal(parseReference(host + "c".repeat(250)).repository.length, 250);
  assert.throws(() => parseReference(host + "c".repeat(251)), /limit is 255/);
  // A long tag does not count towards the name.
  assert.ok(parseReference(`${at}:${"t".repeat(128)}`));
});

Deno.test("formatReference: familiar form", () => {
  const cases: [string, string][] = [
    ["nginx", "nginx"],
    ["nginx:1.25", "nginx:1.25"],
    [`nginx:1.25@${DIGEST}`, `nginx:1.25@${DIGEST}`],
    ["bitnami/redis:7", "bitnami/redis:7"],
    ["docker.io/library/a/b", "library/a/b"],
    ["ghcr.io/library/x", "ghcr.io/library/x"],
    ["localhost:5000/a/b:1", "localhost:5000/a/b:1"],
  ];
  for (const [input, want] of cases) {
    assert.equal(formatReference(parseReference(input), { familiar: true }), want, input);
  }
  assert.equal(familiarName(parseReference("docker.io/library/nginx:1")), "nginx");
});

Deno.test("helpers: tagOrLatest, manifestReference, referenceName, registryHost", () => {
  assert.equal(tagOrLatest(parseReference("nginx")), "latest");
  assert.equal(tagOrLatest(parseReference("nginx:1")), "1");
  assert.equal(manifestReference(parseReference("nginx")), "latest");
  assert.equal(manifestReference(parseReference(`nginx:1@${DIGEST}`)), DIGEST);
  assert.equal(referenceName(parseReference("nginx:1")), "docker.io/library/nginx");
  assert.equal(registryHost("docker.io"), "registry-1.docker.io");
  assert.equal(registryHost("index.docker.io"), "registry-1.docker.io");
  assert.equal(registryHost("ghcr.io"), "ghcr.io");
  assert.equal(registryHost("localhost:5000"), "localhost:5000");
});

Deno.test("validateRepositoryName: path-only names", () => {
  for (const ok of ["library/nginx", "a", "a/b/c", "a.b_c__d-e--f/g"]) {
    assert.equal(validateRepositoryName(ok), ok);
    assert.ok(isRepositoryName(ok));
  }
  const bad = [
    "",
    "..",
    "../etc",
    "a/..",
    "a/./b",
    "%2e%2e",
    "a/%2e%2e/b",
    "Library/nginx",
    "a//b",
    "/a",
    "a/",
    "a b",
    "a\\b",
    "a:b",
    "a@b",
    "x".repeat(256),
  ];
  for (const name of bad) {
    assert.throws(() => validateRepositoryName(name), {
      name: "FerryError",
      code: "invalid_reference",
    }, JSON.stringify(name));
    assert.equal(isRepositoryName(name), false, JSON.stringify(name));
  }
  assert.equal(validateRepositoryName("x".repeat(255)).length, 255);
  assert.throws(() => validateRepositoryName("Library/nginx"), /must be lowercase/);
});

Deno.test("validateTag", () => {
  for (const ok of ["latest", "1.25", "v1.0.0-rc.1", "_", "A", "a".repeat(128)]) {
    assert.equal(validateTag(ok), ok);
  }
  for (const bad of ["", ".x", "-x", "a/b", "a:b", "a@b", "a".repeat(129), "a b"]) {
    assert.throws(() => validateTag(bad), { code: "invalid_reference" }, bad);
  }
});

Deno.test("parseReference: a long reference is cut in the message, which stays one short line", () => {
  for (
    const text of ["x/" + "A".repeat(1_000_000), "a".repeat(300) + ":" + "t".repeat(1_000_000)]
  ) {
    assert.throws(() => parseReference(text, { where: "images/shim/list:1" }), (err: unknown) => {
      assert.ok(err instanceof FerryError);
      assert.ok(err.message.length < 1000, `${err.message.length} characters`);
      assert.match(
        err.message,
        /^images\/shim\/list:1: invalid reference "[^"]{200}"… \(\d+ characters\): /,
      );
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  }
});
