import assert from "node:assert/strict";
import { FerryError } from "../errors.ts";
import { errorResponse, httpError, toHttpError } from "./errors.ts";

Deno.test("errors: JSON bodies with the spec's shape; HEAD without body", async () => {
  const err = httpError(404, "BLOB_UNKNOWN", "blob unknown to registry", {
    detail: { digest: "sha256:x" },
    headers: { "X-Test": "1" },
  });
  const res = errorResponse(err, false);
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(res.headers.get("x-test"), "1");
  const body = await res.text();
  assert.equal(res.headers.get("content-length"), String(body.length));
  assert.deepEqual(JSON.parse(body), {
    errors: [{
      code: "BLOB_UNKNOWN",
      message: "blob unknown to registry",
      detail: { digest: "sha256:x" },
    }],
  });
  const head = errorResponse(err, true);
  assert.equal(head.headers.get("content-length"), String(body.length));
  assert.equal(await head.text(), "");
});

Deno.test("errors: storage failures never reach the client with their paths", () => {
  const denied = toHttpError(new FerryError("denied", "/srv/registry/docker/x: permission denied"));
  assert.equal(denied.status, 403);
  assert.equal(denied.errors[0].code, "DENIED");
  assert.doesNotMatch(denied.errors[0].message, /srv/);
  const bug = toHttpError(new TypeError("/srv/registry: undefined is not a function"));
  assert.equal(bug.status, 500);
  assert.equal(bug.errors[0].code, "UNKNOWN");
  assert.doesNotMatch(bug.errors[0].message, /srv/);
});
