/**
 * Tars packed and unpacked by GNU tar, an implementation independent of ferry's, for tests of
 * ferry's reader and writer. Test-only; not part of the public API.
 *
 * @module
 */
import { dirname, join } from "../path.ts";
import { encodeHeader, padding, TYPE } from "./mod.ts";

/** One entry of a tree to pack. */
export interface TreeEntry {
  /** Path as given to tar (`./dir/`, `a/b`); a trailing `/` makes a directory. */
  name: string;
  /** Content of a regular file. */
  data?: Uint8Array | string;
  /** Target of a symlink. */
  symlink?: string;
  /** Earlier entry this one is a hard link to. */
  hardlink?: string;
}

/** An entry as GNU tar lists and extracts it. */
export interface UnpackedEntry {
  /** Name as listed (directories end in `/`). */
  name: string;
  type: "file" | "directory" | "symlink" | "link" | "other";
  /** Content of a regular file. */
  data?: Uint8Array;
}

async function tar(args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  const child = new Deno.Command("tar", {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Written while the output is read: tar stops reading its input while its output is full.
  const writing = stdin
    ? (async () => {
      const writer = child.stdin.getWriter();
      await writer.write(stdin);
      await writer.close();
    })()
    : Promise.resolve();
  writing.catch(() => {}); // awaited below, after tar's exit status
  const out = await child.output();
  if (!out.success) throw new Error(`tar ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
  await writing;
  return out.stdout;
}

/**
 * Writes `entries` as files in a temporary directory and has GNU tar pack them, in the order
 * given, owned by 0:0 with mtime 0.
 */
export async function packWithGnuTar(
  entries: TreeEntry[],
  options: { gzip?: boolean; format?: "gnu" | "pax" } = {},
): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "ferry-gnu-tar-" });
  try {
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.name.endsWith("/")) {
        await Deno.mkdir(path, { recursive: true });
        continue;
      }
      await Deno.mkdir(dirname(path), { recursive: true });
      if (e.symlink !== undefined) await Deno.symlink(e.symlink, path);
      else if (e.hardlink !== undefined) await Deno.link(join(dir, e.hardlink), path);
      else if (typeof e.data === "string") await Deno.writeTextFile(path, e.data);
      else await Deno.writeFile(path, e.data ?? new Uint8Array(0));
    }
    return await tar([
      options.gzip ? "-czf" : "-cf",
      "-",
      `--format=${options.format ?? "gnu"}`,
      "--no-recursion",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mtime=@0",
      "-C",
      dir,
      "--",
      ...entries.map((e) => e.name),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The entries of a plain tar, in order, as GNU tar lists them, with the content of each regular
 * file as GNU tar extracts it (to stdout: names need not fit the file system).
 */
export async function unpackWithGnuTar(bytes: Uint8Array): Promise<UnpackedEntry[]> {
  const lines = (text: Uint8Array) => new TextDecoder().decode(text).split("\n").filter(Boolean);
  const names = lines(await tar(["-tf", "-"], bytes));
  const long = lines(await tar(["-tvf", "-"], bytes));
  if (long.length !== names.length) throw new Error("tar -t and tar -tv disagree");
  const out: UnpackedEntry[] = [];
  for (const [i, name] of names.entries()) {
    const type = TYPES[long[i][0]] ?? "other";
    const data = type === "file" ? await tar(["-xOf", "-", "--", name], bytes) : undefined;
    out.push({ name, type, data });
  }
  return out;
}

const TYPES: Record<string, UnpackedEntry["type"]> = {
  "-": "file",
  d: "directory",
  l: "symlink",
  h: "link",
};

/** The bytes of `parts`, one after the other. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** One entry as ferry writes it: header, data and padding. */
export function tarEntry(
  name: string,
  data: Uint8Array | string,
  typeflag: string = TYPE.file,
): Uint8Array {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return concat([
    encodeHeader({ name, size: bytes.byteLength, typeflag }),
    bytes,
    new Uint8Array(padding(bytes.byteLength)),
  ]);
}

/** A local PAX extended header holding one record, for the entry that follows it. */
export function paxEntry(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (len !== body.length + String(len).length) len = body.length + String(len).length;
  return tarEntry("PaxHeaders/x", `${len}${body}`, TYPE.paxLocal);
}

/** `bytes` gzip-compressed. */
export async function gzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
