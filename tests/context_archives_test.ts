/**
 * `images/skopeo/tar.txt` from a context that cannot be trusted: an archive that a symlink takes
 * out of the context stops `context images`, `registry save` and `build` with one line naming
 * `tar.txt:line`, before anything is read or written.
 */
import assert from "node:assert/strict";
import { tempDir } from "./support/mod.ts";
import { ferry } from "./ferry_cli.ts";

Deno.test("an archive symlinked from outside the context is refused by every command that reads tar.txt", async () => {
  await using dir = await tempDir("ferry-ctx-archives-");
  const outside = dir.join("host");
  const ctx = dir.join("ctx");
  await Deno.mkdir(outside);
  await Deno.mkdir(`${ctx}/images/skopeo`, { recursive: true });
  await Deno.writeTextFile(`${outside}/secret.tar`, "not for the cluster image");
  await Deno.symlink(`${outside}/secret.tar`, `${ctx}/images/skopeo/app.tar`);
  await Deno.writeTextFile(
    `${ctx}/images/skopeo/tar.txt`,
    "# archives\ndocker-archive:app.tar@library/app:1\n",
  );
  await Deno.writeTextFile(`${ctx}/Kubefile`, "FROM scratch\nCOPY . .\n");
  const realSecret = await Deno.realPath(`${outside}/secret.tar`);
  const line =
    `images/skopeo/tar.txt:2: archive images/skopeo/app.tar resolves to ${realSecret}, outside the context directory`;

  const runs = {
    "context images": await ferry(["context", "images", ctx]),
    "registry save": await ferry(["registry", "save", "--registry-dir", dir.join("reg"), ctx]),
    "build": await ferry(["build", "--root", dir.join("store"), "-t", "app:1", ctx]),
  };
  for (const [command, run] of Object.entries(runs)) {
    assert.equal(run.code, 1, `${command}: ${run.stderr}`);
    assert.equal(run.stderr.trim().split("\n").at(-1), `ferry: ${line}`, command);
    assert.ok(!run.stderr.includes("    at "), `${command} printed a stack trace`);
  }
  await assert.rejects(Deno.stat(dir.join("reg/docker")), Deno.errors.NotFound);
});
