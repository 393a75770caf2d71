import assert from "node:assert/strict";
import { removeCredential, storeCredential } from "./auth_file_writer.ts";

Deno.test("storeCredential writes a 0600 file, keeps other keys and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-auth-" });
  try {
    const path = `${dir}/containers/auth.json`;
    await Deno.mkdir(`${dir}/containers`);
    await Deno.writeTextFile(
      path,
      JSON.stringify({ auths: { "other.example": { auth: "eDp5" } }, credHelpers: { a: "b" } }),
      { mode: 0o644 },
    );
    await storeCredential(path, "registry.example:5000", "user", "secret");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const doc = JSON.parse(await Deno.readTextFile(path));
    assert.deepEqual(doc.credHelpers, { a: "b" });
    assert.deepEqual(Object.keys(doc.auths).sort(), ["other.example", "registry.example:5000"]);
    assert.equal(atob(doc.auths["registry.example:5000"].auth), "user:secret");
    const names = (await Array.fromAsync(Deno.readDir(`${dir}/containers`))).map((e) => e.name);
    assert.deepEqual(names, ["auth.json"]);

    assert.equal(await removeCredential(path, "registry.example:5000"), 1);
    assert.deepEqual(Object.keys(JSON.parse(await Deno.readTextFile(path)).auths), [
      "other.example",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
