import assert from "node:assert/strict";
import { HttpError } from "./errors.ts";
import { matchRoute, requestTarget } from "./routes.ts";

function rejected(path: string): HttpError {
  try {
    matchRoute(path);
  } catch (err) {
    assert.ok(err instanceof HttpError);
    return err;
  }
  assert.fail(`${path} was accepted`);
}

Deno.test("routes: endpoints and names with slashes", () => {
  assert.deepEqual(matchRoute("/v2/"), { kind: "base" });
  assert.deepEqual(matchRoute("/v2"), { kind: "base" });
  assert.deepEqual(matchRoute("/v2/_catalog"), { kind: "catalog" });
  assert.deepEqual(matchRoute("/v2/a/b/c/tags/list"), { kind: "tags", name: "a/b/c" });
  assert.deepEqual(matchRoute("/v2/library/nginx/manifests/1.25"), {
    kind: "manifest",
    name: "library/nginx",
    reference: "1.25",
  });
  assert.deepEqual(matchRoute("/v2/x/blobs/uploads/"), { kind: "uploads", name: "x" });
  const id = crypto.randomUUID();
  assert.deepEqual(matchRoute(`/v2/x/blobs/uploads/${id}`), { kind: "upload", name: "x", id });
  assert.deepEqual(matchRoute("/v2/x/blobs/sha256:ab"), {
    kind: "blob",
    name: "x",
    digest: "sha256:ab",
  });
  // A repository may have a component called "blobs" or "manifests".
  assert.deepEqual(matchRoute("/v2/blobs/manifests/manifests/t"), {
    kind: "manifest",
    name: "blobs/manifests",
    reference: "t",
  });
  assert.deepEqual(matchRoute("/v2/x/referrers/sha256:ab"), {
    kind: "referrers",
    name: "x",
    digest: "sha256:ab",
  });
});

Deno.test("routes: dot segments, encodings and bad names are refused", () => {
  for (
    const path of [
      "/v2/../etc/blobs/uploads/",
      "/v2/a/../b/tags/list",
      "/v2/%2e%2e/x/blobs/uploads/",
      "/v2/a/%2E%2e/b/manifests/t",
      "/v2/a/%2e/manifests/t",
      "/v2/a%2fb/manifests/t",
      "/v2/Upper/manifests/t",
      "/v2/a%20b/tags/list",
      "/v2/%zz/tags/list",
      "/v2/_x/tags/list",
    ]
  ) {
    const err = rejected(path);
    assert.equal(err.status, 400, path);
    assert.equal(err.errors[0].code, "NAME_INVALID", path);
  }
  assert.equal(rejected("/v2/x/blobs/uploads/../../y").status, 400);
  assert.equal(rejected("/v2/x/blobs/uploads/not-a-uuid").errors[0].code, "BLOB_UPLOAD_UNKNOWN");
  assert.equal(rejected("/v3/").status, 404);
  assert.equal(rejected("/v2/x/unknown/thing").status, 404);
});

Deno.test("routes: request targets keep the path as sent", () => {
  const t = requestTarget("http://h:5000/v2/a/%2e%2e/b/tags/list?n=1&last=x%3Ay");
  assert.equal(t.path, "/v2/a/%2e%2e/b/tags/list");
  assert.equal(t.query.get("last"), "x:y");
  assert.equal(t.raw, "/v2/a/%2e%2e/b/tags/list?n=1&last=x%3Ay");
  assert.equal(requestTarget("http://h").path, "/");
});
