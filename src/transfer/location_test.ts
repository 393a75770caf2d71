import assert from "node:assert/strict";
import { resolve } from "node:path";
import type { Store } from "../store.ts";
import {
  archiveDestination,
  copyDestination,
  formatLocation,
  type Location,
  parseArchiveSpec,
  parseLocation,
  parseStoreAddress,
  parseStorePath,
  repositoryLocation,
  withReference,
} from "./location.ts";
import { isFerryError } from "../errors.ts";
import { RegistryClient } from "../remote/mod.ts";

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
  // The stores as RemoteRegistry and RegistryDir describe themselves: location and address.
  const store = (location: string) => {
    const [transport, place] = location.startsWith("docker://")
      ? ["docker", location.slice("docker://".length)]
      : ["registry-dir", location.slice("registry-dir:".length)];
    const address = transport === "docker"
      ? { transport, registry: place }
      : { transport, path: place };
    return { location, address } as unknown as Store;
  };
  assert.equal(
    repositoryLocation(store("docker://127.0.0.1:5000"), "library/app", "1.0"),
    "docker://127.0.0.1:5000/library/app:1.0",
  );
  assert.equal(
    repositoryLocation(store("registry-dir:/srv/reg"), "team/x", DIGEST),
    `registry-dir:/srv/reg:team/x@${DIGEST}`,
  );
});

Deno.test("repositoryLocation goes by the store's address, never by its location text", () => {
  const memory = { location: "memory:", address: { transport: "docker", registry: "r.example" } };
  assert.equal(
    repositoryLocation(memory as unknown as Store, "team/x", "1"),
    "docker://r.example/team/x:1",
  );
  // A real remote store declares itself.
  const client = new RegistryClient({ auth: {} as never });
  assert.equal(
    repositoryLocation(client.registry("127.0.0.1:5000"), "a", "2"),
    "docker://127.0.0.1:5000/a:2",
  );
});

Deno.test("parseStoreAddress reads a registry or a registry directory, nothing else", () => {
  const cases: [string, unknown][] = [
    ["registry-dir:reg", { transport: "registry-dir", path: "reg" }],
    ["./mirror", { transport: "registry-dir", path: "./mirror" }],
    ["/srv/reg", { transport: "registry-dir", path: "/srv/reg" }],
    ["docker://registry.local:5000/", { transport: "docker", registry: "registry.local:5000" }],
    ["sealos.hub:5000", { transport: "docker", registry: "sealos.hub:5000" }],
    ["ghcr.io/", { transport: "docker", registry: "ghcr.io" }],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseStoreAddress(text), want, text);
  for (const text of ["mirror/sub", "host:port", "oci:layout"]) {
    assert.throws(
      () => parseStoreAddress(text),
      (err) => isFerryError(err, "usage") && err.message.includes("want a registry"),
      text,
    );
  }
});

Deno.test("copyDestination keeps the image's path and tag under a registry or directory", () => {
  const image = { repository: "library/nginx", tag: "1.27" };
  const inRegistry = copyDestination("docker://sealos.hub:5000/", image);
  assert.equal(inRegistry.text, "sealos.hub:5000/library/nginx:1.27");
  assert.deepEqual(inRegistry.location, {
    transport: "docker",
    registry: "sealos.hub:5000",
    repository: "library/nginx",
    tag: "1.27",
    digest: undefined,
  });
  // A path below the host is a prefix of the repository.
  assert.equal(
    formatLocation(copyDestination("sealos.hub:5000/mirror", image).location),
    "docker://sealos.hub:5000/mirror/library/nginx:1.27",
  );
  const inDir = copyDestination("./registry", { repository: "team/app" });
  assert.equal(inDir.text, "registry-dir:./registry:team/app");
  assert.equal(formatLocation(inDir.location), `registry-dir:${resolve("registry")}:team/app`);
});

Deno.test("parseArchiveSpec places the path the caller's way and completes the destination", () => {
  const fail = (why: string): never => {
    throw new Error(why);
  };
  const spec = parseArchiveSpec("oci-archive:sub/app.tar@team/app", {
    fail,
    path: (written) => `/base/${written}`,
  });
  assert.deepEqual(spec, {
    transport: "oci-archive",
    path: "/base/sub/app.tar",
    destination: "team/app:latest",
  });
  assert.deepEqual(archiveDestination(spec.destination), { repository: "team/app", tag: "latest" });
  // The caller's path check runs before the destination is read, and its failure is the caller's.
  assert.throws(
    () => parseArchiveSpec("docker-archive:x@Bad", { fail, path: () => fail("not here") }),
    /not here/,
  );
  assert.deepEqual(
    archiveDestination(
      parseArchiveSpec("docker-archive:x@localhost/a/b:1.0", { fail, path: (w) => w }).destination,
    ),
    { repository: "localhost/a/b", tag: "1.0" },
  );
});

Deno.test("parseStorePath splits a whole store's transport from its path, colons kept", () => {
  assert.deepEqual(parseStorePath("registry-dir:/r"), { transport: "registry-dir", path: "/r" });
  assert.deepEqual(parseStorePath("oci:/a:b"), { transport: "oci", path: "/a:b" });
  assert.deepEqual(parseStorePath("oci-archive:x.tar"), {
    transport: "oci-archive",
    path: "x.tar",
  });
  assert.deepEqual(parseStorePath("docker-archive:/t"), {
    transport: "docker-archive",
    path: "/t",
  });
  // A plain path, or one whose prefix is no store transport, is a path.
  assert.deepEqual(parseStorePath("./registry"), { path: "./registry" });
  assert.deepEqual(parseStorePath("dir:/x"), { path: "dir:/x" });
  assert.deepEqual(parseStorePath(":x"), { path: ":x" });
});
