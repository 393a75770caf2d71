/**
 * Random access to the members of a tar file: one pass over the headers (seeking past the data)
 * records where each member's bytes lie; members are then streamed straight from the file.
 *
 * A gzip-compressed archive (`.tar.gz`, sniffed from its first bytes, not its name) is first
 * decompressed to a temporary file, removed by {@link TarFile.close}. zstd and other compressions
 * are refused with an explanation.
 *
 * @module
 */
import { posix } from "node:path";
import { FerryError } from "../errors.ts";
import { openFileRange, readFull } from "../fs_util.ts";
import { readAll } from "../streams.ts";
import { BLOCK, decodeHeader, isZeroBlock, padding, parsePax, type TarEntryType } from "./tar.ts";

/** Where a member's data lies in the tar file. */
export interface TarMember {
  /** Normalised path (`blobs/sha256/<hex>`, no `./`, no trailing `/`). */
  name: string;
  type: TarEntryType;
  /** Offset of the data in the (decompressed) tar file. */
  offset: number;
  size: number;
  /** Target of a symlink or hard link. */
  linkname: string;
}

/** Largest PAX or GNU long-name record ferry reads. */
const MAX_META = 1024 * 1024;

/** Normalises a member path the way extraction would place it. */
export function normaliseMemberName(name: string): string {
  const norm = posix.normalize(`/${name}`).slice(1);
  return norm.replace(/\/+$/, "");
}

/** A scanned tar file. */
export class TarFile {
  /** The archive as named by the user. */
  readonly path: string;
  #dataPath: string;
  #tempDir?: string;
  #members: Map<string, TarMember>;

  private constructor(
    path: string,
    dataPath: string,
    members: Map<string, TarMember>,
    tempDir?: string,
  ) {
    this.path = path;
    this.#dataPath = dataPath;
    this.#members = members;
    this.#tempDir = tempDir;
  }

  /**
   * Scans the archive at `path`.
   *
   * @throws {FerryError} `not_found` for a missing file; `invalid_input` for something that is not
   * a tar; `unsupported` for compressions other than gzip.
   */
  static async open(path: string): Promise<TarFile> {
    let head: Uint8Array;
    try {
      const file = await Deno.open(path, { read: true });
      try {
        head = new Uint8Array(6);
        head = head.subarray(0, await readFull(file, head));
      } finally {
        file.close();
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new FerryError("not_found", `${path}: no such archive`);
      }
      if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.IsADirectory) {
        throw new FerryError("io", `${path}: cannot read the archive (${err.message})`);
      }
      throw err;
    }
    if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
      throw new FerryError(
        "unsupported",
        `${path}: zstd-compressed archives are not supported; decompress it first (zstd -d)`,
      );
    }
    if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) {
      throw new FerryError(
        "unsupported",
        `${path}: bzip2-compressed archives are not supported; decompress it first (bunzip2)`,
      );
    }
    if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a) {
      throw new FerryError(
        "unsupported",
        `${path}: xz-compressed archives are not supported; decompress it first (xz -d)`,
      );
    }
    if (head[0] === 0x1f && head[1] === 0x8b) {
      const tempDir = await Deno.makeTempDir({ prefix: "ferry-archive-" });
      const dataPath = `${tempDir}/archive.tar`;
      try {
        await gunzipTo(path, dataPath);
        return new TarFile(path, dataPath, await scan(dataPath, path), tempDir);
      } catch (err) {
        await Deno.remove(tempDir, { recursive: true }).catch(() => {});
        throw err;
      }
    }
    return new TarFile(path, path, await scan(path, path));
  }

  /** Every member, in archive order (later duplicates replace earlier ones). */
  members(): TarMember[] {
    return [...this.#members.values()];
  }

  /**
   * The regular file at `name`, following symlinks and hard links inside the archive (as the
   * classic `docker save` and skopeo's docker-archive `<id>/layer.tar` links need).
   */
  file(name: string): TarMember | undefined {
    let current = normaliseMemberName(name);
    for (let hops = 0; hops < 16; hops++) {
      const m = this.#members.get(current);
      if (!m) return undefined;
      if (m.type === "file") return m;
      if (m.type === "symlink") {
        const base = m.linkname.startsWith("/") ? "" : posix.dirname(m.name);
        const target = posix.normalize(`/${base}/${m.linkname}`);
        current = target.slice(1);
      } else if (m.type === "link") {
        current = normaliseMemberName(m.linkname);
      } else {
        return undefined;
      }
    }
    return undefined;
  }

  /** Streams a member's data from `offset`. */
  async open(
    member: TarMember,
    offset = 0,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> {
    if (offset < 0 || offset > member.size) {
      throw new FerryError(
        "invalid_input",
        `${this.path}:${member.name}: offset ${offset} out of range`,
      );
    }
    return await openFileRange(this.#dataPath, member.offset + offset, member.size - offset, {
      signal,
      where: `${this.path}:${member.name}`,
    });
  }

  /** Reads a small member whole. */
  async read(member: TarMember, limit: number): Promise<Uint8Array> {
    return await readAll(await this.open(member), limit, `${this.path}:${member.name}`);
  }

  /** The first `n` bytes of a member (for sniffing compression). */
  async head(member: TarMember, n: number): Promise<Uint8Array> {
    const file = await Deno.open(this.#dataPath, { read: true });
    try {
      await file.seek(member.offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(Math.min(n, member.size));
      return buf.subarray(0, await readFull(file, buf));
    } finally {
      file.close();
    }
  }

  /** Removes the decompressed copy, if one was made. */
  async close(): Promise<void> {
    if (this.#tempDir) await Deno.remove(this.#tempDir, { recursive: true }).catch(() => {});
    this.#tempDir = undefined;
  }
}

async function gunzipTo(source: string, dest: string): Promise<void> {
  const input = await Deno.open(source, { read: true });
  const output = await Deno.open(dest, { write: true, createNew: true });
  try {
    await input.readable.pipeThrough(new DecompressionStream("gzip")).pipeTo(output.writable);
  } catch (err) {
    throw new FerryError("invalid_input", `${source}: corrupt gzip data (${errorText(err)})`, {
      cause: err,
    });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads every header of the tar at `dataPath`, seeking past member data. */
async function scan(dataPath: string, where: string): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  const file = await Deno.open(dataPath, { read: true });
  try {
    const fileSize = (await file.stat()).size;
    const block = new Uint8Array(BLOCK);
    let at = 0;
    let paxPath: string | undefined;
    let paxSize: number | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    let globalPax: Record<string, string> = {};
    for (;;) {
      await file.seek(at, Deno.SeekMode.Start);
      const n = await readFull(file, block);
      if (n === 0) break; // tolerate archives without the end-of-archive marker
      if (n < BLOCK) {
        throw new FerryError("invalid_input", `${where}: truncated tar header at byte ${at}`);
      }
      if (isZeroBlock(block)) break;
      const header = decodeHeader(block, `${where}: byte ${at}`);
      const dataAt = at + BLOCK;
      const isMeta = "xgLK".includes(header.typeflag);
      let size = header.size;
      if (!isMeta) {
        const override = paxSize ??
          (globalPax.size !== undefined ? Number(globalPax.size) : undefined);
        if (override !== undefined) size = override;
      }
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new FerryError("invalid_input", `${where}: bad tar entry size at byte ${at}`);
      }
      if (dataAt + size > fileSize) {
        throw new FerryError(
          "invalid_input",
          `${where}: truncated archive (member ${header.name} ends past the end of the file)`,
        );
      }
      const next = dataAt + size + padding(size);
      const meta = async () => {
        if (size > MAX_META) {
          throw new FerryError("invalid_input", `${where}: oversized tar metadata at byte ${at}`);
        }
        const buf = new Uint8Array(size);
        await file.seek(dataAt, Deno.SeekMode.Start);
        await readFull(file, buf);
        return buf;
      };
      switch (header.typeflag) {
        case "x": {
          const pax = parsePax(await meta(), `${where}: byte ${at}`);
          paxPath = pax.path;
          paxSize = pax.size !== undefined ? Number(pax.size) : undefined;
          if (pax.linkpath !== undefined) longLink = pax.linkpath;
          break;
        }
        case "g":
          globalPax = { ...globalPax, ...parsePax(await meta(), `${where}: byte ${at}`) };
          break;
        case "L":
          longName = new TextDecoder().decode(await meta()).replace(/\0+$/, "");
          break;
        case "K":
          longLink = new TextDecoder().decode(await meta()).replace(/\0+$/, "");
          break;
        default: {
          const name = normaliseMemberName(paxPath ?? longName ?? header.name);
          if (name !== "") {
            members.set(name, {
              name,
              type: header.type,
              offset: dataAt,
              size: header.type === "file" ? size : 0,
              linkname: longLink ?? header.linkname,
            });
          }
          paxPath =
            paxSize =
            longName =
            longLink =
              undefined;
        }
      }
      at = next;
    }
  } finally {
    file.close();
  }
  return members;
}
