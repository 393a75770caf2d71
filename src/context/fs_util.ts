/**
 * Small file-system helpers for reading a build context.
 *
 * @module
 */

import { join } from "node:path";
import { compareBytes } from "./collector.ts";

/** Whether `path` is a directory (following symlinks); false when it does not exist. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw err;
  }
}

/** Whether `path` is a regular file (following symlinks); false when it does not exist. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw err;
  }
}

/** The file's text, or `undefined` when it does not exist. A UTF-8 byte-order mark is dropped. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return stripBom(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw err;
  }
}

/** Drops a leading UTF-8 byte-order mark. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A directory entry, symlinks resolved. */
export interface DirEntry {
  /** File name. */
  name: string;
  /** A regular file, or a symlink to one. */
  isFile: boolean;
  /** A directory, or a symlink to one. */
  isDirectory: boolean;
}

/** Entries of `dir`, sorted bytewise by name, symlinks resolved; `[]` when `dir` does not exist. */
export async function listDir(dir: string): Promise<DirEntry[]> {
  const entries: DirEntry[] = [];
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
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return [];
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
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return;
      throw err;
    }
  }
  await walk(root, "");
  return out.sort(compareBytes);
}
