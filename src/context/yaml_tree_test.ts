import assert from "node:assert/strict";
import { Collector } from "./collector.ts";
import { scanManifestText } from "./manifests.ts";
import { indentQuotedContinuations, parseYamlTree, type TreeNode } from "./yaml_tree.ts";

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
