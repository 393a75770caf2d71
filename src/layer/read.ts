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
import { type TarLimits, TarReader, TYPE } from "../tar/mod.ts";
import type { ReadEntry } from "./types.ts";

/** Options of {@link readLayer}. */
export interface ReadLayerOptions {
  /** Names the layer in messages (a digest, a file name). */
  where?: string;
}

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE = ".wh..wh..opq";
/**
 * Layers are read as they always were: no bound on the number of entries or the length of names
 * (a layer of a large tree holds hundreds of thousands of files), 1 MiB at most per PAX or GNU
 * metadata record (and of global PAX records in all).
 */
const LAYER_TAR_LIMITS: Readonly<TarLimits> = {
  maxHeaders: Infinity,
  maxNameBytes: Infinity,
  maxMetaBytes: 1 << 20,
};

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
  const tar = new TarReader(await decompressed(stream), { where, limits: LAYER_TAR_LIMITS });
  try {
    for (let header = await tar.next(); header !== null; header = await tar.next()) {
      const t = header.typeflag;
      if (t === TYPE.gnuSparse || header.pax["GNU.sparse.major"] !== undefined) {
        fail(`${header.name}: sparse files are not supported`, "unsupported");
      }
      let name = header.name;
      let isDir = t === TYPE.dir;
      if ((t === TYPE.file || t === TYPE.contiguous) && name.endsWith("/")) isDir = true;
      name = name.replace(/\/+$/, "");
      // The root itself (`./`): nothing to extract.
      if (name === "" || name === ".") continue;
      let path: string;
      try {
        path = normalizeLayerPath(name);
      } catch (err) {
        fail((err as Error).message);
      }
      const base = {
        path,
        mode: header.mode & 0o7777,
        uid: header.uid,
        gid: header.gid,
        uname: header.uname,
        gname: header.gname,
        mtime: header.mtime,
        pax: header.pax,
      };
      if (isDir) {
        yield { ...base, kind: "dir" };
        continue;
      }
      switch (t) {
        case TYPE.symlink:
          yield { ...base, kind: "symlink", target: header.linkname };
          continue;
        case TYPE.hardlink: {
          let target: string;
          try {
            target = normalizeLayerPath(header.linkname, `hard link target of ${path}`);
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
          // A whiteout's data, if any, is skipped by the next call.
          if (special) {
            yield { ...base, kind: special.kind, path: special.path };
            continue;
          }
          yield { ...base, kind: "file", size: header.size, body: tar.body(path) };
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
    await tar.cancel();
  }
}
