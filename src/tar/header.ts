/**
 * Tar headers, written and read: reproducible ustar headers (with a PAX extended header only when a
 * value does not fit), and ustar, PAX and GNU headers as Go's archive/tar, GNU tar and bsdtar write
 * them.
 *
 * Only headers live here; data is streamed by the callers, which is what lets entries of many
 * gigabytes pass through in constant memory.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/** Size of a tar block. */
export const BLOCK = 512;

/** Type flags ferry writes or recognises. */
export const TYPE = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
  contiguous: "7",
  paxLocal: "x",
  paxGlobal: "g",
  gnuLongName: "L",
  gnuLongLink: "K",
  gnuSparse: "S",
} as const;

/** Entry kinds the archive reader distinguishes. */
export type TarEntryType = "file" | "directory" | "symlink" | "link" | "other";

/** The kind of entry a type flag names. */
export function entryType(typeflag: string): TarEntryType {
  switch (typeflag) {
    case TYPE.file:
    case TYPE.contiguous:
      return "file";
    case TYPE.dir:
      return "directory";
    case TYPE.symlink:
      return "symlink";
    case TYPE.hardlink:
      return "link";
    default:
      return "other";
  }
}

/** Whether a header of this type carries data: all but links, devices, FIFOs and directories. */
export function hasData(typeflag: string): boolean {
  return typeflag.length !== 1 || !"123456".includes(typeflag);
}

/** Whether a header of this type holds metadata for the next entry (PAX or GNU long names). */
export function isMetaType(typeflag: string): boolean {
  return typeflag === TYPE.paxLocal || typeflag === TYPE.paxGlobal ||
    typeflag === TYPE.gnuLongName || typeflag === TYPE.gnuLongLink;
}

/** The fields of one entry to write; what is left out is zero, empty or the usual mode. */
export interface HeaderFields {
  /** Path inside the archive; directories end in `/` by convention. */
  name: string;
  /** Data size in bytes; default 0. */
  size?: number;
  /** Type flag ({@link TYPE}); default a regular file. */
  typeflag?: string;
  /** Permission bits; default 0o755 for directories, 0o644 for the rest. */
  mode?: number;
  /** Default 0. */
  uid?: number;
  /** Default 0. */
  gid?: number;
  /** Modification time in seconds since the epoch; default 0 (reproducible archives). */
  mtime?: number;
  /** Target of a symlink or hard link; default empty. */
  linkname?: string;
}

const encoder = new TextEncoder();
const MAX_OCTAL_7 = 0o7777777;
/** Largest value 11 octal digits hold (a size of 8 GiB - 1). */
const MAX_OCTAL_11 = 0o77777777777;
const USTAR_MAGIC = encoder.encode("ustar\0");
const USTAR_VERSION = encoder.encode("00");

function isAscii(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b >= 0x80) return false;
  return true;
}

/** Writes `value` as zero-padded octal taking `width - 1` digits, then NUL. */
function putOctal(block: Uint8Array, offset: number, width: number, value: number): void {
  const text = value.toString(8).padStart(width - 1, "0");
  for (let i = 0; i < width - 1; i++) block[offset + i] = text.charCodeAt(i);
  block[offset + width - 1] = 0;
}

function putBytes(block: Uint8Array, offset: number, width: number, bytes: Uint8Array): void {
  block.set(bytes.subarray(0, width), offset);
}

/** The numeric fields and type a ustar block carries besides its names. */
type UstarFields = Pick<RawHeader, "mode" | "uid" | "gid" | "size" | "mtime" | "typeflag">;

/** A ustar header block; numeric values must already fit. */
function ustarBlock(f: UstarFields, name: Uint8Array, linkname: Uint8Array): Uint8Array {
  const b = new Uint8Array(BLOCK);
  putBytes(b, 0, 100, name);
  putOctal(b, 100, 8, f.mode);
  putOctal(b, 108, 8, f.uid);
  putOctal(b, 116, 8, f.gid);
  putOctal(b, 124, 12, f.size);
  putOctal(b, 136, 12, f.mtime);
  b[156] = f.typeflag.charCodeAt(0);
  putBytes(b, 157, 100, linkname);
  putBytes(b, 257, 6, USTAR_MAGIC);
  putBytes(b, 263, 2, USTAR_VERSION);
  // uname, gname and prefix stay empty; device numbers are zero, written as Go writes them.
  putOctal(b, 329, 8, 0);
  putOctal(b, 337, 8, 0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  putOctal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}

/** One PAX record `"<len> <key>=<value>\n"`, where len counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = encoder.encode(body).byteLength;
  let len = bodyLen + String(bodyLen).length;
  if (String(len).length !== String(bodyLen).length) len = bodyLen + String(len).length;
  return `${len}${body}`;
}

/** ASCII stand-in for a name that goes to a PAX record: non-ASCII becomes `_`, cut to 100 bytes. */
function asciiFallback(text: string): Uint8Array {
  return encoder.encode(text.replace(/[^\x20-\x7e]/g, "_").slice(0, 100));
}

/**
 * Encodes the header of one entry: a single ustar block, preceded by a PAX extended header only
 * when the name or link name is longer than 100 bytes or not ASCII, or a number does not fit its
 * octal field. Every field is fixed by `f` alone, so equal input gives equal bytes.
 *
 * @throws {RangeError} for a size that is not a non-negative safe integer.
 */
export function encodeHeader(f: HeaderFields): Uint8Array {
  const typeflag = f.typeflag ?? TYPE.file;
  const fields: UstarFields = {
    mode: f.mode ?? (typeflag === TYPE.dir ? 0o755 : 0o644),
    uid: f.uid ?? 0,
    gid: f.gid ?? 0,
    size: f.size ?? 0,
    mtime: f.mtime ?? 0,
    typeflag,
  };
  if (!Number.isSafeInteger(fields.size) || fields.size < 0) {
    throw new RangeError(`invalid tar entry size ${fields.size}`);
  }
  const linkText = f.linkname ?? "";
  const name = encoder.encode(f.name);
  const linkname = encoder.encode(linkText);
  const records: [string, string][] = [];
  if (name.byteLength > 100 || !isAscii(name)) records.push(["path", f.name]);
  if (linkname.byteLength > 100 || !isAscii(linkname)) records.push(["linkpath", linkText]);
  if (fields.size > MAX_OCTAL_11) {
    records.push(["size", String(fields.size)]);
    fields.size = 0;
  }
  if (fields.mtime > MAX_OCTAL_11 || fields.mtime < 0) {
    records.push(["mtime", String(fields.mtime)]);
    fields.mtime = 0;
  }
  if (fields.uid > MAX_OCTAL_7) {
    records.push(["uid", String(fields.uid)]);
    fields.uid = 0;
  }
  if (fields.gid > MAX_OCTAL_7) {
    records.push(["gid", String(fields.gid)]);
    fields.gid = 0;
  }
  if (records.length === 0) return ustarBlock(fields, name, linkname);
  const nameField = records.some(([k]) => k === "path") ? asciiFallback(f.name) : name;
  const linkField = records.some(([k]) => k === "linkpath") ? asciiFallback(linkText) : linkname;
  const main = ustarBlock(fields, nameField, linkField);
  records.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const data = encoder.encode(records.map(([k, v]) => paxRecord(k, v)).join(""));
  const base = f.name.replace(/\/+$/, "").split("/").pop() ?? "";
  const paxHeader = ustarBlock(
    { mode: 0o644, uid: 0, gid: 0, size: data.byteLength, mtime: 0, typeflag: TYPE.paxLocal },
    asciiFallback(`PaxHeaders.0/${base}`),
    new Uint8Array(0),
  );
  const out = new Uint8Array(BLOCK + data.byteLength + padding(data.byteLength) + BLOCK);
  out.set(paxHeader, 0);
  out.set(data, BLOCK);
  out.set(main, out.byteLength - BLOCK);
  return out;
}

/** Bytes of zero padding that follow `size` bytes of data, up to a whole block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end-of-archive marker: two zero blocks. */
export function endOfArchive(): Uint8Array {
  return new Uint8Array(BLOCK * 2);
}

/** True for an all-zero block (the end-of-archive marker). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

/** A header as read, before PAX and GNU long-name records are applied. */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** Type flag; an old-style NUL is read as {@link TYPE.file}. */
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

const decoder = new TextDecoder();

function cString(block: Uint8Array, offset: number, width: number): string {
  const field = block.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return decoder.decode(end < 0 ? field : field.subarray(0, end));
}

/** Parses an octal field, or GNU base-256 when the high bit of the first byte is set. */
function numeric(block: Uint8Array, offset: number, width: number, where: string): number {
  const field = block.subarray(offset, offset + width);
  if (field[0] & 0x80) {
    // Big-endian, the top bit of the first byte being the marker.
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.byteLength; i++) value = value * 256 + field[i];
    if (!Number.isSafeInteger(value)) {
      throw new FerryError("invalid_input", `${where}: tar number too large`);
    }
    return value;
  }
  const text = decoder.decode(field).replace(/[\0 ]+$/, "").replace(/^[ \0]+/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new FerryError(
      "invalid_input",
      `${where}: malformed tar header number ${JSON.stringify(text)}`,
    );
  }
  return parseInt(text, 8);
}

/**
 * Decodes a header block (not all zeros). The ustar `prefix` is joined to the name for POSIX
 * archives (not for old GNU ones, which use the field otherwise).
 *
 * @param where names the block in messages (`app.tar: byte 1024`).
 * @throws {FerryError} `invalid_input` for a bad checksum (not a tar, or a corrupt one) or a
 * malformed number.
 */
export function decodeHeader(block: Uint8Array, where: string): RawHeader {
  let stored: number;
  try {
    stored = numeric(block, 148, 8, where);
  } catch {
    stored = -1;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new FerryError("invalid_input", `${where}: not a tar archive (bad header checksum)`);
  }
  let name = cString(block, 0, 100);
  if (cString(block, 257, 6) === "ustar") {
    const prefix = cString(block, 345, 155);
    if (prefix !== "") name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: numeric(block, 100, 8, where),
    uid: numeric(block, 108, 8, where),
    gid: numeric(block, 116, 8, where),
    size: numeric(block, 124, 12, where),
    mtime: numeric(block, 136, 12, where),
    typeflag: block[156] === 0 ? TYPE.file : String.fromCharCode(block[156]),
    linkname: cString(block, 157, 100),
    uname: cString(block, 265, 32),
    gname: cString(block, 297, 32),
    devmajor: numeric(block, 329, 8, where),
    devminor: numeric(block, 337, 8, where),
  };
}

/**
 * Parses PAX extended header records (`<len> <key>=<value>\n`…); trailing NUL padding ends them.
 *
 * @throws {FerryError} `invalid_input` for a malformed record.
 */
export function parsePax(data: Uint8Array, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  const malformed = () => new FerryError("invalid_input", `${where}: malformed PAX header`);
  let at = 0;
  while (at < data.byteLength) {
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    if (space < 0 || space - at > 20) throw malformed();
    const digits = decoder.decode(data.subarray(at, space));
    const len = /^[0-9]+$/.test(digits) ? Number(digits) : NaN;
    if (!Number.isSafeInteger(len) || at + len > data.byteLength || space >= at + len) {
      throw malformed();
    }
    const record = decoder.decode(data.subarray(space + 1, at + len - 1));
    const eq = record.indexOf("=");
    if (eq <= 0) throw malformed();
    out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}
