import assert from "node:assert/strict";
import { resolve } from "node:path";
import type { Store } from "./store.ts";
import {
  formatLocation,
  type Location,
  parseLocation,
  repositoryLocation,
  withReference,
} from "./location.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;

Deno.test("formatLocation writes what parseLocation reads, paths absolute and names normalised", () => {
  const cases: [string, string][] = [
    ["nginx:1.27", "docker://docker.io/library/nginx:1.27"],
    ["docker://ghcr.io/org/app", "docker://ghcr.io/org/app"],
    [`docker://localhost:5000/a:1@${DIGEST}`, `docker://localhost:5000/a:1@${DIGEST}`],
    ["registry-dir:reg:library/app:1.0", `registry-dir:${resolve("reg")}:library/app:1.0`],
    [`registry-dir:/r:team/x@${DIGEST}`, `registry-dir:/r:team/x@${DIGEST}`],
    ["oci:layout", `oci:${resolve("layout")}`],
    ["oci:/l:docker.io/library/nginx:1.27", "oci:/l:docker.io/library/nginx:1.27"],
    ["oci-archive:./a.tar:1.0", `oci-archive:${resolve("a.tar")}:1.0`],
    ["docker-archive:/a.tar:@1", "docker-archive:/a.tar:@1"],
  ];
  for (const [given, want] of cases) {
    const text = formatLocation(parseLocation(given));
    assert.equal(text, want, given);
    assert.equal(formatLocation(parseLocation(text)), text, `${text} is not stable`);
  }
});

Deno.test("withReference fills in only a reference the location lacks", () => {
  const docker = parseLocation("docker://ghcr.io/org/app");
  assert.equal(formatLocation(withReference(docker, "latest")), "docker://ghcr.io/org/app:latest");
  assert.equal(formatLocation(withReference(docker, DIGEST)), `docker://ghcr.io/org/app@${DIGEST}`);
  const tagged: Location = parseLocation("docker://ghcr.io/org/app:1");
  assert.equal(withReference(tagged, DIGEST), tagged);
  assert.equal(
    formatLocation(withReference(parseLocation("docker-archive:/a.tar"), "@0")),
    "docker-archive:/a.tar:@0",
  );
  const named = parseLocation("oci:/l:x");
  assert.equal(withReference(named, "y"), named);
  assert.equal(withReference(named, undefined), named);
});

Deno.test("repositoryLocation names an image of a registry or registry directory store", () => {
  const store = (location: string) => ({ location }) as unknown as Store;
  assert.equal(
    repositoryLocation(store("docker://127.0.0.1:5000"), "library/app", "1.0"),
    "docker://127.0.0.1:5000/library/app:1.0",
  );
  assert.equal(
    repositoryLocation(store("registry-dir:/srv/reg"), "team/x", DIGEST),
    `registry-dir:/srv/reg:team/x@${DIGEST}`,
  );
});
