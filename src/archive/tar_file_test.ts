import assert from "node:assert/strict";
import { isFerryError } from "../errors.ts";
import { drain } from "../../tests/support/images.ts";
import { BLOCK, encodeHeader, padding } from "../tar/mod.ts";
import { concat, packWithGnuTar } from "../tar/_test_tar.ts";
import { TarFile } from "./tar_file.ts";

async function tempFile(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "ferry-tar-test-", suffix: ".tar" });
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("a tar written by another packer is indexed with offsets, links followed", async () => {
  const body = "some content\n".repeat(100);
  const tar = await packWithGnuTar([
    { name: "./dir/" },
    { name: "./dir/file.txt", data: body },
    { name: `deep/${"n".repeat(150)}/x`, data: "abc" },
    { name: "id/layer.tar", symlink: "../dir/file.txt" },
    { name: "hard", hardlink: "./dir/file.txt" },
    { name: "loop", symlink: "loop" },
  ], { format: "pax" });
  const path = await tempFile(tar);
  const file = await TarFile.open(path);
  try {
    const m = file.file("dir/file.txt")!;
    assert.equal(m.size, body.length);
    assert.equal(new TextDecoder().decode(await drain(await file.open(m))), body);
    assert.equal(new TextDecoder().decode(await drain(await file.open(m, 13))), body.slice(13));
    assert.deepEqual(file.file("id/layer.tar"), m);
    assert.deepEqual(file.file("./hard"), m);
    assert.equal(file.file("loop"), undefined);
    assert.equal(file.file("dir"), undefined);
    assert.equal(
      new TextDecoder().decode(await file.read(file.file(`deep/${"n".repeat(150)}/x`)!, 10)),
      "abc",
    );
  } finally {
    await file.close();
    await Deno.remove(path);
  }
});

Deno.test("GNU tar archives (long names, gzip) are indexed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-tar-test-" });
  try {
    const name = "n".repeat(120);
    await Deno.mkdir(`${dir}/src`);
    await Deno.writeTextFile(`${dir}/src/${name}`, "gnu\n");
    const out = await new Deno.Command("tar", {
      args: ["--format=gnu", "-czf", `${dir}/a.tar.gz`, "-C", `${dir}/src`, "."],
    }).output();
    assert.equal(out.code, 0);
    const file = await TarFile.open(`${dir}/a.tar.gz`);
    try {
      const m = file.file(name);
      assert.ok(m);
      assert.equal(new TextDecoder().decode(await file.read(m, 100)), "gnu\n");
    } finally {
      await file.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sizes beyond 8 GiB use a PAX header and are read back", async () => {
  const size = 9 * 1024 ** 3 + 5;
  const header = encodeHeader({ name: "blobs/sha256/big", size });
  assert.ok(header.byteLength > BLOCK);
  const path = await tempFile(header);
  try {
    // A sparse file: the data region costs no disk.
    await Deno.truncate(path, header.byteLength + size + padding(size));
    const file = await TarFile.open(path);
    const m = file.file("blobs/sha256/big")!;
    assert.equal(m.size, size);
    assert.equal(m.offset, header.byteLength);
    await file.close();
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("not-a-tar, truncated and zstd inputs fail clearly", async () => {
  const junk = await tempFile(new TextEncoder().encode("x".repeat(2000)));
  const zstd = await tempFile(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]));
  const cut = await tempFile(
    concat([encodeHeader({ name: "a", size: 5000 }), new Uint8Array(100)]),
  );
  try {
    await assert.rejects(TarFile.open(junk), (e) => isFerryError(e, "invalid_input"));
    await assert.rejects(TarFile.open(zstd), (e) => isFerryError(e, "unsupported"));
    await assert.rejects(TarFile.open(cut), (e) => isFerryError(e, "invalid_input"));
    await assert.rejects(TarFile.open(`${junk}.missing`), (e) => isFerryError(e, "not_found"));
  } finally {
    for (const p of [junk, zstd, cut]) await Deno.remove(p);
  }
});
