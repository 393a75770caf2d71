import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { Collector } from "./collector.ts";
import { parseShimLine, scanShim } from "./shim.ts";

Deno.test("parseShimLine: Sealos shim vectors", () => {
  assert.deepEqual(parseShimLine("  nginx  "), { kind: "image", image: "nginx" });
  assert.deepEqual(parseShimLine(`"nginx:1"`), { kind: "image", image: "nginx:1" });
  assert.deepEqual(parseShimLine("'nginx:1'"), { kind: "image", image: "nginx:1" });
  assert.deepEqual(parseShimLine("# x"), { kind: "skip" });
  assert.deepEqual(parseShimLine("   "), { kind: "skip" });
  assert.deepEqual(parseShimLine(""), { kind: "skip" });
});

Deno.test("parseShimLine: no normalisation", () => {
  assert.deepEqual(parseShimLine("bitnami/redis"), { kind: "image", image: "bitnami/redis" });
  assert.deepEqual(parseShimLine("index.docker.io/library/nginx:1"), {
    kind: "image",
    image: "index.docker.io/library/nginx:1",
  });
});

Deno.test("parseShimLine strips an inline comment, which Sealos keeps", () => {
  const entry = parseShimLine("nginx:1 # x");
  assert.equal(entry.kind, "image");
  assert.equal(entry.kind === "image" && entry.image, "nginx:1");
  assert.match(entry.kind === "image" ? entry.note ?? "" : "", /stripped inline comment/);
  // Quotes inside the comment-stripped entry are still removed.
  const quoted = parseShimLine(`"nginx:1"\t# pinned`);
  assert.equal(quoted.kind === "image" && quoted.image, "nginx:1");
  // Without whitespace before it, "#" is part of the entry, which is then not a reference.
  assert.equal(parseShimLine("nginx:1#x").kind, "invalid");
});

Deno.test("parseShimLine rejects daemon and storage entries and invalid references", () => {
  for (const line of ["docker-daemon:nginx:1", "containers-storage:localhost/app:1"]) {
    const entry = parseShimLine(line);
    assert.equal(entry.kind, "invalid");
    assert.equal(entry.kind === "invalid" && entry.code, "unsupported");
    assert.match(entry.kind === "invalid" ? entry.message : "", /registries only/);
  }
  for (const line of ["Nginx", "docker://nginx", "nginx:", "a b"]) {
    const entry = parseShimLine(line);
    assert.equal(entry.kind === "invalid" && entry.code, "invalid_reference", line);
  }
});

Deno.test("scanShim reads every file recursively, with sources, and strict turns problems into errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-shim-" });
  try {
    await Deno.mkdir(join(dir, "images/shim/nested/deeper"), { recursive: true });
    await Deno.writeTextFile(join(dir, "images/shim/a"), "\uFEFFnginx\n# c\n\nbusybox:1\n");
    await Deno.writeTextFile(join(dir, "images/shim/nested/deeper/b.txt"), "nginx\r\nBad\r\n");
    const collector = new Collector(false);
    await scanShim(dir, collector);
    assert.deepEqual(collector.images(), [
      { image: "busybox:1", sources: [{ file: "images/shim/a", line: 4, rule: "shim" }] },
      {
        image: "nginx",
        sources: [
          { file: "images/shim/a", line: 1, rule: "shim" },
          { file: "images/shim/nested/deeper/b.txt", line: 1, rule: "shim" },
        ],
      },
    ]);
    assert.deepEqual(collector.warnings.map((w) => [w.file, w.line]), [
      ["images/shim/nested/deeper/b.txt", 2],
    ]);
    await assert.rejects(
      () => scanShim(dir, new Collector(true)),
      (err) =>
        isFerryError(err, "invalid_reference") &&
        err.message.startsWith("images/shim/nested/deeper/b.txt:2: "),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scanShim without images/shim finds nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-shim-" });
  try {
    const collector = new Collector(true);
    await scanShim(dir, collector);
    assert.deepEqual(collector.images(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
