/**
 * Writing layer tarballs: deterministic bytes, streamed, hashed on the way.
 *
 * The caller pipes `stream` into its store (a temp file, an upload) while the writer computes, in
 * the same pass, the diffID (SHA-256 of the tar) and the digest and size of the bytes it emits.
 * Nothing is read twice and memory stays bounded whatever the layer size.
 *
 * Every header field comes from the entry alone: ustar format, uname/gname empty, no atime or
 * ctime, device numbers 0, PAX records only when a value does not fit. Entries are written in the
 * order given ({@link walkTree} gives a canonical one); with the same entries and options the output
 * is the same on any machine.
 *
 * @module
 */
import { Sha256 } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { GzipEncoder } from "./gzip.ts";
import { normalizeLayerPath } from "./path.ts";
import { BLOCK, encodeHeader, type HeaderFields, padding, TYPE } from "./tar.ts";
import type { LayerEntry, LayerResult } from "./types.ts";

/** Options of {@link writeLayer}. */
export interface WriteLayerOptions {
  /** `gzip` (deterministic, parallel) or `none` (plain tar; digest equals diffID). */
  compression: "gzip" | "none";
  /**
   * Clamp for modification times (SOURCE_DATE_EPOCH): entries newer than this get this mtime.
   */
  mtime?: number;
  /** zlib level for gzip (default 6); keep it fixed for reproducible digests. */
  level?: number;
  /** Compression threads (default: CPUs, at most 8); output does not depend on it. */
  threads?: number;
}

/** A layer being written. */
export interface LayerWriter {
  /** The blob bytes; read it to the end (cancelling it aborts the writer). */
  stream: ReadableStream<Uint8Array>;
  /** Settles when the stream has ended: digests and sizes, or the error that broke the stream. */
  done: Promise<LayerResult>;
}

const END_OF_ARCHIVE = 2 * BLOCK;
/** Coalesce small tar pieces into chunks of about this size before hashing and emitting. */
const CHUNK = 256 * 1024;

function checkNumber(value: number, what: string, path: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new FerryError("invalid_input", `layer entry ${path}: invalid ${what} ${value}`);
  }
  return value;
}

/** Yields the tar stream of `entries`: headers, contents, padding, end-of-archive. */
async function* tarPieces(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  clamp: number | undefined,
): AsyncGenerator<Uint8Array> {
  for await (const entry of entries) {
    const path = normalizeLayerPath(entry.path);
    let mtime = Math.floor(entry.mtime ?? 0);
    if (clamp !== undefined && mtime > clamp) mtime = clamp;
    const fields: HeaderFields = {
      name: path,
      mode: entry.mode & 0o7777,
      uid: checkNumber(entry.uid ?? 0, "uid", path),
      gid: checkNumber(entry.gid ?? 0, "gid", path),
      size: 0,
      mtime,
      typeflag: TYPE.file,
      linkname: "",
    };
    switch (entry.kind) {
      case "dir":
        fields.name = path + "/";
        fields.typeflag = TYPE.dir;
        break;
      case "symlink":
        if (entry.target === "" || entry.target.includes("\0")) {
          throw new FerryError("invalid_input", `layer entry ${path}: invalid symlink target`);
        }
        fields.typeflag = TYPE.symlink;
        fields.linkname = entry.target;
        break;
      case "hardlink":
        fields.typeflag = TYPE.hardlink;
        fields.linkname = normalizeLayerPath(entry.target, `hard link target of ${path}`);
        break;
      case "file":
        fields.size = checkNumber(entry.size, "size", path);
        break;
      default:
        throw new FerryError(
          "invalid_input",
          `layer entry ${path}: unknown kind ${(entry as { kind: string }).kind}`,
        );
    }
    yield encodeHeader(fields);
    if (entry.kind !== "file" || entry.size === 0) continue;
    if (!entry.open) {
      throw new FerryError(
        "invalid_input",
        `layer entry ${path}: no content for ${entry.size} bytes`,
      );
    }
    let written = 0;
    const content = await entry.open();
    try {
      for await (const chunk of content) {
        written += chunk.byteLength;
        if (written > entry.size) {
          throw new FerryError(
            "conflict",
            `${path}: content is larger than the ${entry.size} bytes announced (file changed while building?)`,
          );
        }
        yield chunk;
      }
    } finally {
      // Releases the source when the consumer stopped early or the size check failed.
      await content.cancel().catch(() => {});
    }
    if (written !== entry.size) {
      throw new FerryError(
        "conflict",
        `${path}: content is ${written} bytes, ${entry.size} announced (file changed while building?)`,
      );
    }
    const pad = padding(entry.size);
    if (pad.byteLength > 0) yield pad;
  }
  yield new Uint8Array(END_OF_ARCHIVE);
}

/** Groups small pieces into chunks of about {@link CHUNK} bytes; large pieces pass unchanged. */
async function* coalesce(pieces: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
  let buffer = new Uint8Array(CHUNK);
  let fill = 0;
  for await (const piece of pieces) {
    if (piece.byteLength >= CHUNK) {
      if (fill > 0) {
        yield buffer.slice(0, fill);
        fill = 0;
      }
      yield piece;
      continue;
    }
    if (fill + piece.byteLength > CHUNK) {
      yield buffer.slice(0, fill);
      buffer = new Uint8Array(CHUNK);
      fill = 0;
    }
    buffer.set(piece, fill);
    fill += piece.byteLength;
  }
  if (fill > 0) yield buffer.slice(0, fill);
}

/**
 * Writes a layer tarball.
 *
 * ```ts
 * const layer = writeLayer(walkTree(dir, "opt/app"), { compression: "gzip", mtime: epoch });
 * await layer.stream.pipeTo(file.writable);
 * const { digest, size, diffId } = await layer.done;
 * ```
 *
 * @throws {FerryError} through the stream and `done`: `invalid_input` for bad paths, `conflict`
 *   when a file's content does not match its announced size.
 */
export function writeLayer(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  options: WriteLayerOptions,
): LayerWriter {
  if (options.compression !== "gzip" && options.compression !== "none") {
    throw new FerryError("invalid_input", `unknown layer compression ${options.compression}`);
  }
  const clamp = options.mtime === undefined ? undefined : Math.floor(options.mtime);
  const diff = new Sha256();
  const blob = new Sha256();
  const gzip = options.compression === "gzip"
    ? new GzipEncoder({ level: options.level, threads: options.threads })
    : undefined;
  const tar = coalesce(tarPieces(entries, clamp));

  async function* produce(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of tar) {
        diff.update(chunk);
        if (!gzip) {
          yield chunk;
          continue;
        }
        gzip.write(chunk);
        for (;;) {
          for (const out of gzip.takeReady()) yield out;
          // Bounded memory: wait for the oldest block when too many are in flight.
          if (gzip.backlog < gzip.maxBacklog) break;
          await gzip.waitOldest();
        }
      }
      if (gzip) { for (const out of await gzip.finish()) yield out; }
    } finally {
      gzip?.close();
      await tar.return(undefined);
    }
  }

  const output = produce();
  let resolveDone!: (r: LayerResult) => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<LayerResult>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // Callers that only watch the stream must not get an unhandled rejection from `done`.
  done.catch(() => {});

  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: finished } = await output.next();
        if (finished) {
          controller.close();
          const diffId = diff.digest();
          const size = blob.size;
          resolveDone({
            diffId,
            uncompressedSize: diff.size,
            digest: gzip ? blob.digest() : diffId,
            size: gzip ? size : diff.size,
          });
          return;
        }
        if (gzip) blob.update(value);
        controller.enqueue(value);
      } catch (err) {
        controller.error(err);
        rejectDone(err);
      }
    },
    async cancel(reason) {
      rejectDone(new FerryError("io", `layer writing cancelled: ${reason ?? "no reason"}`));
      await output.return(undefined);
    },
  }, { highWaterMark: 0 });
  return { stream, done };
}
