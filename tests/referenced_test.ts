/**
 * Images a context names only in env values or container args: `context images` lists them as
 * referenced, `build` leaves them out of registry/ and says so in one line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ferry } from "./ferry_cli.ts";
import { tempDir } from "./support/mod.ts";

const OPERATOR = `apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: operator
        env:
        - name: RELATED_IMAGE_DB_V1
          value: 127.0.0.1:9/db:1.0
        - name: RELATED_IMAGE_DB_V2
          value: 127.0.0.1:9/db:2.0
`;

Deno.test("build leaves referenced-only images out in one line; context images lists them", async () => {
  await using dir = await tempDir("ferry-referenced-");
  const ctx = dir.join("ctx");
  await Deno.mkdir(join(ctx, "manifests"), { recursive: true });
  await Deno.writeTextFile(join(ctx, "manifests", "operator.yaml"), OPERATOR);
  await Deno.writeTextFile(join(ctx, "Kubefile"), "FROM scratch\nCOPY manifests ./manifests\n");

  const listed = await ferry(["context", "images", ctx]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.stdout.trim().split("\n"), [
    "127.0.0.1:9/db:1.0\tmanifests/operator.yaml:10\treferenced",
    "127.0.0.1:9/db:2.0\tmanifests/operator.yaml:12\treferenced",
  ]);
  assert.match(listed.stderr, /2 images named only in env values or container args are not saved/);

  const built = await ferry(["build", "--root", dir.join("root"), "-t", "op:1", ctx]);
  assert.equal(built.code, 0, built.stderr);
  const notices = built.stderr.split("\n").filter((l) => l.includes("--include-referenced"));
  assert.deepEqual(notices, [
    "2 images named only in env values or container args were left out (references, such as " +
    "every version an operator supports); --include-referenced saves them too",
  ]);
  await assert.rejects(Deno.stat(join(ctx, "registry")), Deno.errors.NotFound);
});
