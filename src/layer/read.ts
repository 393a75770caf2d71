/**
 * Reading layer tarballs (gzip, zstd or plain, sniffed from the first bytes), including PAX and GNU
 * long names and OCI whiteouts.
 *
 * @module
 */
import zlib from "node:zlib";
import { Readable } from "node:stream";
import { FerryError } from "../errors.ts";
import { normalizeLayerPath } from "./path.ts";
import { BLOCK, decodeHeader, isZeroBlock, parsePaxRecords, type RawHeader, TYPE } from "./tar.ts";
import type { ReadEntry } from "./types.ts";

/** Options of {@link readLayer}. */
export interface ReadLayerOptions {
  /** Names the layer in messages (a digest, a file name). */
  where?: string;
}

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE = ".wh..wh..opq";
const MAX_META = 1 << 20;

/** Buffered reads of exact byte counts from a stream. */
class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #offset = 0;
  #eof = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Makes bytes available; false at end of stream. */
  async #fill(): Promise<boolean> {
    while (this.#offset >= this.#chunk.byteLength) {
      if (this.#eof) return false;
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#eof = true;
        return false;
      }
      this.#chunk = value;
      this.#offset = 0;
    }
    return true;
  }

  /** Up to `max` bytes (at least one), or null at end of stream. */
  async some(max: number): Promise<Uint8Array | null> {
    if (!(await this.#fill())) return null;
    const n = Math.min(max, this.#chunk.byteLength - this.#offset);
    const out = this.#chunk.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /** Exactly `n` bytes; null when the stream ends before the first byte; throws when cut short. */
  async exact(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const part = await this.some(n - got);
      if (part === null) {
        if (got === 0) return null;
        throw new Error(`unexpected end of archive (${got} of ${n} bytes)`);
      }
      out.set(part, got);
      got += part.byteLength;
    }
    return out;
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const part = await this.some(left);
      if (part === null) throw new Error("unexpected end of archive");
      left -= part.byteLength;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** Peeks the first bytes of a stream and returns them with a stream that still starts there. */
async function sniff(
  stream: ReadableStream<Uint8Array>,
): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < 4) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  const head = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    head.set(c, at);
    at += c.byteLength;
  }
  let first = true;
  const rest = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (first) {
        first = false;
        if (head.byteLength > 0) {
          controller.enqueue(head);
          return;
        }
      }
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { head, stream: rest };
}

/** Pipes a web stream through a node:zlib decompressor (gunzip also reads multi-member gzip). */
function nodeDecompress(
  stream: ReadableStream<Uint8Array>,
  decoder: import("node:stream").Transform,
): ReadableStream<Uint8Array> {
  const source = Readable.fromWeb(stream as import("node:stream/web").ReadableStream);
  source.on("error", (err) => decoder.destroy(err));
  return Readable.toWeb(source.pipe(decoder)) as unknown as ReadableStream<Uint8Array>;
}

/** The layer's tar stream, decompressed according to its magic bytes. */
async function decompressed(
  stream: ReadableStream<Uint8Array>,
): Promise<ReadableStream<Uint8Array>> {
  const { head, stream: all } = await sniff(stream);
  if (head[0] === 0x1f && head[1] === 0x8b) return nodeDecompress(all, zlib.createGunzip());
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    return nodeDecompress(all, zlib.createZstdDecompress());
  }
  return all;
}

function classify(path: string): { kind: "whiteout" | "opaque"; path: string } | undefined {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "" : path.slice(0, slash);
  const base = path.slice(slash + 1);
  if (base === OPAQUE) {
    if (dir === "") throw new Error("opaque whiteout at the layer root");
    return { kind: "opaque", path: dir };
  }
  if (base.startsWith(WHITEOUT_PREFIX) && !base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) {
    const name = base.slice(WHITEOUT_PREFIX.length);
    return { kind: "whiteout", path: dir === "" ? name : `${dir}/${name}` };
  }
  return undefined;
}

/**
 * Iterates the entries of a layer blob. File contents are streamed: read `body` before asking for
 * the next entry (what is left unread is skipped). Paths are normalised and entries whose path
 * or hard-link target would leave the root are refused.
 *
 * @throws {FerryError} `invalid_input` for a malformed archive, `unsupported` for sparse files.
 */
export async function* readLayer(
  stream: ReadableStream<Uint8Array>,
  options: ReadLayerOptions = {},
): AsyncGenerator<ReadEntry> {
  const where = options.where ?? "layer";
  type Code = "invalid_input" | "unsupported";
  const fail: (message: string, code?: Code) => never = (message, code = "invalid_input") => {
    throw new FerryError(code, `${where}: ${message}`);
  };
  const reader = new ByteReader(await decompressed(stream));
  let global: Record<string, string> = {};
  let local: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  let pendingSkip = 0;
  interface Body {
    remaining: number;
    pad: number;
    abandoned: boolean;
    stream?: ReadableStream<Uint8Array>;
  }
  let body: Body | undefined;
  try {
    for (;;) {
      if (body) {
        body.abandoned = body.remaining > 0;
        await reader.skip(body.remaining + body.pad);
        body.remaining = 0;
        body = undefined;
      }
      if (pendingSkip > 0) {
        await reader.skip(pendingSkip);
        pendingSkip = 0;
      }
      const block = await reader.exact(BLOCK);
      if (block === null || isZeroBlock(block)) return;
      let header: RawHeader;
      try {
        header = decodeHeader(block);
      } catch (err) {
        fail((err as Error).message);
      }
      const padded = Math.ceil(header.size / BLOCK) * BLOCK;
      const t = header.typeflag;
      if (
        t === TYPE.paxLocal || t === TYPE.paxGlobal || t === TYPE.gnuLongName ||
        t === TYPE.gnuLongLink
      ) {
        if (header.size > MAX_META) fail(`extended header of ${header.size} bytes is too large`);
        const data = await reader.exact(padded);
        if (data === null) fail("archive ends inside an extended header");
        const content = data.subarray(0, header.size);
        if (t === TYPE.paxLocal || t === TYPE.paxGlobal) {
          let records: Record<string, string>;
          try {
            records = parsePaxRecords(content);
          } catch (err) {
            fail((err as Error).message);
          }
          if (t === TYPE.paxGlobal) global = { ...global, ...records };
          else local = { ...local, ...records };
        } else {
          const end = content.indexOf(0);
          const text = new TextDecoder().decode(end < 0 ? content : content.subarray(0, end));
          if (t === TYPE.gnuLongName) longName = text;
          else longLink = text;
        }
        continue;
      }
      if (t === TYPE.gnuSparse || local["GNU.sparse.major"] !== undefined) {
        fail(`${header.name}: sparse files are not supported`, "unsupported");
      }
      const pax = { ...global, ...local };
      local = {};
      let name = pax.path ?? longName ?? header.name;
      const linkname = pax.linkpath ?? longLink ?? header.linkname;
      longName = undefined;
      longLink = undefined;
      const size = pax.size !== undefined ? Number(pax.size) : header.size;
      if (!Number.isSafeInteger(size) || size < 0) fail(`${name}: invalid size`);
      const dataBlocks = Math.ceil(size / BLOCK) * BLOCK;
      let isDir = t === TYPE.dir;
      if ((t === TYPE.file || t === TYPE.contiguous) && name.endsWith("/")) isDir = true;
      name = name.replace(/\/+$/, "");
      if (name === "" || name === ".") {
        // The root itself (`./`): nothing to extract.
        pendingSkip = t === TYPE.file || t === TYPE.contiguous ? dataBlocks : 0;
        continue;
      }
      let path: string;
      try {
        path = normalizeLayerPath(name);
      } catch (err) {
        fail((err as Error).message);
      }
      const base = {
        path,
        mode: header.mode & 0o7777,
        uid: pax.uid !== undefined ? Number(pax.uid) : header.uid,
        gid: pax.gid !== undefined ? Number(pax.gid) : header.gid,
        uname: pax.uname ?? header.uname,
        gname: pax.gname ?? header.gname,
        mtime: pax.mtime !== undefined ? Math.floor(Number(pax.mtime)) : header.mtime,
        pax,
      };
      if (isDir) {
        yield { ...base, kind: "dir" };
        continue;
      }
      switch (t) {
        case TYPE.symlink:
          yield { ...base, kind: "symlink", target: linkname };
          continue;
        case TYPE.hardlink: {
          let target: string;
          try {
            target = normalizeLayerPath(linkname, `hard link target of ${path}`);
          } catch (err) {
            fail((err as Error).message);
          }
          yield { ...base, kind: "hardlink", target };
          continue;
        }
        case TYPE.char:
        case TYPE.block:
        case TYPE.fifo:
          yield {
            ...base,
            kind: t === TYPE.char ? "char" : t === TYPE.block ? "block" : "fifo",
            devmajor: header.devmajor,
            devminor: header.devminor,
          };
          continue;
        case TYPE.file:
        case TYPE.contiguous: {
          let special: ReturnType<typeof classify>;
          try {
            special = classify(path);
          } catch (err) {
            fail((err as Error).message);
          }
          if (special) {
            pendingSkip = dataBlocks;
            yield { ...base, kind: special.kind, path: special.path };
            continue;
          }
          const current: Body = { remaining: size, pad: dataBlocks - size, abandoned: false };
          current.stream = new ReadableStream<Uint8Array>({
            async pull(controller) {
              if (current.abandoned) {
                controller.error(
                  new FerryError("io", `${where}: ${path}: content read after the next entry`),
                );
                return;
              }
              if (current.remaining === 0) {
                controller.close();
                return;
              }
              const part = await reader.some(current.remaining);
              if (part === null) {
                controller.error(
                  new FerryError(
                    "invalid_input",
                    `${where}: ${path}: archive ends inside the file`,
                  ),
                );
                return;
              }
              current.remaining -= part.byteLength;
              controller.enqueue(part);
              if (current.remaining === 0) controller.close();
            },
          }, { highWaterMark: 0 });
          body = current;
          yield { ...base, kind: "file", size, body: current.stream! };
          continue;
        }
        default:
          fail(`${path}: unsupported entry type ${JSON.stringify(t)}`, "unsupported");
      }
    }
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw new FerryError("invalid_input", `${where}: ${(err as Error).message}`, { cause: err });
  } finally {
    await reader.cancel();
  }
}
