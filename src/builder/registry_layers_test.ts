import assert from "node:assert/strict";
import type { LayerEntry } from "../layer/mod.ts";
import {
  MAX_REGISTRY_LAYERS,
  MIN_BLOB_LAYER_SIZE,
  splitRegistryEntries,
} from "./registry_layers.ts";

const V2 = "registry/docker/registry/v2";

function hex(n: number): string {
  return n.toString(16).padStart(64, "0").replace(/^00/, "ab");
}

/** A registry directory's entries: blob directories and data, one repository linking them. */
function registry(sizes: number[], repo = "library/app"): LayerEntry[] {
  const out: LayerEntry[] = [{ kind: "dir", path: V2, mode: 0o755, mtime: 5 }];
  sizes.forEach((size, n) => {
    const h = hex(n);
    out.push(
      { kind: "dir", path: `${V2}/blobs/sha256/${h.slice(0, 2)}/${h}`, mode: 0o755, mtime: 5 },
      {
        kind: "file",
        path: `${V2}/blobs/sha256/${h.slice(0, 2)}/${h}/data`,
        mode: 0o644,
        size,
        mtime: 5,
      },
      {
        kind: "file",
        path: `${V2}/repositories/${repo}/_layers/sha256/${h}/link`,
        mode: 0o644,
        size: 71,
        mtime: 5,
      },
    );
  });
  out.push({
    kind: "symlink",
    path: `${V2}/repositories/${repo}/_layers/odd`,
    mode: 0o777,
    target: "x",
  });
  return out;
}

Deno.test("registry entries split into a layer per large blob and per repository; the rest stays", () => {
  const entries = registry([MIN_BLOB_LAYER_SIZE, 10, MIN_BLOB_LAYER_SIZE + 1]);
  const split = splitRegistryEntries(entries, entries.map((e) => e.path), entries.map(() => "s"))!;
  assert.deepEqual(split.groups.map((g) => g.key), [
    `blob:${hex(0)}`,
    `blob:${hex(2)}`,
    "repo:library/app",
  ]);
  // The small blob travels with its repository; the parents of each entry come first, time 0.
  const repo = split.groups[2];
  assert.ok(repo.entries.some((e) => e.path.endsWith(`${hex(1)}/data`)));
  const first = split.groups[0].entries;
  assert.deepEqual(first.slice(0, 3).map((e) => [e.path, e.mtime]), [
    ["registry", 0],
    ["registry/docker", 0],
    ["registry/docker/registry", 0],
  ]);
  assert.equal(first.at(-1)!.path, `${V2}/blobs/sha256/ab/${hex(0)}/data`);
  assert.equal(first.at(-1)!.mtime, 5, "entries keep their own times");
  // The v2 directory and the symlink stay in the COPY's own layer.
  assert.deepEqual(split.rest.map((i) => entries[i].path), [
    V2,
    `${V2}/repositories/library/app/_layers/odd`,
  ]);
  // Blob data is named by its digest: no source times in the key; links carry theirs.
  const data = split.groups[0].entries.findIndex((e) => e.path.endsWith("/data"));
  assert.equal(split.groups[0].stamps[data], "");
  assert.ok(repo.stamps.includes("s"));
});

Deno.test("beyond the layer bound, groups share layers by a hash of their key", () => {
  const entries = registry(Array.from({ length: 250 }, () => MIN_BLOB_LAYER_SIZE));
  const split = splitRegistryEntries(entries, entries.map((e) => e.path), entries.map(() => ""))!;
  assert.ok(split.groups.length <= MAX_REGISTRY_LAYERS);
  assert.ok(split.groups.every((g) => g.key.startsWith("bucket:")));
  // Every entry is in exactly one layer.
  const placed = split.groups.flatMap((g) =>
    g.entries.filter((e) => e.mtime === 5).map((e) => e.path)
  );
  assert.equal(placed.length + split.rest.length, entries.length);
  assert.equal(new Set(placed).size, placed.length);
});

Deno.test("a blob other entries hard-link to stays in the COPY's own layer with the links", () => {
  const entries = registry([MIN_BLOB_LAYER_SIZE, MIN_BLOB_LAYER_SIZE]);
  const data = `${V2}/blobs/sha256/ab/${hex(1)}/data`;
  entries.push({ kind: "hardlink", path: `${V2}/copy-of-data`, mode: 0o644, target: data });
  const split = splitRegistryEntries(entries, entries.map((e) => e.path), entries.map(() => ""))!;
  const rest = split.rest.map((i) => entries[i].path);
  assert.ok(rest.includes(data) && rest.includes(`${V2}/copy-of-data`));
  assert.ok(!split.groups.some((g) => g.entries.some((e) => e.path === data)));
});

Deno.test("a copy without registry content is not split", () => {
  const entries: LayerEntry[] = [{ kind: "file", path: "etc/a", mode: 0o644, size: 1 }];
  assert.equal(splitRegistryEntries(entries, ["etc/a"], [""]), undefined);
});
