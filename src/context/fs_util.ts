/**
 * Directory listings for reading a build context: sorted bytewise so discovery output does not
 * depend on the file system's order. The general helpers are in `../fs_util.ts`.
 *
 * @module
 */

import { join } from "../path.ts";
import { isFile, isMissing } from "../fs_util.ts";
import { compareBytes } from "./collector.ts";

/** A directory entry, symlinks resolved. */
export interface ContextEntry {
  /** File name. */
  name: string;
  /** A regular file, or a symlink to one. */
  isFile: boolean;
  /** A directory, or a symlink to one. */
  isDirectory: boolean;
}

/** Entries of `dir`, sorted bytewise by name, symlinks resolved; `[]` when `dir` does not exist. */
export async function listDir(dir: string): Promise<ContextEntry[]> {
  const entries: ContextEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      let { isFile, isDirectory } = entry;
      if (entry.isSymlink) {
        try {
          const info = await Deno.stat(join(dir, entry.name));
          isFile = info.isFile;
          isDirectory = info.isDirectory;
        } catch {
          continue; // dangling link
        }
      }
      entries.push({ name: entry.name, isFile, isDirectory });
    }
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  return entries.sort((a, b) => compareBytes(a.name, b.name));
}

/**
 * Regular files under `root`, recursively, as `/`-separated paths relative to `root`, sorted.
 * Symlinked files are included; symlinked directories are not entered (they may loop).
 */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, prefix: string) {
    try {
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
        if (entry.isDirectory) await walk(path, rel);
        else if (entry.isFile || (entry.isSymlink && await isFile(path))) out.push(rel);
      }
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
  }
  await walk(root, "");
  return out.sort(compareBytes);
}
