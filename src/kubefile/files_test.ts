import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { findInstructionFiles, readIgnoreFile, readInstructionFiles } from "./files.ts";
import { parseInstructions } from "./parse.ts";

async function withContext(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-ctx-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("findInstructionFiles: every existing default file, in Sealos order", async () => {
  await withContext(async (dir) => {
    await assert.rejects(
      findInstructionFiles(dir),
      (err: unknown) => isFerryError(err, "not_found"),
    );
    await Deno.writeTextFile(join(dir, "Containerfile"), "LABEL from=containerfile\n");
    await Deno.writeTextFile(join(dir, "Kubefile"), "COPY registry registry\n");
    await Deno.writeTextFile(join(dir, "Sealfile"), "FROM scratch\n");
    await Deno.mkdir(join(dir, "Dockerfile"));
    const paths = await findInstructionFiles(dir);
    assert.deepEqual(paths, [
      join(dir, "Sealfile"),
      join(dir, "Kubefile"),
      join(dir, "Containerfile"),
    ]);

    const sources = await readInstructionFiles(paths, dir);
    assert.deepEqual(sources.map((s) => s.name), ["Sealfile", "Kubefile", "Containerfile"]);
    const parsed = parseInstructions(sources);
    assert.deepEqual(
      parsed.stages[0].instructions.map((i) => `${i.file}:${i.line} ${i.kind}`),
      ["Kubefile:1 copy", "Containerfile:1 label"],
    );
  });
});

Deno.test("findInstructionFiles: -f paths as given, else inside the context", async () => {
  await withContext(async (dir) => {
    await Deno.mkdir(join(dir, "build"));
    await Deno.writeTextFile(join(dir, "build", "Kubefile.arm64"), "FROM scratch\n");
    const outside = join(dir, "outside.Kubefile");
    await Deno.writeTextFile(outside, "FROM scratch\n");
    const paths = await findInstructionFiles(join(dir, "build"), ["Kubefile.arm64", outside]);
    assert.deepEqual(paths, [join(dir, "build", "Kubefile.arm64"), outside]);
    const sources = await readInstructionFiles(paths, join(dir, "build"));
    assert.deepEqual(sources.map((s) => s.name), ["Kubefile.arm64", outside]);
    await assert.rejects(
      findInstructionFiles(dir, ["missing"]),
      (err: unknown) => isFerryError(err, "not_found") && /missing not found/.test(err.message),
    );
    await assert.rejects(
      findInstructionFiles(dir, ["build"]),
      (err: unknown) => isFerryError(err, "invalid_input"),
    );
  });
});

Deno.test("readIgnoreFile: .containerignore first, then .dockerignore", async () => {
  await withContext(async (dir) => {
    assert.equal(await readIgnoreFile(dir), undefined);
    await Deno.writeTextFile(join(dir, ".dockerignore"), "a\r\nb\n");
    assert.deepEqual(await readIgnoreFile(dir), { name: ".dockerignore", lines: ["a", "b", ""] });
    await Deno.writeTextFile(join(dir, ".containerignore"), "c\n");
    assert.deepEqual(await readIgnoreFile(dir), { name: ".containerignore", lines: ["c", ""] });
  });
});
