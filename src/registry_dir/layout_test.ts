import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { checkRepositoryName, checkTag, isRepositoryName, isTag, Layout } from "./layout.ts";

Deno.test("layout paths follow distribution's filesystem driver", async () => {
  const layout = new Layout("/r");
  const d = await sha256("x");
  const hex = d.slice(7);
  assert.equal(
    layout.blobData(d),
    `/r/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`,
  );
  assert.equal(
    layout.layerLink("a/b", d),
    `/r/docker/registry/v2/repositories/a/b/_layers/sha256/${hex}/link`,
  );
  assert.equal(
    layout.revisionLink("a", d),
    `/r/docker/registry/v2/repositories/a/_manifests/revisions/sha256/${hex}/link`,
  );
  assert.equal(
    layout.tagCurrentLink("a", "1.0"),
    "/r/docker/registry/v2/repositories/a/_manifests/tags/1.0/current/link",
  );
  assert.equal(
    layout.tagIndexLink("a", "1.0", d),
    `/r/docker/registry/v2/repositories/a/_manifests/tags/1.0/index/sha256/${hex}/link`,
  );
  assert.equal(layout.uploads("a"), "/r/docker/registry/v2/repositories/a/_uploads");
  assert.equal(layout.partial(d), `/r/.ferry-tmp/${hex}.partial`);
});

Deno.test("name and tag grammars", () => {
  assert.equal(isRepositoryName("library/nginx"), true);
  assert.equal(isRepositoryName("a--b/c__d/e.f"), true);
  assert.equal(isRepositoryName("a___b"), false);
  assert.equal(isRepositoryName("a/.."), false);
  assert.equal(isTag("v1.2.3-rc_1"), true);
  assert.equal(isTag("_x"), true);
  assert.equal(isTag(".x"), false);
  assert.equal(isTag("x".repeat(128)), true);
  assert.equal(isTag("x".repeat(129)), false);
  assert.throws(
    () => checkRepositoryName("UP", "here"),
    (e: unknown) =>
      e instanceof FerryError && e.code === "invalid_input" && e.message.startsWith("here: "),
  );
  assert.throws(
    () => checkTag("a:b", "here"),
    (e: unknown) =>
      e instanceof FerryError && e.code === "invalid_reference" && /"a:b"/.test(e.message),
  );
});
