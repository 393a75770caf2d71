/**
 * Reading a tar as a stream of entries, each header checked within {@link TarLimits} as it comes,
 * each entry's data streamed (never held whole) and skipped when left unread.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { BLOCK, hasData, isZeroBlock, padding } from "./header.ts";
import {
  DEFAULT_TAR_LIMITS,
  type TarEntryHeader,
  TarEntryParser,
  type TarLimits,
} from "./entry_parser.ts";

/** Options of {@link TarReader}. */
export interface TarReaderOptions {
  /** Names the archive in messages (a file name, a digest); default "tar". */
  where?: string;
  /** Bounds on headers, names and metadata; default {@link DEFAULT_TAR_LIMITS}. */
  limits?: TarLimits;
}

/** Buffered reads of exact byte counts from a stream. */
class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #offset = 0;
  #eof = false;
  /** Bytes consumed. */
  position = 0;

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
    this.position += n;
    return out;
  }

  /** Exactly `n` bytes; null when the stream ends before the first byte; short when cut. */
  async exact(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const part = await this.some(n - got);
      if (part === null) return got === 0 ? null : out.subarray(0, got);
      out.set(part, got);
      got += part.byteLength;
    }
    return out;
  }

  /** Skips `n` bytes; false when the stream ends first. */
  async skip(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      const part = await this.some(left);
      if (part === null) return false;
      left -= part.byteLength;
    }
    return true;
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/**
 * What the stream under the tar failed with, as ferry reports bad input: a decompressor's
 * complaint (`unexpected end of file`, `incorrect header check`) becomes one line naming the
 * archive, the entry and the offset. A `FerryError` (a size bound of the caller's) and an abort
 * pass as they are.
 */
function streamError(err: unknown, where: string, position: number): unknown {
  if (err instanceof FerryError || (err instanceof Error && err.name === "AbortError")) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FerryError(
    "invalid_input",
    `${where}: corrupt data after byte ${position} of the tar (${message})`,
    { cause: err },
  );
}

/** The data of the current entry. */
interface Body {
  remaining: number;
  pad: number;
  abandoned: boolean;
}

/**
 * Reads the entries of a (decompressed) tar stream in order. Call {@link next} for each entry and,
 * before the following call, {@link body} for its data if wanted; what is left unread is skipped.
 * Data follows the entry types that carry it (regular files and unknown types), as Go's
 * archive/tar reads them: a size on a link, directory or device header is ignored.
 */
export class TarReader {
  readonly #bytes: ByteReader;
  readonly #where: string;
  readonly #parser: TarEntryParser;
  #current?: Body;
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>, options: TarReaderOptions = {}) {
    this.#bytes = new ByteReader(stream);
    this.#where = options.where ?? "tar";
    this.#parser = new TarEntryParser(this.#where, options.limits ?? DEFAULT_TAR_LIMITS);
  }

  /**
   * The next entry's header, or null after the end-of-archive marker (or at the end of a stream
   * without one, as GNU tar allows).
   *
   * @throws {FerryError} `invalid_input` for a malformed or truncated archive; `too_large` past a
   * limit.
   */
  async next(): Promise<TarEntryHeader | null> {
    if (this.#done) return null;
    const current = this.#current;
    if (current) {
      this.#current = undefined;
      current.abandoned = current.remaining > 0;
      if (!(await this.#bytes.skip(current.remaining + current.pad))) throw this.#truncated();
      current.remaining = 0;
    }
    for (;;) {
      const at = this.#bytes.position;
      const block = await this.#bytes.exact(BLOCK);
      if (block === null || isZeroBlock(block)) {
        this.#done = true;
        return null;
      }
      if (block.byteLength < BLOCK) throw this.#truncated();
      const step = this.#parser.header(block, at);
      if (step.meta) {
        const want = step.size + padding(step.size);
        const data = await this.#bytes.exact(want);
        if (data === null || data.byteLength < want) throw this.#truncated();
        this.#parser.meta(data.subarray(0, step.size));
        continue;
      }
      const size = hasData(step.header.typeflag) ? step.size : 0;
      this.#current = { remaining: size, pad: padding(size), abandoned: false };
      return step.header;
    }
  }

  /**
   * The data of the entry {@link next} returned last, as a stream to read before the next call
   * (after it, the stream errors). `label` names the entry in messages.
   */
  body(label: string): ReadableStream<Uint8Array> {
    const current = this.#current;
    if (!current) throw new Error("TarReader.body without a current entry");
    const bytes = this.#bytes;
    const where = this.#where;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (current.abandoned) {
          controller.error(
            new FerryError("io", `${where}: ${label}: content read after the next entry`),
          );
          return;
        }
        if (current.remaining === 0) {
          controller.close();
          return;
        }
        let part: Uint8Array | null;
        try {
          part = await bytes.some(current.remaining);
        } catch (err) {
          // The consumer of a body reads it outside the loop over next(), where a caller turns
          // what the stream under the tar fails with into its own message: here it is bad input.
          controller.error(streamError(err, `${where}: ${label}`, bytes.position));
          return;
        }
        if (part === null) {
          controller.error(
            new FerryError("invalid_input", `${where}: ${label}: archive ends inside the file`),
          );
          return;
        }
        current.remaining -= part.byteLength;
        controller.enqueue(part);
        if (current.remaining === 0) controller.close();
      },
    }, { highWaterMark: 0 });
  }

  /** Stops reading, releasing the underlying stream. */
  async cancel(): Promise<void> {
    this.#done = true;
    await this.#bytes.cancel();
  }

  #truncated(): FerryError {
    return new FerryError(
      "invalid_input",
      `${this.#where}: truncated archive (unexpected end of archive at byte ${this.#bytes.position})`,
    );
  }
}
