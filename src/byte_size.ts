/**
 * Byte sizes as people write and read them: `64GiB`, `500MB`, `1.5MiB`.
 *
 * @module
 */
import { FerryError } from "./errors.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/**
 * Parses a size such as `68719476736`, `64GiB`, `500MB` or `2T` (bare K/M/G/T are binary).
 *
 * @throws {FerryError} `usage` naming `what` for anything else.
 */
export function parseByteSize(text: string, what: string): number {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const value = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new FerryError(
      "usage",
      `${what}=${JSON.stringify(text)} is not a size (bytes, or a number with KiB, MiB, GiB, TiB)`,
    );
  }
  return value;
}

/** `1.5MiB`: binary units, one decimal above bytes. */
export function formatSize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)}${units[i]}`;
}
