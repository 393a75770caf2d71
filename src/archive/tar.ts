/**
 * Tar headers: writing ustar headers (with a PAX extended header when a name or size does not fit),
 * and reading ustar, PAX and GNU headers as written by Go's archive/tar, GNU tar and bsdtar.
 *
 * Only headers live here; data is streamed by the callers, which is what lets archive entries of
 * many gigabytes pass through in constant memory.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/** Tar block size. */
export const BLOCK = 512;

/** Largest size an ustar header's 11 octal digits hold (8 GiB - 1). */
const USTAR_MAX_SIZE = 0o77777777777;

/** Entry kinds ferry writes and distinguishes when reading. */
export type TarEntryType = "file" | "directory" | "symlink" | "link" | "other";

/** Fields of a header to write. */
export interface TarHeaderFields {
  /** Path inside the archive (`blobs/sha256/<hex>`, `blobs/` for a directory). */
  name: string;
  /** Data size in bytes (0 for directories). */
  size: number;
  /** Default "file". */
  type?: "file" | "directory";
  /** Permission bits; default 0o644 for files, 0o755 for directories. */
  mode?: number;
  /** Modification time in seconds since the epoch; default 0 (reproducible archives). */
  mtime?: number;
}

/** A decoded header. */
export interface TarHeader {
  name: string;
  size: number;
  type: TarEntryType;
  /** Raw typeflag character. */
  typeflag: string;
  linkname: string;
}

/** Bytes of padding after `size` bytes of data. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end-of-archive marker: two zero blocks. */
export function endOfArchive(): Uint8Array {
  return new Uint8Array(BLOCK * 2);
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function putString(block: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = enc.encode(value);
  block.set(bytes.subarray(0, length), offset);
}

function putOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  putString(block, offset, length - 1, value.toString(8).padStart(length - 1, "0"));
}

/** Splits a long name into ustar prefix (≤155 bytes) and name (≤100 bytes), if possible. */
function splitUstarName(name: string): [string, string] | undefined {
  if (enc.encode(name).byteLength <= 100) return ["", name];
  for (let i = name.indexOf("/"); i > 0; i = name.indexOf("/", i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (enc.encode(prefix).byteLength <= 155 && enc.encode(rest).byteLength <= 100 && rest) {
      return [prefix, rest];
    }
  }
  return undefined;
}

function ustarBlock(
  name: string,
  prefix: string,
  size: number,
  typeflag: string,
  mode: number,
  mtime: number,
): Uint8Array {
  const block = new Uint8Array(BLOCK);
  putString(block, 0, 100, name);
  putOctal(block, 100, 8, mode);
  putOctal(block, 108, 8, 0); // uid
  putOctal(block, 116, 8, 0); // gid
  putOctal(block, 124, 12, size);
  putOctal(block, 136, 12, mtime);
  block.fill(0x20, 148, 156); // checksum placeholder: spaces
  putString(block, 156, 1, typeflag);
  putString(block, 257, 6, "ustar\0");
  putString(block, 263, 2, "00");
  putString(block, 345, 155, prefix);
  let sum = 0;
  for (const b of block) sum += b;
  putString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const n = enc.encode(body).byteLength;
  // The length prefix counts its own digits: iterate to the fixed point.
  let len = n + 1;
  while (len !== n + String(len).length) len = n + String(len).length;
  return `${len}${body}`;
}

/**
 * The header block(s) for an entry: one ustar block, preceded by a PAX extended header when the
 * name is too long for ustar or the size exceeds 8 GiB.
 */
export function encodeHeader(fields: TarHeaderFields): Uint8Array {
  const type = fields.type ?? "file";
  const typeflag = type === "directory" ? "5" : "0";
  const mode = fields.mode ?? (type === "directory" ? 0o755 : 0o644);
  const mtime = Math.max(0, Math.floor(fields.mtime ?? 0));
  if (!Number.isSafeInteger(fields.size) || fields.size < 0) {
    throw new RangeError(`invalid tar entry size ${fields.size}`);
  }
  const pax: string[] = [];
  const split = splitUstarName(fields.name);
  let [prefix, name] = split ?? ["", fields.name];
  if (!split) {
    pax.push(paxRecord("path", fields.name));
    prefix = "";
    name = fields.name.slice(-100);
  }
  let size = fields.size;
  if (size > USTAR_MAX_SIZE) {
    pax.push(paxRecord("size", String(size)));
    size = 0;
  }
  const header = ustarBlock(name, prefix, size, typeflag, mode, mtime);
  if (pax.length === 0) return header;
  const data = enc.encode(pax.join(""));
  const paxName = `PaxHeaders.0/${fields.name.split("/").filter(Boolean).pop() ?? "x"}`.slice(
    0,
    100,
  );
  const out = new Uint8Array(BLOCK + data.byteLength + padding(data.byteLength) + BLOCK);
  out.set(ustarBlock(paxName, "", data.byteLength, "x", 0o644, mtime), 0);
  out.set(data, BLOCK);
  out.set(header, out.byteLength - BLOCK);
  return out;
}

function cString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return dec.decode(nul === -1 ? field : field.subarray(0, nul));
}

function parseNumber(block: Uint8Array, offset: number, length: number, where: string): number {
  const field = block.subarray(offset, offset + length);
  if (field[0] & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as marker.
    let value = 0;
    for (let i = 0; i < field.length; i++) {
      value = value * 256 + (i === 0 ? field[0] & 0x7f : field[i]);
    }
    if (!Number.isSafeInteger(value)) {
      throw new FerryError("invalid_input", `${where}: tar number too large`);
    }
    return value;
  }
  const text = dec.decode(field).replace(/[\0 ]+$/, "").replace(/^[\0 ]+/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new FerryError(
      "invalid_input",
      `${where}: malformed tar header number ${JSON.stringify(text)}`,
    );
  }
  return parseInt(text, 8);
}

/** True when the block is all zeros (end-of-archive marker). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

function entryType(typeflag: string): TarEntryType {
  switch (typeflag) {
    case "0":
    case "\0":
    case "":
    case "7":
      return "file";
    case "5":
      return "directory";
    case "2":
      return "symlink";
    case "1":
      return "link";
    default:
      return "other";
  }
}

/**
 * Decodes one 512-byte header block (not all zeros).
 *
 * @throws {FerryError} `invalid_input` when the checksum is wrong (not a tar, or a corrupt one).
 */
export function decodeHeader(block: Uint8Array, where: string): TarHeader {
  const notTar = () =>
    new FerryError("invalid_input", `${where}: not a tar archive (bad header checksum)`);
  let stored: number;
  try {
    stored = parseNumber(block, 148, 8, where);
  } catch {
    throw notTar();
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) throw notTar();
  const typeflag = String.fromCharCode(block[156]);
  let name = cString(block, 0, 100);
  const magic = cString(block, 257, 6);
  if (magic === "ustar" || magic === "ustar ") {
    const prefix = magic === "ustar" ? cString(block, 345, 155) : "";
    if (prefix) name = `${prefix}/${name}`;
  }
  return {
    name,
    size: parseNumber(block, 124, 12, where),
    type: entryType(typeflag === "\0" ? "0" : typeflag),
    typeflag,
    linkname: cString(block, 157, 100),
  };
}

/** Parses PAX extended header records (`<len> key=value\n`…). */
export function parsePax(data: Uint8Array, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.byteLength) {
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    const len = space === -1 ? NaN : parseInt(dec.decode(data.subarray(at, space)), 10);
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.byteLength) {
      throw new FerryError("invalid_input", `${where}: malformed PAX header`);
    }
    const record = dec.decode(data.subarray(space + 1, at + len - 1));
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}
