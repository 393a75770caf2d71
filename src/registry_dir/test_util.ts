/**
 * Test helpers for registry directories: a recording content source and a tree lister. Used by
 * the unit tests here and by the interop tests; test images come from `tests/support/images.ts`.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import type { ContentSource } from "../store.ts";

/** A content source that records the offsets it was asked for and yields small chunks. */
export function recordingSource(
  bytes: Uint8Array,
  chunkSize = 1000,
): { source: ContentSource; offsets: number[] } {
  const offsets: number[] = [];
  const source: ContentSource = (offset) => {
    offsets.push(offset);
    let at = offset;
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.byteLength) return controller.close();
          controller.enqueue(bytes.slice(at, at + chunkSize));
          at += chunkSize;
        },
      }),
    );
  };
  return { source, offsets };
}

/** One entry of a listed tree. */
export interface TreeEntry {
  type: "dir" | "file";
  mode: number;
  /** Content of files up to 100 bytes (link files), as text. */
  text?: string;
  size?: number;
}

/** Every path under `dir` (relative, sorted) with type, permission bits and small contents. */
export async function listTree(dir: string): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (path: string, rel: string) => {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      const r = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const info = await Deno.lstat(full);
      const mode = (info.mode ?? 0) & 0o7777;
      if (info.isDirectory) {
        out.set(r, { type: "dir", mode });
        await walk(full, r);
      } else {
        const e: TreeEntry = { type: "file", mode, size: info.size };
        if (info.size <= 100) e.text = await Deno.readTextFile(full);
        out.set(r, e);
      }
    }
  };
  await walk(dir, "");
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Relative paths of the blob data file and link files a digest gets in the v2 tree. */
export function blobDataPath(digest: Digest): string {
  const hex = digest.slice(7);
  return `blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
}
