import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { Collector } from "./collector.ts";
import { parseTarLine, readTarList } from "./tar_list.ts";

const CTX = "/ctx";

Deno.test("Sealos TestTarList vector", () => {
  assert.deepEqual(parseTarLine(CTX, "docker-archive:config_main.tar@library/config_main", 1), {
    transport: "docker-archive",
    path: "/ctx/images/skopeo/config_main.tar",
    destination: "library/config_main:latest",
    source: { file: "images/skopeo/tar.txt", line: 1, rule: "tar" },
  });
});

Deno.test("parseTarLine: tags, sub-paths, absolute paths, blanks and comments", () => {
  const entry = parseTarLine(CTX, "  oci-archive:sub/app.tar@apps/app:1.2  ", 3);
  assert.equal(entry?.transport, "oci-archive");
  assert.equal(entry?.path, "/ctx/images/skopeo/sub/app.tar");
  assert.equal(entry?.destination, "apps/app:1.2");
  assert.equal(entry?.source.line, 3);
  // As in Sealos, an absolute path is joined under images/skopeo/ too.
  assert.equal(
    parseTarLine(CTX, "docker-archive:/abs.tar@a", 1)?.path,
    "/ctx/images/skopeo/abs.tar",
  );
  // ".." that stays inside the context is fine.
  assert.equal(parseTarLine(CTX, "docker-archive:../x.tar@a", 1)?.path, "/ctx/images/x.tar");
  // The first "@" splits: an "@" in the destination is an error (below), not in the path.
  assert.equal(parseTarLine(CTX, "docker-archive:x.tar@r:1", 1)?.destination, "r:1");
  assert.equal(parseTarLine(CTX, "", 1), undefined);
  assert.equal(parseTarLine(CTX, "# docker-archive:x@y", 1), undefined);
});

Deno.test("parseTarLine errors name the line", () => {
  const cases: [string, RegExp][] = [
    ["docker-archive:app.tar", /tar\.txt:7: .* is not <transport>:<path>@/],
    ["docker:app.tar@a", /tar\.txt:7: unsupported transport "docker"/],
    ["dir:app@a", /unsupported transport "dir"/],
    ["docker-archive:@a", /empty archive path/],
    ["docker-archive:../../../etc/passwd@a", /leaves the context directory/],
    ["docker-archive:../..@a", /leaves the context directory/],
    ["docker-archive:a.tar@Bad/Name", /invalid destination repository "Bad\/Name"/],
    ["docker-archive:a.tar@a:-x", /invalid destination tag "-x"/],
    ["docker-archive:a.tar@b@c", /invalid destination repository "b@c"/],
  ];
  for (const [line, message] of cases) {
    assert.throws(
      () => parseTarLine(CTX, line, 7),
      (err) => isFerryError(err, "invalid_input") && message.test(err.message),
      line,
    );
  }
});

Deno.test("readTarList reports missing archives; strict makes that an error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-tar-" });
  try {
    const collector = new Collector(false);
    assert.deepEqual(await readTarList(dir, collector), []);
    await Deno.mkdir(join(dir, "images/skopeo"), { recursive: true });
    await Deno.writeTextFile(join(dir, "images/skopeo/here.tar"), "x");
    await Deno.writeTextFile(
      join(dir, "images/skopeo/tar.txt"),
      "docker-archive:here.tar@a\r\noci-archive:gone.tar@b:2\r\n",
    );
    const entries = await readTarList(dir, collector);
    assert.deepEqual(entries.map((e) => [e.path, e.destination]), [
      [join(dir, "images/skopeo/here.tar"), "a:latest"],
      [join(dir, "images/skopeo/gone.tar"), "b:2"],
    ]);
    assert.deepEqual(collector.warnings, [
      {
        file: "images/skopeo/tar.txt",
        line: 2,
        message: "archive images/skopeo/gone.tar does not exist",
      },
    ]);
    await assert.rejects(
      () => readTarList(dir, new Collector(true)),
      (err) => isFerryError(err, "not_found") && /tar\.txt:2: archive/.test(err.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTarList refuses archives a symlink takes out of the context, naming the line", async () => {
  const outside = await Deno.makeTempDir({ prefix: "ferry-tar-out-" });
  const dir = await Deno.makeTempDir({ prefix: "ferry-tar-" });
  try {
    const skopeo = join(dir, "images/skopeo");
    await Deno.mkdir(join(skopeo, "real"), { recursive: true });
    await Deno.mkdir(join(outside, "sub"));
    await Deno.writeTextFile(join(outside, "host.tar"), "secret");
    await Deno.writeTextFile(join(outside, "sub/app.tar"), "secret");
    await Deno.writeTextFile(join(skopeo, "real/ok.tar"), "x");
    await Deno.symlink(join(outside, "host.tar"), join(skopeo, "evil.tar"));
    await Deno.symlink(join(outside, "sub"), join(skopeo, "linked"));
    await Deno.symlink("real/ok.tar", join(skopeo, "inside.tar"));
    const list = join(skopeo, "tar.txt");
    const cases: [string, RegExp][] = [
      [
        "docker-archive:evil.tar@a",
        /^images\/skopeo\/tar\.txt:2: archive images\/skopeo\/evil\.tar resolves to .*host\.tar, outside the context directory$/,
      ],
      [
        "oci-archive:linked/app.tar@a",
        /^images\/skopeo\/tar\.txt:2: archive images\/skopeo\/linked\/app\.tar resolves to .*sub\/app\.tar, outside/,
      ],
    ];
    for (const [line, message] of cases) {
      await Deno.writeTextFile(list, `# first\n${line}\n`);
      await assert.rejects(
        () => readTarList(dir, new Collector(false)),
        (err) => isFerryError(err, "invalid_input") && message.test(err.message),
        line,
      );
    }
    // A symlink that stays inside the context is fine, and so is a dangling one (reported missing).
    await Deno.symlink(join(outside, "gone.tar"), join(skopeo, "dangling.tar"));
    await Deno.writeTextFile(list, "docker-archive:inside.tar@a\ndocker-archive:dangling.tar@b\n");
    const collector = new Collector(false);
    const entries = await readTarList(dir, collector);
    assert.deepEqual(entries.map((e) => e.path), [
      join(skopeo, "inside.tar"),
      join(skopeo, "dangling.tar"),
    ]);
    assert.deepEqual(collector.warnings.map((w) => w.line), [2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
