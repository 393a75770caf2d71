import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { compileIgnore } from "../kubefile/ignore.ts";
import { buildSampleTree, LONG_NAME, UNICODE_NAME } from "./test_util.ts";
import type { LayerEntry } from "./types.ts";
import { type WalkOptions, walkTree } from "./walk.ts";

async function list(src: string, dest: string, options?: WalkOptions): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  for await (const e of walkTree(src, dest, options)) out.push(e);
  return out;
}

function describe(e: LayerEntry): string {
  const own = `${e.uid ?? 0}:${e.gid ?? 0}`;
  switch (e.kind) {
    case "file":
      return `file ${e.path} ${e.mode.toString(8)} ${own} ${e.size}`;
    case "dir":
      return `dir ${e.path} ${e.mode.toString(8)} ${own}`;
    case "symlink":
      return `symlink ${e.path} -> ${e.target}`;
    case "hardlink":
      return `hardlink ${e.path} -> ${e.target}`;
  }
}

async function withTree(fn: (src: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-walk-" });
  try {
    await buildSampleTree(dir, 1_600_000_000);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const LONG_PARTS = LONG_NAME.split("/");

Deno.test("walkTree: canonical order and entry kinds", async () => {
  await withTree(async (src) => {
    const entries = await list(src, "/opt/app/");
    assert.deepEqual(
      entries.map(describe),
      [
        "dir opt/app 700 0:0", // Deno.makeTempDir creates 0700 directories
        "dir opt/app/a 755 0:0",
        "file opt/app/a/inner 644 0:0 6",
        "file opt/app/a-b 644 0:0 25",
        "dir opt/app/bin 755 0:0",
        "symlink opt/app/bin/abs-link -> /etc/hostname",
        "symlink opt/app/bin/rel-link -> ../etc/config.yaml",
        "file opt/app/bin/tool 755 0:0 20",
        `dir opt/app/${LONG_PARTS[0]} 755 0:0`,
        `dir opt/app/${LONG_PARTS[0]}/${LONG_PARTS[1]} 755 0:0`,
        `file opt/app/${LONG_NAME} 644 0:0 5`,
        `dir opt/app/${UNICODE_NAME.split("/")[0]} 755 0:0`,
        `file opt/app/${UNICODE_NAME} 644 0:0 8`,
        "dir opt/app/empty-dir 700 0:0",
        "dir opt/app/etc 755 0:0",
        "file opt/app/etc/config.yaml 600 0:0 11",
        "file opt/app/etc/empty 644 0:0 0",
        "hardlink opt/app/etc/tool-hardlink -> opt/app/bin/tool",
        "dir opt/app/registry 755 0:0",
        "dir opt/app/registry/docker 755 0:0",
        "dir opt/app/registry/docker/registry 755 0:0",
        "dir opt/app/registry/docker/registry/v2 755 0:0",
        "dir opt/app/registry/docker/registry/v2/blobs 755 0:0",
        "file opt/app/registry/docker/registry/v2/blobs/data 644 0:0 70000",
      ],
    );
    assert.ok(entries.every((e) => e.kind === "symlink" || e.mtime === 1_600_000_000));
    const tool = entries.find((e) => e.path === "opt/app/bin/tool");
    assert.ok(tool?.kind === "file" && tool.open);
    assert.equal(
      new TextDecoder().decode(await new Response(await tool.open()).arrayBuffer()),
      "#!/bin/sh\necho tool\n",
    );
  });
});

Deno.test("walkTree: owner and mode options, root entry and destination forms", async () => {
  await withTree(async (src) => {
    const entries = await list(src, "x", { uid: 1000, gid: 10, mode: 0o750, includeRoot: false });
    assert.equal(entries[0].path, "x/a");
    for (const e of entries) {
      assert.equal(e.uid, 1000);
      assert.equal(e.gid, 10);
      if (e.kind !== "symlink") assert.equal(e.mode, 0o750, e.path);
    }
    const atRoot = await list(src, "/");
    assert.equal(atRoot[0].path, "a");
    assert.deepEqual(
      (await list(src, ".")).map((e) => e.path),
      atRoot.map((e) => e.path),
    );
    await assert.rejects(list(src, "../up"), (err: unknown) => isFerryError(err, "invalid_input"));
  });
});

Deno.test("walkTree: a file source yields one entry at the destination", async () => {
  await withTree(async (src) => {
    const entries = await list(join(src, "etc/config.yaml"), "/etc/app.yaml");
    assert.deepEqual(entries.map(describe), ["file etc/app.yaml 600 0:0 11"]);
    await assert.rejects(list(join(src, "etc/config.yaml"), ""), /needs a destination/);
    await assert.rejects(
      list(join(src, "missing"), "x"),
      (err: unknown) => isFerryError(err, "not_found"),
    );
  });
});

Deno.test("walkTree: sub-second mtimes round to the nearest second, as Go's archive/tar does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-walk-mtime-" });
  try {
    const base = 1_700_000_000;
    // fraction of a second → whole seconds in the header
    const cases: [string, number, number][] = [
      ["a", 0, base],
      ["b", 0.499, base],
      ["c", 0.5, base + 1],
      ["d", 0.999, base + 1],
    ];
    for (const [name, fraction] of cases) {
      await Deno.writeTextFile(join(dir, name), name);
      const at = new Date((base + fraction) * 1000);
      await Deno.utime(join(dir, name), at, at);
    }
    const entries = await list(dir, "x", { includeRoot: false });
    assert.deepEqual(
      entries.map((e) => [e.path, e.mtime]),
      cases.map(([name, , want]) => [`x/${name}`, want]),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("walkTree: ignore rules, exceptions and context-relative paths", async () => {
  await withTree(async (src) => {
    const ignore = compileIgnore([
      "registry",
      "!registry/docker/registry/v2/blobs/data",
      "etc/*.yaml",
      "deep",
      "données",
    ]);
    const paths = (await list(src, "", { ignore })).map((e) => e.path);
    assert.deepEqual(paths, [
      "a",
      "a/inner",
      "a-b",
      "bin",
      "bin/abs-link",
      "bin/rel-link",
      "bin/tool",
      "empty-dir",
      "etc",
      "etc/empty",
      "etc/tool-hardlink",
      "registry",
      "registry/docker",
      "registry/docker/registry",
      "registry/docker/registry/v2",
      "registry/docker/registry/v2/blobs",
      "registry/docker/registry/v2/blobs/data",
    ]);
    // Without an exception nothing below an ignored directory is written.
    const plain = (await list(src, "", { ignore: compileIgnore(["registry", "bin/tool"]) }))
      .map(describe);
    assert.ok(!plain.some((p) => p.includes("registry")));
    // The first kept path of a hard-linked inode is written as the file.
    assert.ok(plain.includes("file etc/tool-hardlink 755 0:0 20"));
    // Paths given to ignore are relative to the context, not to the walked directory.
    const sub = (await list(join(src, "etc"), "etc", {
      contextPath: "etc",
      ignore: compileIgnore(["etc/empty", "empty"]),
    })).map((e) => e.path);
    assert.deepEqual(sub, ["etc", "etc/config.yaml", "etc/tool-hardlink"]);
  });
});

Deno.test("walkTree: sockets are skipped, FIFOs refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-walk-" });
  try {
    await Deno.writeTextFile(join(dir, "keep"), "k");
    const listener = Deno.listen({ transport: "unix", path: join(dir, "sock") });
    listener.close();
    const paths = (await list(dir, "")).map((e) => e.path);
    assert.deepEqual(paths, ["keep"]);
    const mk = await new Deno.Command("mkfifo", { args: [join(dir, "fifo")] }).output();
    if (mk.success) {
      await assert.rejects(list(dir, ""), (err: unknown) => isFerryError(err, "unsupported"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
