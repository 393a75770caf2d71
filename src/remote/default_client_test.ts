import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { defaultRegistryClient } from "./default_client.ts";
import { RegistryClient } from "./registry.ts";

Deno.test("a client maps Docker Hub's names to its API host by reference.ts's one rule", async () => {
  const client = new RegistryClient({ auth: {} as never });
  try {
    for (const name of ["docker.io", "index.docker.io"]) {
      assert.equal(client.registry(name).apiHost, "registry-1.docker.io", name);
    }
    assert.equal(client.registry("localhost:5000").apiHost, "localhost:5000");
  } finally {
    await client.close();
  }
});

Deno.test("defaultRegistryClient refuses bad credentials and an unreadable certificate directory", async () => {
  await assert.rejects(
    () => defaultRegistryClient({ creds: "no-colon" }),
    (err) => isFerryError(err, "usage") && /USER:PASSWORD/.test(err.message),
  );
  const dir = await Deno.makeTempDir({ prefix: "ferry-client-" });
  try {
    await assert.rejects(
      () => defaultRegistryClient({ certDir: join(dir, "missing") }),
      (err) => isFerryError(err, "invalid_input") && err.message.includes("missing"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
