import assert from "node:assert/strict";
import { Collector } from "./collector.ts";
import { scanManifestText } from "./manifests.ts";
import {
  ALIAS_ALLOWANCE,
  ALIAS_EXPANSION_FACTOR,
  indentQuotedContinuations,
  MAX_DEPTH,
  parseYamlTree,
  type TreeNode,
} from "./yaml_tree.ts";

function plain(node: TreeNode): unknown {
  if (node.kind === "map") {
    return Object.fromEntries([...node.entries].map(([k, v]) => [k, plain(v)]));
  }
  return node.kind === "seq" ? node.items.map(plain) : node.value;
}

// What kubectl (Go's YAML parser) accepts: quoted scalars continuing at the key's indentation.
const LAX = [
  "spec:", // 1
  "  containers:",
  "    - name: app",
  "      args:",
  "      - 'line one", // 5
  "    line two'",
  "      env:",
  "        - name: A",
  '          value: "x \\" y', // 9
  'z"',
  "    - name: b",
  "      description: 'it''s", // 12
  "      fine'",
  "      image: {repository: quay.io/a/b, tag: '1'}", // 14
  "      script: |",
  "        echo 'unclosed", // a block scalar is left alone
  "",
].join("\n");

Deno.test("multi-line quoted scalars indented like kubectl accepts them are read", () => {
  const parsed = parseYamlTree(LAX, (line) => ({ file: "m.yaml", line }));
  assert.equal(parsed.error, undefined);
  assert.deepEqual(plain(parsed.documents[0]), {
    spec: {
      containers: [
        { name: "app", args: ["line one line two"], env: [{ name: "A", value: 'x " y z' }] },
        {
          name: "b",
          description: "it's fine",
          image: { repository: "quay.io/a/b", tag: "1" },
          script: "echo 'unclosed\n",
        },
      ],
    },
  });
  // Line numbers are kept: the image map is still on line 14.
  const collector = new Collector(false);
  scanManifestText(LAX, "manifests/m.yaml", collector, {
    lineRule: "manifest-line",
    walkRule: "manifest-yaml",
  });
  assert.deepEqual(collector.warnings, []);
  assert.deepEqual(
    collector.images().map((i) => [i.image, i.sources[0].line]),
    [["quay.io/a/b:1", 14]],
  );
});

Deno.test("indentQuotedContinuations changes only continuation lines of open quotes", () => {
  const text = "a: 'x\nb'\nc: \"done\"\nd: |\n  'open\ne: 1\n";
  assert.equal(indentQuotedContinuations(text), "a: 'x\n b'\nc: \"done\"\nd: |\n  'open\ne: 1\n");
  // Valid YAML is parsed as it is: the relaxed reading is a fallback only.
  assert.equal(parseYamlTree("a: 'x\n  y'\n", (line) => ({ file: "f", line })).error, undefined);
});

const at = (line: number) => ({ file: "manifests/x.yaml", line });

function countNodes(node: TreeNode): number {
  if (node.kind === "map") {
    return 1 + [...node.entries.values()].reduce((n, v) => n + countNodes(v), 0);
  }
  if (node.kind === "seq") return 1 + node.items.reduce((n, v) => n + countNodes(v), 0);
  return 1;
}

Deno.test("parseYamlTree: many aliases resolve in one walk of the document", () => {
  // Each alias resolved by walking the document took quadratic time: minutes for this one.
  const count = 20_000;
  const text = "base: &a nginx:1.27\n" +
    Array.from({ length: count }, (_, i) => `k${i}: *a`).join("\n");
  const parsed = parseYamlTree(text, at);
  assert.equal(parsed.error, undefined);
  const root = parsed.documents[0];
  assert.ok(root.kind === "map");
  assert.equal(root.entries.size, count + 1);
  assert.equal(plain(root.entries.get(`k${count - 1}`)!), "nginx:1.27");
  // An alias names the last anchor of its name before it.
  const redefined = parseYamlTree("a: &x 1\nb: *x\nc: &x 2\nd: *x\n", at).documents[0];
  assert.deepEqual(plain(redefined), { a: 1, b: 1, c: 2, d: 2 });
});

Deno.test("parseYamlTree: aliases expanding a document past its node limit are reported", () => {
  const bomb = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
  for (let i = 1; i < 9; i++) {
    bomb.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
  }
  bomb.push("image: nginx:1.27");
  const parsed = parseYamlTree(bomb.join("\n"), at);
  assert.match(
    parsed.error?.message ?? "",
    /^aliases expand it to more than \d+ nodes; the rest is not read$/,
  );
  // The line of the node where reading stopped (an anchored one: aliases repeat it).
  const line = parsed.error?.line ?? 0;
  assert.ok(line >= 1 && line <= 9, `line ${line}`);
  // What was read stays, within the limit: ten times what is written, plus the allowance.
  const root = parsed.documents[0];
  assert.ok(root.kind === "map" && root.entries.has("a0"));
  const written = 11 * 9 + 1 + 10 * 2 + 2;
  assert.ok(countNodes(root) <= written * ALIAS_EXPANSION_FACTOR + ALIAS_ALLOWANCE + 10 * 2);
});

Deno.test("parseYamlTree: nesting past MAX_DEPTH is reported, not a stack overflow", () => {
  const depth = MAX_DEPTH + 100;
  const lines = Array.from({ length: depth }, (_, i) => `${" ".repeat(i)}k:`);
  const parsed = parseYamlTree(lines.join("\n") + " 1", at);
  assert.match(parsed.error?.message ?? "", /^nested more than 500 levels deep; deeper values/);
  assert.equal(parsed.documents.length, 1);
  // Deeper than the parser itself goes: its stack overflow, named for what it is.
  const flow = parseYamlTree("a: " + "[".repeat(20_000) + "]".repeat(20_000), at);
  assert.deepEqual(flow.error, { line: 1, message: "nested too deeply" });
});

Deno.test("parseYamlTree: block nesting past what the parser's stack holds is an error, not a throw", () => {
  // The parser lets its own stack overflow out of parseAllDocuments when it closes a deep block
  // collection at once (the key after it).
  const lines = Array.from({ length: 3000 }, (_, i) => `${" ".repeat(i)}k:`);
  const parsed = parseYamlTree(`apiVersion: v2\n${lines.join("\n")}\nafter: 1\n`, at);
  assert.equal(parsed.error?.message, "nested too deeply");
  assert.deepEqual(parsed.documents, []);
});
