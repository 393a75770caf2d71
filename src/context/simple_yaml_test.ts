import assert from "node:assert/strict";
import { parseSimpleYaml } from "./simple_yaml.ts";
import { parseYamlTree, type TreeNode } from "./yaml_tree.ts";

const locate = (line: number) => ({ file: "f", line });

/** Trees as plain data with every node's line, scalars with their text. */
function shape(node: TreeNode): unknown {
  if (node.kind === "map") {
    return [node.at.line, Object.fromEntries([...node.entries].map(([k, v]) => [k, shape(v)]))];
  }
  if (node.kind === "seq") return [node.at.line, node.items.map(shape)];
  return [node.at.line, node.value, node.value === null ? null : node.text];
}

const SAME = [
  "args:\n  - --sidecar-image=registry.example.com/side/s1:2.0\n  - --log-level=info",
  'env:\n- name: RELATED_IMAGE_DB\n  value: \'registry.example.com/db/pg:11.0\'\n- name: N\n  value: "a \\"b\\""',
  "image:\n  registry: quay.io   # comment\n  repository: org/app\n  tag: 1.10\n  pullPolicy: IfNotPresent",
  "- name: c\n  image: nginx:1\n  ports:\n    - containerPort: 80\n  enabled: true\n  empty:\n  nothing: ~\n  n: -3\n  f: 1e3",
  "a:\n  b:\n    c: x # y\n  d: 'it''s'\n  e: \"#not\"\n  f: a#b",
  "\"quoted key\": 1\n'single': 2\nk: http://x:80/y",
];

const DECLINED = [
  "a: {b: c}",
  "a: [1, 2]",
  "a: &x 1\nb: *x",
  "a: !tag v",
  "a: |\n  text",
  "a: plain\n  continued",
  "a: 'open\n  quote'",
  "? complex\n: v",
  "a:\tb",
  "a: 0x1f",
];

Deno.test("simple block YAML reads as the yaml package reads it", () => {
  for (const text of SAME) {
    const simple = parseSimpleYaml(text, locate);
    assert.ok(simple !== undefined, text);
    const full = parseYamlTree(text, locate);
    assert.equal(full.error, undefined);
    assert.deepEqual(shape(simple), shape(full.documents[0]), text);
  }
});

Deno.test("anything beyond plain block YAML is declined", () => {
  for (const text of DECLINED) assert.equal(parseSimpleYaml(text, locate), undefined, text);
});
