/**
 * Indexing a tar file's headers into members, with bounds on what a hostile archive can make
 * ferry hold: the number of headers, the length of names and the size of PAX and GNU metadata.
 *
 * {@link TarIndexer} interprets one header at a time and is shared by the two ways ferry reads a
 * tar: seeking from header to header in a plain file, and {@link TarStreamScanner}, which follows
 * a stream (an archive being decompressed) and checks every header as it goes by, so a stream that
 * is not a tar is refused after its first 512 bytes.
 *
 * @module
 */
import { posix } from "node:path";
import { FerryError } from "../errors.ts";
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

/** Bounds on what ferry accepts from a tar it indexes. */
export interface TarLimits {
  /** Most headers, members and PAX/GNU metadata headers together. */
  maxHeaders: number;
  /** Longest member or link name, in UTF-8 bytes. */
  maxNameBytes: number;
  /**
   * Largest PAX extended header or GNU long-name record, and the most global PAX data kept in
   * all.
   */
  maxMetaBytes: number;
}

/**
 * The defaults: image archives hold a few hundred to a few thousand headers (a blob, or a layer
 * directory of four files, each); names fit Linux's `PATH_MAX`; PAX records of image archives
 * carry a path, a size and times.
 */
export const DEFAULT_TAR_LIMITS: Readonly<TarLimits> = {
  maxHeaders: 100_000,
  maxNameBytes: 4096,
  maxMetaBytes: 64 * 1024,
};

/** Normalises a member path the way extraction would place it. */
export function normaliseMemberName(name: string): string {
  const norm = posix.normalize(`/${name}`).slice(1);
  return norm.replace(/\/+$/, "");
}

/** What follows a header. */
export interface HeaderStep {
  /** Bytes of data after the header block. */
  size: number;
  /** Whether that data is metadata to pass to {@link TarIndexer.meta}; otherwise it is skipped. */
  meta: boolean;
}

const encoder = new TextEncoder();

/** Turns headers, one at a time, into members. */
export class TarIndexer {
  /** Members by normalised name (a later duplicate replaces an earlier one). */
  readonly members: Map<string, TarMember> = new Map();
  #where: string;
  #limits: TarLimits;
  #headers = 0;
  #pending?: { typeflag: string; at: number };
  #paxPath?: string;
  #paxSize?: number;
  #longName?: string;
  #longLink?: string;
  #globalPax: Record<string, string> = {};
  #globalBytes = 0;

  constructor(where: string, limits: TarLimits = DEFAULT_TAR_LIMITS) {
    this.#where = where;
    this.#limits = limits;
  }

  /**
   * Interprets the header block at byte `at` (not a zero block) whose data starts at `at + 512`.
   *
   * @throws {FerryError} `invalid_input` for a bad checksum or size; `too_large` past a limit.
   */
  header(block: Uint8Array, at: number): HeaderStep {
    if (++this.#headers > this.#limits.maxHeaders) {
      throw new FerryError(
        "too_large",
        `${this.#where}: more than ${this.#limits.maxHeaders} tar headers; not an image archive ferry reads`,
      );
    }
    const header = decodeHeader(block, `${this.#where}: byte ${at}`);
    const isMeta = "xgLK".includes(header.typeflag);
    let size = header.size;
    if (!isMeta) {
      const override = this.#paxSize ?? this.#globalSize(at);
      if (override !== undefined) size = override;
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new FerryError("invalid_input", `${this.#where}: bad tar entry size at byte ${at}`);
    }
    if (isMeta) {
      if (size > this.#limits.maxMetaBytes) {
        throw new FerryError(
          "too_large",
          `${this.#where}: tar metadata of ${size} bytes at byte ${at} (at most ${this.#limits.maxMetaBytes})`,
        );
      }
      this.#pending = { typeflag: header.typeflag, at };
      return { size, meta: true };
    }
    const name = normaliseMemberName(this.#paxPath ?? this.#longName ?? header.name);
    const linkname = this.#longLink ?? header.linkname;
    this.#checkName(name, at);
    this.#checkName(linkname, at);
    if (name !== "") {
      this.members.set(name, {
        name,
        type: header.type,
        offset: at + BLOCK,
        size: header.type === "file" ? size : 0,
        linkname,
      });
    }
    this.#paxPath =
      this.#paxSize =
      this.#longName =
      this.#longLink =
        undefined;
    return { size, meta: false };
  }

  /** Takes the data of the metadata header {@link header} just announced. */
  meta(data: Uint8Array): void {
    const pending = this.#pending;
    if (!pending) throw new Error("TarIndexer.meta without a metadata header");
    this.#pending = undefined;
    const where = `${this.#where}: byte ${pending.at}`;
    switch (pending.typeflag) {
      case "x": {
        const pax = parsePax(data, where);
        this.#paxPath = pax.path;
        this.#paxSize = pax.size === undefined ? undefined : paxNumber(pax.size, where);
        if (pax.linkpath !== undefined) this.#longLink = pax.linkpath;
        break;
      }
      case "g":
        this.#globalBytes += data.byteLength;
        if (this.#globalBytes > this.#limits.maxMetaBytes) {
          throw new FerryError(
            "too_large",
            `${where}: more than ${this.#limits.maxMetaBytes} bytes of global PAX headers`,
          );
        }
        this.#globalPax = { ...this.#globalPax, ...parsePax(data, where) };
        break;
      case "L":
        this.#longName = new TextDecoder().decode(data).replace(/\0+$/, "");
        break;
      case "K":
        this.#longLink = new TextDecoder().decode(data).replace(/\0+$/, "");
        break;
    }
  }

  #globalSize(at: number): number | undefined {
    const size = this.#globalPax.size;
    return size === undefined ? undefined : paxNumber(size, `${this.#where}: byte ${at}`);
  }

  #checkName(name: string, at: number): void {
    const max = this.#limits.maxNameBytes;
    if (name.length > max / 3 && encoder.encode(name).byteLength > max) {
      throw new FerryError(
        "too_large",
        `${this.#where}: tar member name at byte ${at} is longer than ${max} bytes`,
      );
    }
  }
}

function paxNumber(text: string, where: string): number {
  if (!/^\d{1,16}$/.test(text)) {
    throw new FerryError("invalid_input", `${where}: bad PAX size ${JSON.stringify(text)}`);
  }
  return Number(text);
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
