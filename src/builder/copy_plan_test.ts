import assert from "node:assert/strict";
import { join } from "node:path";
import { FerryError } from "../errors.ts";
import { compileIgnore } from "../kubefile/mod.ts";
import { writeLayer } from "../layer/mod.ts";
import {
  archiveKind,
  type BuildContext,
  contextCopyEntries,
  directoryChain,
  findContextSources,
  parseChown,
  planContextCopy,
  resolveDestination,
} from "./copy_plan.ts";
import { writeTree } from "./test_util.ts";

const fail = (
  message: string,
  code: "not_found" | "invalid_input" | "unsupported" = "not_found",
) => {
  throw new FerryError(code, `Kubefile:3: COPY: ${message}`);
};

async function context(files: Record<string, string | [string, number]>, ignore?: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "ferry-plan-" });
  await writeTree(dir, files);
  const ctx: BuildContext = {
    dir,
    realDir: await Deno.realPath(dir),
    ...(ignore ? { ignore: compileIgnore(ignore) } : {}),
  };
  return ctx;
}

Deno.test("destinations resolve against WORKDIR; a trailing / or . means a directory", () => {
  assert.deepEqual(resolveDestination(".", "/"), { path: "", isDir: true });
  assert.deepEqual(resolveDestination("./registry", "/"), { path: "registry", isDir: false });
  assert.deepEqual(resolveDestination("app/", "/opt"), { path: "opt/app", isDir: true });
  assert.deepEqual(resolveDestination("/etc/x", "/opt"), { path: "etc/x", isDir: false });
  assert.deepEqual(resolveDestination("../../x", "/a"), { path: "x", isDir: false });
});

Deno.test("--chown takes numbers and root; a user name is refused with the reason", () => {
  assert.deepEqual(parseChown("1000", "x"), { uid: 1000, gid: 1000 });
  assert.deepEqual(parseChown("1000:50", "x"), { uid: 1000, gid: 50 });
  assert.deepEqual(parseChown("root:root", "x"), { uid: 0, gid: 0 });
  assert.throws(
    () => parseChown("nobody", "Kubefile:2: COPY"),
    /Kubefile:2: COPY: --chown=nobody: user "nobody" is not a number/,
  );
});

Deno.test("directoryChain: every parent, outermost first, mode 0755", () => {
  const chain = directoryChain("opt/app", { uid: 5, gid: 6 }, 100);
  assert.deepEqual(chain.map((e) => [e.path, e.mode, e.uid, e.gid]), [
    ["opt", 0o755, 5, 6],
    ["opt/app", 0o755, 5, 6],
  ]);
  assert.deepEqual(directoryChain("", undefined, 0), []);
});

Deno.test("sources: missing, escaping, ignored and symlinked-out sources are refused", async () => {
  const ctx = await context({ "a.txt": "a", "logs/x.log": "l", "keep/k": "k" }, ["logs", "*.txt"]);
  try {
    await assert.rejects(
      findContextSources(ctx, "nope", fail),
      /^FerryError: Kubefile:3: COPY: source "nope" not found in the build context$/,
    );
    await assert.rejects(
      findContextSources(ctx, "../x", fail),
      /source "..\/x" is outside the build context/,
    );
    await assert.rejects(findContextSources(ctx, "a/../../x", fail), /outside the build context/);
    await assert.rejects(findContextSources(ctx, "a.txt", fail), /excluded by the ignore file/);
    await assert.rejects(findContextSources(ctx, "logs", fail), /excluded by the ignore file/);
    await Deno.symlink("/etc", join(ctx.dir, "out"));
    await assert.rejects(
      findContextSources(ctx, "out", fail),
      /symlink to \/etc, outside the build context/,
    );
    const [keep] = await findContextSources(ctx, "/keep", fail);
    assert.equal(keep.rel, "keep");
    assert.equal(keep.isDir, true);
    const root = await findContextSources(ctx, ".", fail);
    assert.deepEqual(root.map((s) => s.rel), [""]);
    // Wildcards skip ignored paths.
    await assert.rejects(findContextSources(ctx, "*.txt", fail), /no source files match "\*.txt"/);
  } finally {
    await Deno.remove(ctx.dir, { recursive: true });
  }
});

Deno.test("sources: wildcards with '-', '+', '.', braces and classes (COPY my-*.yaml /)", async () => {
  const ctx = await context({
    "my-app.yaml": "a",
    "my-db.yaml": "b",
    "myapp.yaml": "c",
    "v1+x.json": "d",
    "{a}.txt": "e",
  });
  try {
    const rels = async (pattern: string) =>
      (await findContextSources(ctx, pattern, fail)).map((s) => s.rel);
    assert.deepEqual(await rels("my-*.yaml"), ["my-app.yaml", "my-db.yaml"]);
    assert.deepEqual(await rels("my[\\-]*.yaml"), ["my-app.yaml", "my-db.yaml"]);
    assert.deepEqual(await rels("*+?.json"), ["v1+x.json"]);
    assert.deepEqual(await rels("{a}.*"), ["{a}.txt"]);
    assert.deepEqual(await rels("[^m]*"), ["v1+x.json", "{a}.txt"]);
  } finally {
    await Deno.remove(ctx.dir, { recursive: true });
  }
});

Deno.test("plan: directory contents into the destination, files into a / destination", async () => {
  const ctx = await context({
    "d/one": "1",
    "d/sub/two": ["2", 0o600],
    "f.txt": "f",
    "g.txt": "g",
    ".dockerignore": "x",
  }, ["d/sub/two"]);
  try {
    const dirPlan = await planContextCopy(ctx, {
      sources: ["d"],
      dest: resolveDestination("/opt/d", "/"),
      extract: false,
      fail,
    });
    assert.deepEqual(dirPlan.listed.map((e) => `${e.kind}:${e.path}`), [
      "dir:opt",
      "dir:opt/d",
      "file:opt/d/one",
      "dir:opt/d/sub",
    ]);
    const files = await planContextCopy(ctx, {
      sources: ["*.txt"],
      dest: resolveDestination("/x/", "/"),
      extract: false,
      owner: { uid: 7, gid: 8 },
      chmod: 0o640,
      fail,
    });
    assert.deepEqual(files.listed.map((e) => `${e.path}:${e.mode.toString(8)}:${e.uid}`), [
      "x:755:7",
      "x/f.txt:640:7",
      "x/g.txt:640:7",
    ]);
    await assert.rejects(
      planContextCopy(ctx, {
        sources: ["f.txt", "g.txt"],
        dest: resolveDestination("/x", "/"),
        extract: false,
        fail,
      }),
      /several sources the destination must be a directory ending in "\/"/,
    );
    await assert.rejects(
      planContextCopy(ctx, {
        sources: ["https://example.com/a.tgz"],
        dest: resolveDestination("/x/", "/"),
        extract: true,
        fail,
      }),
      /remote source "https:\/\/example.com\/a.tgz" is not supported/,
    );
  } finally {
    await Deno.remove(ctx.dir, { recursive: true });
  }
});

Deno.test("ADD extracts a local tar archive into the destination", async () => {
  const ctx = await context({ "plain.txt": "not an archive" });
  try {
    const tarLayer = writeLayer([
      { kind: "dir", path: "pkg", mode: 0o750, mtime: 5 },
      {
        kind: "file",
        path: "pkg/run.sh",
        mode: 0o755,
        size: 3,
        mtime: 5,
        open: () => new Blob(["hi\n"]).stream(),
      },
    ], { compression: "gzip" });
    await Deno.writeFile(join(ctx.dir, "pkg.tgz"), tarLayer.stream);
    assert.equal(await archiveKind(join(ctx.dir, "pkg.tgz")), "gzip");
    assert.equal(await archiveKind(join(ctx.dir, "plain.txt")), undefined);
    const plan = await planContextCopy(ctx, {
      sources: ["pkg.tgz", "plain.txt"],
      dest: resolveDestination("/opt/", "/"),
      extract: true,
      fail,
    });
    assert.equal(plan.archives.length, 1);
    const entries = [];
    for await (const e of contextCopyEntries(plan, { where: "Kubefile:2" })) {
      entries.push(`${e.kind}:${e.path}:${e.mode.toString(8)}`);
      if (e.kind === "file" && e.open) await (await e.open()).cancel();
    }
    assert.deepEqual(entries, [
      "dir:opt:755",
      "file:opt/plain.txt:644",
      "dir:opt/pkg:750",
      "file:opt/pkg/run.sh:755",
    ]);
  } finally {
    await Deno.remove(ctx.dir, { recursive: true });
  }
});
