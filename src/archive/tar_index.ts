/**
 * Indexing a tar file's headers into members, within the bounds of {@link TarLimits} on what a
 * hostile archive can make ferry hold: the number of headers, the length of names and the size of
 * PAX and GNU metadata.
 *
 * {@link TarIndexer} records where each member's data lies and is shared by the two ways ferry
 * reads an archive: seeking from header to header in a plain file, and {@link TarStreamScanner},
 * which follows a stream (an archive being decompressed) and checks every header as it goes by, so
 * a stream that is not a tar is refused after its first 512 bytes.
 *
 * @module
 */
import { normalize } from "../path.ts";
import { FerryError } from "../errors.ts";
import {
  BLOCK,
  DEFAULT_TAR_LIMITS,
  entryType,
  isZeroBlock,
  padding,
  TarEntryParser,
  type TarEntryType,
  type TarLimits,
} from "../tar/mod.ts";

export { DEFAULT_TAR_LIMITS, type TarLimits };

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

/** Normalises a member path the way extraction would place it. */
export function normaliseMemberName(name: string): string {
  const norm = normalize(`/${name}`).slice(1);
  return norm.replace(/\/+$/, "");
}

/** What follows a header. */
export interface HeaderStep {
  /** Bytes of data after the header block. */
  size: number;
  /** Whether that data is metadata to pass to {@link TarIndexer.meta}; otherwise it is skipped. */
  meta: boolean;
}

/** Turns headers, one at a time, into members. */
export class TarIndexer {
  /** Members by normalised name (a later duplicate replaces an earlier one). */
  readonly members: Map<string, TarMember> = new Map();
  readonly #parser: TarEntryParser;

  constructor(where: string, limits: TarLimits = DEFAULT_TAR_LIMITS) {
    this.#parser = new TarEntryParser(where, limits);
  }

  /**
   * Interprets the header block at byte `at` (not a zero block) whose data starts at `at + 512`.
   * Whatever its type, the data its size announces is passed over.
   *
   * @throws {FerryError} `invalid_input` for a bad checksum or size; `too_large` past a limit.
   */
  header(block: Uint8Array, at: number): HeaderStep {
    const step = this.#parser.header(block, at);
    if (step.meta) return step;
    const { header } = step;
    const name = normaliseMemberName(header.name);
    if (name !== "") {
      const type = entryType(header.typeflag);
      this.members.set(name, {
        name,
        type,
        offset: at + BLOCK,
        size: type === "file" ? step.size : 0,
        linkname: header.linkname,
      });
    }
    return { size: step.size, meta: false };
  }

  /** Takes the data of the metadata header {@link header} just announced. */
  meta(data: Uint8Array): void {
    this.#parser.meta(data);
  }
}

/**
 * Follows a tar as a stream of bytes, indexing every header as it passes: what the stream holds is
 * known to be a tar (so far) at every point, and its members are known when it ends.
 */
export class TarStreamScanner {
  #indexer: TarIndexer;
  #where: string;
  /** Bytes of the stream consumed. */
  #pos = 0;
  #state: "header" | "meta" | "skip" | "done" = "header";
  #buf = new Uint8Array(BLOCK);
  #filled = 0;
  /** In "skip": bytes still to pass; in "meta": padding to skip after the data. */
  #left = 0;

  constructor(where: string, limits?: TarLimits) {
    this.#where = where;
    this.#indexer = new TarIndexer(where, limits);
  }

  /** Whether the end-of-archive marker was seen; later bytes are padding and ignored. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** The members indexed so far. */
  get members(): Map<string, TarMember> {
    return this.#indexer.members;
  }

  /**
   * Consumes the next bytes of the stream, up to the end-of-archive marker; returns how many it
   * took (all of them unless the marker was among them).
   *
   * @throws {FerryError} as {@link TarIndexer.header} does, at the first bad header.
   */
  push(chunk: Uint8Array): number {
    let i = 0;
    while (i < chunk.byteLength && this.#state !== "done") {
      if (this.#state === "skip") {
        const n = Math.min(this.#left, chunk.byteLength - i);
        this.#left -= n;
        i += n;
        this.#pos += n;
        if (this.#left === 0) this.#state = "header";
        continue;
      }
      const n = Math.min(this.#buf.byteLength - this.#filled, chunk.byteLength - i);
      this.#buf.set(chunk.subarray(i, i + n), this.#filled);
      this.#filled += n;
      i += n;
      this.#pos += n;
      if (this.#filled < this.#buf.byteLength) continue;
      if (this.#state === "header") this.#onHeader();
      else this.#onMeta();
    }
    return i;
  }

  /**
   * The stream ended. An archive without the end-of-archive marker is accepted (as `scan` of a
   * plain file does); one cut inside a header or a member is not.
   *
   * @throws {FerryError} `invalid_input` for a truncated archive.
   */
  end(): void {
    if (this.#state === "done" || (this.#state === "header" && this.#filled === 0)) {
      this.#state = "done";
      return;
    }
    throw new FerryError(
      "invalid_input",
      `${this.#where}: truncated archive (the data ends inside a tar entry, at byte ${this.#pos})`,
    );
  }

  #onHeader(): void {
    const at = this.#pos - BLOCK;
    this.#filled = 0;
    if (isZeroBlock(this.#buf)) {
      this.#state = "done";
      return;
    }
    const step = this.#indexer.header(this.#buf, at);
    if (step.meta) {
      this.#state = "meta";
      this.#buf = new Uint8Array(step.size);
      this.#left = padding(step.size);
      if (step.size === 0) this.#onMeta();
      return;
    }
    this.#left = step.size + padding(step.size);
    this.#state = this.#left === 0 ? "header" : "skip";
  }

  #onMeta(): void {
    this.#indexer.meta(this.#buf);
    this.#buf = new Uint8Array(BLOCK);
    this.#filled = 0;
    this.#state = this.#left === 0 ? "header" : "skip";
  }
}
