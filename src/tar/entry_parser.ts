/**
 * Interpreting tar headers one at a time into entries: PAX records (local and global) and GNU long
 * names applied to the entry they precede, within bounds on what a hostile archive can make ferry
 * hold: the number of headers, the length of names and the size of PAX and GNU metadata.
 *
 * {@link TarEntryParser} knows nothing of where the bytes come from; the streaming reader
 * (reader.ts) and the archive indexer (seeking in a file, or following a decompressing stream)
 * both feed it.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { decodeHeader, isMetaType, parsePax, type RawHeader, TYPE } from "./header.ts";

/** Bounds on what ferry accepts from a tar it reads. */
export interface TarLimits {
  /** Most headers, entries and PAX/GNU metadata headers together. */
  maxHeaders: number;
  /** Longest entry or link name, in UTF-8 bytes. */
  maxNameBytes: number;
  /**
   * Largest PAX extended header or GNU long-name record, and the most global PAX data kept in
   * all.
   */
  maxMetaBytes: number;
}

/**
 * The defaults: image archives and charts hold a few hundred to a few thousand headers (a blob, or
 * a layer directory of four files, each); names fit Linux's `PATH_MAX`; PAX records carry a path,
 * a size and times.
 */
export const DEFAULT_TAR_LIMITS: Readonly<TarLimits> = {
  maxHeaders: 100_000,
  maxNameBytes: 4096,
  maxMetaBytes: 64 * 1024,
};

/** An entry's header with its PAX and GNU long-name records applied. */
export interface TarEntryHeader extends RawHeader {
  /** The PAX records that apply to the entry (global ones, overridden by its own). */
  pax: Record<string, string>;
}

/** What follows a header. */
export type HeaderStep =
  /** Metadata of `size` bytes, to pass to {@link TarEntryParser.meta}. */
  | { meta: true; size: number }
  /** An entry whose header announces `size` bytes of data. */
  | { meta: false; size: number; header: TarEntryHeader };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Turns header blocks, one at a time, into entries. */
export class TarEntryParser {
  readonly #where: string;
  readonly #limits: TarLimits;
  #headers = 0;
  #pending?: { typeflag: string; at: number };
  #local: Record<string, string> = {};
  #global: Record<string, string> = {};
  #globalBytes = 0;
  #longName?: string;
  #longLink?: string;

  /** @param where names the archive in messages. */
  constructor(where: string, limits: TarLimits = DEFAULT_TAR_LIMITS) {
    this.#where = where;
    this.#limits = limits;
  }

  /**
   * Interprets the header block at byte `at` (not a zero block) whose data starts at `at + 512`.
   *
   * @throws {FerryError} `invalid_input` for a bad checksum, number or size; `too_large` past a
   * limit.
   */
  header(block: Uint8Array, at: number): HeaderStep {
    if (++this.#headers > this.#limits.maxHeaders) {
      throw new FerryError(
        "too_large",
        `${this.#where}: more than ${this.#limits.maxHeaders} tar headers; not an archive ferry reads`,
      );
    }
    const where = `${this.#where}: byte ${at}`;
    const raw = decodeHeader(block, where);
    if (isMetaType(raw.typeflag)) {
      if (raw.size > this.#limits.maxMetaBytes) {
        throw new FerryError(
          "too_large",
          `${this.#where}: tar metadata of ${raw.size} bytes at byte ${at} (at most ${this.#limits.maxMetaBytes})`,
        );
      }
      this.#pending = { typeflag: raw.typeflag, at };
      return { meta: true, size: raw.size };
    }
    const pax = hasKeys(this.#global) ? { ...this.#global, ...this.#local } : this.#local;
    const header: TarEntryHeader = { ...raw, pax };
    if (pax.path !== undefined) header.name = pax.path;
    else if (this.#longName !== undefined) header.name = this.#longName;
    if (pax.linkpath !== undefined) header.linkname = pax.linkpath;
    else if (this.#longLink !== undefined) header.linkname = this.#longLink;
    if (pax.size !== undefined) header.size = paxNumber(pax.size, "size", where);
    if (pax.uid !== undefined) header.uid = Number(pax.uid);
    if (pax.gid !== undefined) header.gid = Number(pax.gid);
    if (pax.uname !== undefined) header.uname = pax.uname;
    if (pax.gname !== undefined) header.gname = pax.gname;
    if (pax.mtime !== undefined) header.mtime = Math.floor(Number(pax.mtime));
    this.#checkName(header.name, at);
    this.#checkName(header.linkname, at);
    this.#local = {};
    this.#longName = this.#longLink = undefined;
    return { meta: false, size: header.size, header };
  }

  /**
   * Takes the data of the metadata header {@link header} just announced.
   *
   * @throws {FerryError} `invalid_input` for malformed PAX records; `too_large` past the bound on
   * global PAX data.
   */
  meta(data: Uint8Array): void {
    const pending = this.#pending;
    if (!pending) throw new Error("TarEntryParser.meta without a metadata header");
    this.#pending = undefined;
    const where = `${this.#where}: byte ${pending.at}`;
    switch (pending.typeflag) {
      case TYPE.paxLocal:
        this.#local = { ...this.#local, ...parsePax(data, where) };
        break;
      case TYPE.paxGlobal:
        this.#globalBytes += data.byteLength;
        if (this.#globalBytes > this.#limits.maxMetaBytes) {
          throw new FerryError(
            "too_large",
            `${where}: more than ${this.#limits.maxMetaBytes} bytes of global PAX headers`,
          );
        }
        this.#global = { ...this.#global, ...parsePax(data, where) };
        break;
      case TYPE.gnuLongName:
        this.#longName = cString(data);
        break;
      case TYPE.gnuLongLink:
        this.#longLink = cString(data);
        break;
    }
  }

  #checkName(name: string, at: number): void {
    const max = this.#limits.maxNameBytes;
    // A UTF-8 character is at most 3 bytes per UTF-16 unit: short names need no encoding.
    if (name.length > max / 3 && encoder.encode(name).byteLength > max) {
      throw new FerryError(
        "too_large",
        `${this.#where}: tar member name at byte ${at} is longer than ${max} bytes`,
      );
    }
  }
}

function hasKeys(record: Record<string, string>): boolean {
  for (const _ in record) return true;
  return false;
}

function cString(data: Uint8Array): string {
  const end = data.indexOf(0);
  return decoder.decode(end < 0 ? data : data.subarray(0, end));
}

function paxNumber(text: string, key: string, where: string): number {
  if (!/^\d{1,16}$/.test(text)) {
    throw new FerryError("invalid_input", `${where}: bad PAX ${key} ${JSON.stringify(text)}`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new FerryError("invalid_input", `${where}: bad PAX ${key} ${JSON.stringify(text)}`);
  }
  return value;
}
