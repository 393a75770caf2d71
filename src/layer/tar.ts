/**
 * Tar headers: writing fixed, reproducible ustar headers (PAX records only when a value does not
 * fit), and reading ustar, PAX and GNU headers.
 *
 * @module
 */

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

/** The fields ferry writes for one entry. */
export interface HeaderFields {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
}

const encoder = new TextEncoder();
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

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

/** A ustar header block; numeric values must already fit. */
function ustarBlock(f: HeaderFields, name: Uint8Array, linkname: Uint8Array): Uint8Array {
  const b = new Uint8Array(BLOCK);
  putBytes(b, 0, 100, name);
  putOctal(b, 100, 8, f.mode);
  putOctal(b, 108, 8, f.uid);
  putOctal(b, 116, 8, f.gid);
  putOctal(b, 124, 12, f.size);
  putOctal(b, 136, 12, f.mtime);
  b[156] = f.typeflag.charCodeAt(0);
  putBytes(b, 157, 100, linkname);
  putBytes(b, 257, 6, encoder.encode("ustar\0"));
  putBytes(b, 263, 2, encoder.encode("00"));
  // uname, gname and prefix stay empty; device numbers are zero.
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

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.byteLength / BLOCK) * BLOCK);
  out.set(data);
  return out;
}

/**
 * Encodes the header of one entry: a single ustar block, preceded by a PAX extended header only
 * when the name or link name is longer than 100 bytes or not ASCII, or a number does not fit its
 * octal field. Every field is fixed by `f` alone, so equal input gives equal bytes.
 */
export function encodeHeader(f: HeaderFields): Uint8Array {
  const name = encoder.encode(f.name);
  const linkname = encoder.encode(f.linkname);
  const records: [string, string][] = [];
  const fields = { ...f };
  if (name.byteLength > 100 || !isAscii(name)) records.push(["path", f.name]);
  if (linkname.byteLength > 100 || !isAscii(linkname)) records.push(["linkpath", f.linkname]);
  if (f.size > MAX_OCTAL_11) {
    records.push(["size", String(f.size)]);
    fields.size = 0;
  }
  if (f.mtime > MAX_OCTAL_11 || f.mtime < 0) {
    records.push(["mtime", String(f.mtime)]);
    fields.mtime = 0;
  }
  if (f.uid > MAX_OCTAL_7) {
    records.push(["uid", String(f.uid)]);
    fields.uid = 0;
  }
  if (f.gid > MAX_OCTAL_7) {
    records.push(["gid", String(f.gid)]);
    fields.gid = 0;
  }
  const nameField = records.some(([k]) => k === "path") ? asciiFallback(f.name) : name;
  const linkField = records.some(([k]) => k === "linkpath") ? asciiFallback(f.linkname) : linkname;
  const main = ustarBlock(fields, nameField, linkField);
  if (records.length === 0) return main;
  records.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const data = encoder.encode(records.map(([k, v]) => paxRecord(k, v)).join(""));
  const base = f.name.replace(/\/+$/, "").split("/").pop() ?? "";
  const paxHeader = ustarBlock(
    {
      name: "",
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: data.byteLength,
      mtime: 0,
      typeflag: TYPE.paxLocal,
      linkname: "",
    },
    asciiFallback(`PaxHeaders.0/${base}`),
    new Uint8Array(0),
  );
  const out = new Uint8Array(BLOCK + padded(data).byteLength + BLOCK);
  out.set(paxHeader, 0);
  out.set(data, BLOCK);
  out.set(main, out.byteLength - BLOCK);
  return out;
}

/** Zero bytes that pad `size` bytes of content to a whole block. */
export function padding(size: number): Uint8Array {
  const rest = size % BLOCK;
  return new Uint8Array(rest === 0 ? 0 : BLOCK - rest);
}

/** A raw header as read, before PAX and GNU long-name records are applied. */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
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
function numeric(block: Uint8Array, offset: number, width: number): number {
  const field = block.subarray(offset, offset + width);
  if (field[0] & 0x80) {
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.byteLength; i++) value = value * 256 + field[i];
    return value;
  }
  const text = decoder.decode(field).replace(/[\0 ]+$/, "").replace(/^[ \0]+/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`invalid number ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** True for an all-zero block (end of archive). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

/**
 * Decodes a header block; throws on a bad checksum or malformed number.
 * The ustar `prefix` is joined to the name for POSIX archives (not for old GNU ones).
 */
export function decodeHeader(block: Uint8Array): RawHeader {
  const stored = numeric(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) throw new Error("tar header checksum mismatch");
  const magic = decoder.decode(block.subarray(257, 265));
  let name = cString(block, 0, 100);
  if (magic.startsWith("ustar\0")) {
    const prefix = cString(block, 345, 155);
    if (prefix !== "") name = `${prefix}/${name}`;
  }
  const typeflag = block[156] === 0 ? TYPE.file : String.fromCharCode(block[156]);
  return {
    name,
    mode: numeric(block, 100, 8),
    uid: numeric(block, 108, 8),
    gid: numeric(block, 116, 8),
    size: numeric(block, 124, 12),
    mtime: numeric(block, 136, 12),
    typeflag,
    linkname: cString(block, 157, 100),
    uname: cString(block, 265, 32),
    gname: cString(block, 297, 32),
    devmajor: numeric(block, 329, 8),
    devminor: numeric(block, 337, 8),
  };
}

/** Parses PAX extended header records. */
export function parsePaxRecords(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.byteLength) {
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    if (space < 0) throw new Error("malformed PAX record");
    const len = Number(decoder.decode(data.subarray(at, space)));
    if (!Number.isInteger(len) || len <= 0 || at + len > data.byteLength) {
      throw new Error("malformed PAX record length");
    }
    const record = decoder.decode(data.subarray(space + 1, at + len - 1));
    const eq = record.indexOf("=");
    if (eq < 0) throw new Error("malformed PAX record");
    out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}
