/**
 * Helpers shared by the build and merge tests (not part of the module's API).
 *
 * @module
 */
import { digestOf } from "../../tests/support/digest.ts";
import { join } from "../path.ts";
import { sha256 } from "../digest.ts";
import { readConfig, readManifest } from "../image_store/describe.ts";
import type { ImageStore } from "../image_store/mod.ts";
import { readLayer } from "../layer/mod.ts";
import type { ImageManifest } from "../manifest.ts";

/** One path of an image's file system. */
export interface TreeEntry {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  /** sha256 of a file's content. */
  digest?: string;
  /** Symlink or hard-link target. */
  target?: string;
  mtime: number;
}

/** The stored single-platform image `name`: manifest and config. */
export async function readStored(
  store: ImageStore,
  name: string,
): Promise<{ manifest: ImageManifest; config: Record<string, unknown> }> {
  const found = await store.resolve(name);
  const target = store.target();
  const manifest = await readManifest(target, found.descriptor);
  if (manifest.kind !== "manifest") throw new Error(`${name} is an index`);
  return { manifest, config: await readConfig(target, manifest.config) };
}

/** The file system of a stored manifest's layers, whiteouts applied. */
export async function imageTree(
  store: ImageStore,
  manifest: ImageManifest,
): Promise<Record<string, TreeEntry>> {
  const tree = new Map<string, TreeEntry>();
  const dropUnder = (dir: string, self: boolean) => {
    for (const p of [...tree.keys()]) {
      if ((self && p === dir) || p.startsWith(`${dir}/`)) tree.delete(p);
    }
  };
  for (const layer of manifest.layers) {
    for await (const e of readLayer(await store.target().fetch(layer))) {
      if (e.kind === "whiteout") {
        dropUnder(e.path, true);
        continue;
      }
      if (e.kind === "opaque") {
        dropUnder(e.path, false);
        continue;
      }
      if (e.kind !== "dir" && tree.get(e.path)?.kind === "dir") dropUnder(e.path, false);
      const entry: TreeEntry = {
        kind: e.kind,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime: e.mtime,
      };
      if (e.kind === "file") {
        entry.digest = await sha256(new Uint8Array(await new Response(e.body).arrayBuffer()));
      }
      if (e.kind === "symlink" || e.kind === "hardlink") entry.target = e.target;
      tree.set(e.path, entry);
    }
  }
  return Object.fromEntries([...tree].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Writes files (`path: content`, or `[content, mode]`) under `dir`. */
export async function writeTree(
  dir: string,
  files: Record<string, string | [string, number]>,
): Promise<void> {
  for (const [rel, spec] of Object.entries(files)) {
    const [content, mode] = typeof spec === "string" ? [spec, 0o644] : spec;
    const path = join(dir, rel);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, content);
    await Deno.chmod(path, mode);
  }
}

/** sha256 of a text, as {@link TreeEntry.digest} holds it. */
export function textDigest(text: string): string {
  return digestOf(text);
}

/**
 * What a build makes of a context tree's times (`snapshot` shape): below
 * `registry/docker/registry/v2/` every entry carries `mtime` (see ./registry_layers.ts); the rest
 * keeps its own. Changes `tree` in place and returns it.
 */
export function withRegistryTimes<T extends { mtime?: number }>(
  tree: Record<string, T>,
  mtime = 0,
): Record<string, T> {
  for (const [path, entry] of Object.entries(tree)) {
    if (path.startsWith("registry/docker/registry/v2/") && entry.mtime !== undefined) {
      entry.mtime = mtime;
    }
  }
  return tree;
}
