import assert from "node:assert/strict";
import { ImageStore } from "../image_store/mod.ts";
import { type LayerEntry, readLayer, writeLayer } from "../layer/mod.ts";
import type { Descriptor } from "../manifest.ts";
import { OCI_LAYER_GZIP } from "../media_types.ts";
import { LayerStack } from "./layer_view.ts";
import { storeLayer } from "./store_blobs.ts";

function file(path: string, text: string, mode = 0o644): LayerEntry {
  const bytes = new TextEncoder().encode(text);
  return {
    kind: "file",
    path,
    mode,
    size: bytes.length,
    mtime: 10,
    open: () => new Blob([bytes]).stream(),
  };
}

function dir(path: string, mode = 0o755): LayerEntry {
  return { kind: "dir", path, mode, mtime: 10 };
}

async function layer(
  store: ImageStore,
  entries: LayerEntry[] | AsyncIterable<LayerEntry>,
): Promise<Descriptor> {
  const r = await storeLayer(store, writeLayer(entries, { compression: "gzip" }));
  return { mediaType: OCI_LAYER_GZIP, digest: r.digest, size: r.size };
}

Deno.test("LayerStack: whiteouts, opaque dirs and replaced dirs decide the final entries", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-stack-" });
  const store = await ImageStore.open({ root });
  try {
    const l0 = await layer(store, [
      dir("a"),
      file("a/old", "old"),
      file("a/keep", "keep"),
      dir("b"),
      file("b/inner", "inner"),
      dir("c"),
      file("c/x", "x"),
      file("gone", "gone"),
      file("linked", "L"),
      { kind: "hardlink", path: "alias", mode: 0o644, target: "linked" },
    ]);
    const l1 = await layer(store, [
      file("a/.wh.old", ""),
      file("b", "b is a file now"),
      dir("c", 0o700),
      file("c/.wh..wh..opq", ""),
      file("c/y", "y"),
      file(".wh.gone", ""),
      file("a/keep", "keep v2", 0o600),
    ]);
    const stack = new LayerStack(store.target(), [l0, l1]);
    const { paths, whiteouts } = await stack.scan();
    assert.deepEqual(whiteouts, [0, 3]);
    assert.deepEqual(
      [...paths].map(([p, e]) => `${p}@${e.layer}:${e.kind}`).sort(),
      [
        "a/keep@1:file",
        "a@0:dir",
        "alias@0:hardlink",
        "b@1:file",
        "c/y@1:file",
        "c@1:dir",
        "linked@0:file",
      ],
    );

    // Flatten: every final entry once, contents streamed, no whiteouts.
    // Entries stream straight into the writer: a body is valid until the next entry.
    const flat = await layer(store, stack.entries((p) => [p], { where: "t" }));
    const got: Record<string, string> = {};
    for await (const e of readLayer(await store.target().fetch(flat))) {
      got[e.path] = e.kind === "file"
        ? `${e.mode.toString(8)}:${await new Response(e.body).text()}`
        : e.kind === "hardlink"
        ? `->${e.target}`
        : `${e.kind}:${e.mode.toString(8)}`;
    }
    assert.deepEqual(got, {
      a: "dir:755",
      linked: "644:L",
      alias: "->linked",
      "a/keep": "600:keep v2",
      b: "644:b is a file now",
      c: "dir:700",
      "c/y": "644:y",
    });

    // A mapping that drops a hard link's target is refused.
    await assert.rejects(
      layer(store, stack.entries((p) => p === "alias" ? ["x"] : [], { where: "COPY --from=s" })),
      /COPY --from=s: alias is a hard link to linked, which is not copied along/,
    );
  } finally {
    await store.close();
    await Deno.remove(root, { recursive: true });
  }
});
