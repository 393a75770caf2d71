/**
 * Helpers shared by the layer tests (not part of the module's API).
 *
 * @module
 */
import { join } from "../path.ts";
import { sha256 } from "../digest.ts";
import { tarSeconds } from "./walk.ts";

/** Reads a whole stream. */
export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Runs a command; returns its exit code and output. */
export async function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; stdin?: Uint8Array } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Read while writing: a child stops reading once its output pipe is full.
  const output = child.output();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const out = await output;
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Whether `cmd` can be run. */
export async function hasCommand(cmd: string, args = ["--version"]): Promise<boolean> {
  try {
    await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * A peer tool is needed: true when present; when absent, fails under CI=true and otherwise
 * reports the skip and returns false.
 */
export async function requirePeer(cmd: string, args?: string[]): Promise<boolean> {
  if (await hasCommand(cmd, args)) return true;
  if (Deno.env.get("CI") === "true") throw new Error(`${cmd} is required (CI=true)`);
  console.log(`${cmd} not found: skipped`);
  return false;
}

/** Names in the sample tree that exercise PAX (long, non-ASCII). */
export const LONG_NAME = "deep/" + "n".repeat(120) + "/" + "f".repeat(90) + ".txt";
export const UNICODE_NAME = "données/日本語.txt";

/**
 * Builds a tree with directories, files of several modes, an empty file and directory, relative
 * and absolute symlinks, a hard link pair, a long path and a non-ASCII name; every mtime = `mtime`.
 */
export async function buildSampleTree(root: string, mtime: number): Promise<void> {
  const file = async (rel: string, text: string, mode = 0o644) => {
    const p = join(root, rel);
    await Deno.mkdir(join(p, ".."), { recursive: true });
    await Deno.writeTextFile(p, text);
    await Deno.chmod(p, mode);
  };
  await file("bin/tool", "#!/bin/sh\necho tool\n", 0o755);
  await file("etc/config.yaml", "key: value\n", 0o600);
  await file("etc/empty", "");
  await file("registry/docker/registry/v2/blobs/data", "x".repeat(70_000));
  await file("a-b", "sorts before a/ by bytes\n");
  await file(LONG_NAME, "long\n");
  await file(UNICODE_NAME, "unicode\n");
  await Deno.mkdir(join(root, "empty-dir"), { recursive: true });
  await Deno.chmod(join(root, "empty-dir"), 0o700);
  await Deno.mkdir(join(root, "a"), { recursive: true });
  await file("a/inner", "inner\n");
  await Deno.symlink("../etc/config.yaml", join(root, "bin/rel-link"));
  await Deno.symlink("/etc/hostname", join(root, "bin/abs-link"));
  await Deno.link(join(root, "bin/tool"), join(root, "etc/tool-hardlink"));
  await touchAll(root, mtime);
}

/** Sets atime and mtime of everything below `root` (and `root`) without following symlinks. */
export async function touchAll(root: string, mtime: number): Promise<void> {
  for await (const e of Deno.readDir(root)) {
    const p = join(root, e.name);
    if (e.isDirectory) await touchAll(p, mtime);
    if (!e.isSymlink) await Deno.utime(p, mtime, mtime);
  }
  await Deno.utime(root, mtime, mtime);
}

/** One path of a {@link snapshot}. */
export interface Snap {
  type: "file" | "dir" | "symlink";
  mode: number;
  size?: number;
  digest?: string;
  target?: string;
  /** Index of the first path sharing this inode (hard links), else undefined. */
  linkedTo?: string;
  mtime?: number;
}

/**
 * Describes a tree: type, permission bits, content digest, symlink target, hard-link groups, and
 * with `mtimes` the modification times in the seconds a tar header of the path holds.
 */
export async function snapshot(
  root: string,
  options: { mtimes?: boolean } = {},
): Promise<Record<string, Snap>> {
  const out: Record<string, Snap> = {};
  const inodes = new Map<string, string>();
  async function walk(dir: string, rel: string) {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    names.sort();
    for (const name of names) {
      const p = join(dir, name);
      const r = rel === "" ? name : `${rel}/${name}`;
      const info = await Deno.lstat(p);
      const mode = (info.mode ?? 0) & 0o7777;
      const mtime = options.mtimes ? tarSeconds(info.mtime) : undefined;
      if (info.isSymlink) {
        out[r] = { type: "symlink", mode: 0, target: await Deno.readLink(p) };
      } else if (info.isDirectory) {
        out[r] = { type: "dir", mode, ...(mtime !== undefined ? { mtime } : {}) };
        await walk(p, r);
      } else {
        const key = `${info.dev}:${info.ino}`;
        const first = inodes.get(key);
        if (first === undefined) inodes.set(key, r);
        out[r] = {
          type: "file",
          mode,
          size: info.size,
          digest: await sha256(await Deno.readFile(p)),
          ...(first !== undefined ? { linkedTo: first } : {}),
          ...(mtime !== undefined ? { mtime } : {}),
        };
      }
    }
  }
  await walk(root, "");
  return out;
}
