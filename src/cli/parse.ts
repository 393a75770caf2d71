/**
 * Parsers for option values, failing as usage errors (exit code 2).
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/** `--flag=true|false` values (skopeo/Sealos style `--tls-verify=false`). */
export function parseBool(value: string): boolean {
  const v = value.toLowerCase();
  if (["true", "1", "yes"].includes(v)) return true;
  if (["false", "0", "no"].includes(v)) return false;
  throw new FerryError("usage", `expected true or false, got ${JSON.stringify(value)}`);
}

/** A positive integer option. */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new FerryError("usage", `expected a positive whole number, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Comma-separated list, empty items dropped. */
export function parseList(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((s) => s.trim()).filter(Boolean)];
}

/** A non-negative whole number of seconds since the epoch (`--timestamp`, `SOURCE_DATE_EPOCH`). */
export function parseEpoch(text: string, where = "--timestamp"): number {
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new FerryError(
      "usage",
      `${where}: expected seconds since 1970-01-01 (a whole number), got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}
