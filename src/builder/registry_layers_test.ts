import assert from "node:assert/strict";
import type { LayerEntry } from "../layer/mod.ts";
import {
  MAX_REGISTRY_LAYERS,
  MIN_BLOB_LAYER_SIZE,
  registryKeyStamps,
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

Deno.test("registry entries split into a layer per large blob and per repository; the rest stays", async () => {
  const entries = registry([MIN_BLOB_LAYER_SIZE, 10, MIN_BLOB_LAYER_SIZE + 1]);
  const split =
    (await splitRegistryEntries(entries, entries.map((e) => e.path), entries.map(() => "s")))!;
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
  assert.equal(first.at(-1)!.mtime, 0, "registry content is at the fixed time");
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

Deno.test("beyond the layer bound, groups share layers by a hash of their key", async () => {
  const entries = registry(Array.from({ length: 250 }, () => MIN_BLOB_LAYER_SIZE));
  const split =
    (await splitRegistryEntries(entries, entries.map((e) => e.path), entries.map(() => "")))!;
  assert.ok(split.groups.length <= MAX_REGISTRY_LAYERS);
  assert.ok(split.groups.every((g) => g.key.startsWith("bucket:")));
  // Every entry is in exactly one layer.
  // (The directories a layer adds above its entries are not entries of its own.)
  const rest = new Set(split.rest.map((i) => entries[i].path));
  const listed = new Set(entries.map((e) => e.path).filter((p) => !rest.has(p)));
  const placed = split.groups.flatMap((g) =>
    g.entries.filter((e) => listed.has(e.path)).map((e) => e.path)
  );
  assert.equal(placed.length + split.rest.length, entries.length);
  assert.equal(new Set(placed).size, placed.length);
});

Deno.test("a blob other entries hard-link to stays in the COPY's own layer with the links", async () => {
  const entries = registry([MIN_BLOB_LAYER_SIZE, MIN_BLOB_LAYER_SIZE]);
  const data = `${V2}/blobs/sha256/ab/${hex(1)}/data`;
  entries.push({ kind: "hardlink", path: `${V2}/copy-of-data`, mode: 0o644, target: data });
  const split =
    (await splitRegistryEntries(entries, entries.map((e) => e.path), entries.map(() => "")))!;
  const rest = split.rest.map((i) => entries[i].path);
  assert.ok(rest.includes(data) && rest.includes(`${V2}/copy-of-data`));
  assert.ok(!split.groups.some((g) => g.entries.some((e) => e.path === data)));
});

Deno.test("a copy without registry content is not split", async () => {
  const entries: LayerEntry[] = [{ kind: "file", path: "etc/a", mode: 0o644, size: 1 }];
  assert.equal(await splitRegistryEntries(entries, ["etc/a"], [""]), undefined);
});

Deno.test("registry content gets the fixed time in every layer; the rest keeps its own", async () => {
  const entries: LayerEntry[] = [
    { kind: "dir", path: "registry", mode: 0o755, mtime: 5 },
    { kind: "file", path: "install.sh", mode: 0o755, size: 3, mtime: 5 },
    ...registry([MIN_BLOB_LAYER_SIZE, 10]),
  ];
  const split =
    (await splitRegistryEntries(entries, entries.map((e) => e.path), entries.map(() => ""), {
      mtime: 1700000000,
    }))!;
  for (const g of split.groups) {
    assert.ok(g.entries.every((e) => e.mtime === 1700000000), g.key);
  }
  const rest = Object.fromEntries(split.restEntries.map((e) => [e.path, e.mtime]));
  assert.deepEqual(rest, {
    registry: 5,
    "install.sh": 5,
    // The v2 directory itself is the context's; what is below it is content-defined.
    [V2]: 5,
    [`${V2}/repositories/library/app/_layers/odd`]: 1700000000,
  });
  // The entries the split was given are left as they were.
  assert.ok(entries.every((e) => e.mtime === 5 || e.kind === "symlink"));
});

Deno.test("the cache key of a registry layer holds what its links say, not their times", async () => {
  const withLinks = async (digest: string, mtime: number) => {
    const entries = registry([10], "library/app").map((e) => ({ ...e, mtime }));
    const tag = `${V2}/repositories/library/app/_manifests/tags/1.0/current/link`;
    const text = new TextEncoder().encode(digest);
    entries.push({
      kind: "file",
      path: tag,
      mode: 0o644,
      size: text.length,
      mtime,
      open: () => new Blob([text]).stream(),
    });
    const layerLink = entries.find((e) => e.path.endsWith("/_layers/sha256/" + hex(0) + "/link"))!;
    if (layerLink.kind === "file") {
      const body = new TextEncoder().encode(`sha256:${hex(0)}`);
      layerLink.size = body.length;
      layerLink.open = () => new Blob([body]).stream();
    }
    // Source times differ with every save: they are the stamps a fresh context changes.
    const split = (await splitRegistryEntries(
      entries,
      entries.map((e) => e.path),
      entries.map(() => `${mtime}/${mtime}`),
    ))!;
    return split.groups.find((g) => g.key === "repo:library/app")!;
  };
  const a = await registryKeyStamps(await withLinks(`sha256:${hex(7)}`, 5));
  const fresh = await registryKeyStamps(await withLinks(`sha256:${hex(7)}`, 9));
  const moved = await registryKeyStamps(await withLinks(`sha256:${hex(8)}`, 5));
  assert.deepEqual(fresh, a, "a fresh save of the same links keys the same");
  assert.notDeepEqual(moved, a, "a tag pointing elsewhere (same size) keys differently");
  assert.ok(a.includes(`link:sha256:${hex(7)}`));
});
