import assert from "node:assert/strict";
import {
  dependencyEnabled,
  lookup,
  mergeValues,
  subchartValues,
  withoutKeys,
} from "./chart_values.ts";
import { parseYamlTree, type TreeNode } from "./yaml_tree.ts";

function tree(text: string, file = "values.yaml"): TreeNode {
  const parsed = parseYamlTree(text, (line) => ({ file, line }));
  assert.equal(parsed.error, undefined);
  return parsed.documents[0];
}

/** Plain JS of a tree, with each scalar as "value@file:line". */
function plain(node: TreeNode | undefined): unknown {
  if (node === undefined) return undefined;
  if (node.kind === "scalar") return `${node.text}@${node.at.file}:${node.at.line}`;
  if (node.kind === "seq") return node.items.map(plain);
  return Object.fromEntries([...node.entries].map(([k, v]) => [k, plain(v)]));
}

Deno.test("mergeValues deep-merges, replaces non-maps, deletes on null, keeps origins", () => {
  const base = tree("image:\n  repository: nginx\n  tag: ''\nlist: [a]\ngone: {x: 1}\nkeep: 1\n");
  const over = tree("image:\n  tag: '1.27'\nlist: [b]\ngone: null\nnew: x\n", "o.yaml");
  assert.deepEqual(plain(mergeValues(base, over)), {
    image: { repository: "nginx@values.yaml:2", tag: "1.27@o.yaml:2" },
    list: ["b@o.yaml:3"],
    keep: "1@values.yaml:6",
    new: "x@o.yaml:5",
  });
  // Inputs are untouched.
  assert.deepEqual(plain(base), {
    image: { repository: "nginx@values.yaml:2", tag: "@values.yaml:3" },
    list: ["a@values.yaml:4"],
    gone: { x: "1@values.yaml:5" },
    keep: "1@values.yaml:6",
  });
  assert.equal(mergeValues(undefined, undefined), undefined);
  assert.deepEqual(plain(mergeValues(undefined, over)), plain(over));
});

Deno.test("lookup follows dotted paths", () => {
  const values = tree("a:\n  b:\n    c: true\n");
  assert.equal(plain(lookup(values, "a.b.c")), "true@values.yaml:3");
  assert.equal(lookup(values, "a.x.c"), undefined);
  assert.equal(lookup(values, "a.b.c.d"), undefined);
});

Deno.test("dependencyEnabled: conditions, then tags, then enabled", () => {
  const values = tree(
    "db: {enabled: false}\ncache: {enabled: true}\nstr: {enabled: 'no'}\ntags: {front: true, back: false}\n",
  );
  const dep = (condition?: string, tags: string[] = []) => ({ name: "x", condition, tags });
  assert.equal(dependencyEnabled(dep("db.enabled"), values), false);
  assert.equal(dependencyEnabled(dep("cache.enabled"), values), true);
  // The first path holding a boolean decides; strings and missing paths do not.
  assert.equal(dependencyEnabled(dep("missing.enabled, str.enabled ,db.enabled"), values), false);
  assert.equal(dependencyEnabled(dep("missing.enabled"), values), true);
  assert.equal(dependencyEnabled(dep(undefined, ["back"]), values), false);
  assert.equal(dependencyEnabled(dep(undefined, ["back", "front"]), values), true);
  assert.equal(dependencyEnabled(dep(undefined, ["unknown"]), values), true);
  assert.equal(dependencyEnabled(dep("cache.enabled", ["back"]), values), true);
  assert.equal(dependencyEnabled(dep(), undefined), true);
});

Deno.test("subchartValues: section over defaults, parent global over own global", () => {
  const defaults = tree("image: {repository: redis, tag: '7'}\nglobal: {a: 1, b: 1}\n", "sub.yaml");
  const parent = tree("db:\n  image: {tag: '8'}\nglobal: {b: 2}\nother: 1\n", "parent.yaml");
  assert.deepEqual(plain(subchartValues(defaults, parent, "db")), {
    image: { repository: "redis@sub.yaml:1", tag: "8@parent.yaml:2" },
    global: { a: "1@sub.yaml:2", b: "2@parent.yaml:3" },
  });
  assert.deepEqual(plain(subchartValues(undefined, parent, "db")), {
    image: { tag: "8@parent.yaml:2" },
    global: { b: "2@parent.yaml:3" },
  });
  assert.deepEqual(plain(subchartValues(defaults, undefined, "db")), plain(defaults));
});

Deno.test("withoutKeys drops top-level keys only", () => {
  const values = tree("a: 1\nb: {a: 2}\n");
  assert.deepEqual(plain(withoutKeys(values, ["a"])), { b: { a: "2@values.yaml:2" } });
  assert.equal(withoutKeys(undefined, ["a"]), undefined);
});
