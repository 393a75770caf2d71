/**
 * Random access to the members of a tar file: one pass over the headers (seeking past the data)
 * records where each member's bytes lie; members are then streamed straight from the file.
 *
 * A gzip-compressed archive (`.tar.gz`, sniffed from its first bytes, not its name) is decompressed
 * once into an unlinked temporary file, its headers checked on the way (see inflate.ts), and read
 * from there. zstd and other compressions are refused with an explanation. Every tar is indexed
 * within the bounds of tar_index.ts.
 *
 * @module
 */
import { dirname, normalize } from "../path.ts";
import { FerryError } from "../errors.ts";
import { openFileRange, readFull } from "../fs_util.ts";
import { readAll } from "../streams.ts";
import { type InflateOptions, inflateTar, SharedFile } from "./inflate.ts";
import { BLOCK, isZeroBlock, padding } from "../tar/mod.ts";
import {
  DEFAULT_TAR_LIMITS,
  normaliseMemberName,
  TarIndexer,
  type TarLimits,
  type TarMember,
} from "./tar_index.ts";

export { normaliseMemberName, type TarMember };

/** Options for {@link TarFile.open}. */
export interface TarFileOptions extends InflateOptions {
  /** Bounds on headers, names and metadata; default {@link DEFAULT_TAR_LIMITS}. */
  limits?: TarLimits;
}

/** A scanned tar file. */
export class TarFile {
  /** The archive as named by the user. */
  readonly path: string;
  /** The plain tar file, or the decompressed copy of a compressed one. */
  #data: string | SharedFile;
  #members: Map<string, TarMember>;

  private constructor(path: string, data: string | SharedFile, members: Map<string, TarMember>) {
    this.path = path;
    this.#data = data;
    this.#members = members;
  }

  /**
   * Scans the archive at `path`.
   *
   * @throws {FerryError} `not_found` for a missing file; `invalid_input` for something that is not
   * a tar; `unsupported` for compressions other than gzip; `too_large` past a limit.
   */
  static async open(path: string, options: TarFileOptions = {}): Promise<TarFile> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (err) {
      throw openError(path, err);
    }
    try {
      let head = new Uint8Array(6);
      try {
        head = head.subarray(0, await readFull(file, head));
      } catch (err) {
        throw openError(path, err);
      }
      checkCompression(path, head);
      if (head[0] === 0x1f && head[1] === 0x8b) {
        // Read on from the same descriptor: the file may be a pipe, and is not reopened by name.
        const { members, data } = await inflateTar(file, head, path, options);
        return new TarFile(path, data, members);
      }
      if (!(await file.stat()).isFile) {
        throw new FerryError(
          "invalid_input",
          `${path}: not a regular file; a plain tar must be seekable (a gzip-compressed one may come from a pipe)`,
        );
      }
    } finally {
      file.close();
    }
    return new TarFile(path, path, await scan(path, options.limits ?? DEFAULT_TAR_LIMITS));
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
        const base = m.linkname.startsWith("/") ? "" : dirname(m.name);
        const target = normalize(`/${base}/${m.linkname}`);
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
    if (this.#data instanceof SharedFile) {
      return this.#data.stream(member.offset + offset, member.size - offset, signal);
    }
    return await openFileRange(this.#data, member.offset + offset, member.size - offset, {
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
    const buf = new Uint8Array(Math.min(n, member.size));
    if (this.#data instanceof SharedFile) {
      return buf.subarray(0, await this.#data.readAt(member.offset, buf));
    }
    const file = await Deno.open(this.#data, { read: true });
    try {
      await file.seek(member.offset, Deno.SeekMode.Start);
      return buf.subarray(0, await readFull(file, buf));
    } finally {
      file.close();
    }
  }

  /** Frees the decompressed copy, if one was made. */
  async close(): Promise<void> {
    if (this.#data instanceof SharedFile) await this.#data.close();
  }
}

function openError(path: string, err: unknown): unknown {
  if (err instanceof Deno.errors.NotFound) {
    return new FerryError("not_found", `${path}: no such archive`);
  }
  if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.IsADirectory) {
    return new FerryError("io", `${path}: cannot read the archive (${err.message})`);
  }
  return err;
}

/** Refuses the compressions ferry does not read, by their magic bytes. */
function checkCompression(path: string, head: Uint8Array): void {
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
}

/** Reads every header of the plain tar at `path`, seeking past member data. */
async function scan(path: string, limits: TarLimits): Promise<Map<string, TarMember>> {
  const indexer = new TarIndexer(path, limits);
  const file = await Deno.open(path, { read: true });
  try {
    const fileSize = (await file.stat()).size;
    const block = new Uint8Array(BLOCK);
    let at = 0;
    for (;;) {
      await file.seek(at, Deno.SeekMode.Start);
      const n = await readFull(file, block);
      if (n === 0) break; // tolerate archives without the end-of-archive marker
      if (n < BLOCK) {
        throw new FerryError("invalid_input", `${path}: truncated tar header at byte ${at}`);
      }
      if (isZeroBlock(block)) break;
      const step = indexer.header(block, at);
      const dataAt = at + BLOCK;
      if (dataAt + step.size > fileSize) {
        throw new FerryError(
          "invalid_input",
          `${path}: truncated archive (the entry at byte ${at} ends past the end of the file)`,
        );
      }
      if (step.meta) {
        const buf = new Uint8Array(step.size);
        await readFull(file, buf);
        indexer.meta(buf);
      }
      at = dataAt + step.size + padding(step.size);
    }
  } finally {
    file.close();
  }
  return indexer.members;
}
