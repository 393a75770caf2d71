/**
 * The Sealos line scanner (`parseImageRefFromLine`): the textual rule Sealos applies to manifests
 * and rendered charts. Kept exact so ferry never finds fewer images than Sealos; the one
 * deliberate difference is that a `tag@digest` keeps its digest (Sealos drops it, labring/sealos#2051).
 *
 * @module
 */

import { formatReference, tryParseReference } from "../reference.ts";

/** One image found on one line. */
export interface LineFind {
  /** Normalised image. */
  image: string;
  /** 1-based line number. */
  line: number;
}

/** Removes one pair of matching surrounding quotes (`"…"` or `'…'`). */
export function stripQuotes(text: string): string {
  if (text.length >= 2) {
    const first = text[0];
    if ((first === `"` || first === `'`) && text[text.length - 1] === first) {
      return text.slice(1, -1);
    }
  }
  return text;
}

/**
 * Normalises a reference the way Sealos prints it (`nginx` → `docker.io/library/nginx`), keeping
 * tag and digest; `undefined` when `text` is not a valid reference.
 */
export function normaliseImage(text: string): string | undefined {
  const ref = tryParseReference(text);
  return ref === undefined ? undefined : formatReference(ref);
}

/**
 * The image of one line, by Sealos's rule: trim; skip `#` comments; take what follows the first
 * `image:` substring (so `baseimage:` and `- image:` match, `"image":` and `--image=` do not);
 * trim and unquote it; keep it if it parses as a reference.
 */
export function imageFromLine(line: string): string | undefined {
  if (!line.includes("image:")) return undefined; // most lines: one search, no copies
  const trimmed = line.trim();
  if (trimmed.startsWith("#")) return undefined;
  const at = trimmed.indexOf("image:");
  if (at === -1) return undefined;
  const value = stripQuotes(trimmed.slice(at + "image:".length).trim());
  if (value === "") return undefined;
  return normaliseImage(value);
}

/** Splits text into lines on `\n`, dropping a `\r` before it. */
export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].endsWith("\r")) lines[i] = lines[i].slice(0, -1);
  }
  return lines;
}

/**
 * Runs {@link imageFromLine} over every line of `text` (or over `text`'s lines, already split);
 * `skip` leaves lines out (chart templates without helm skip lines with `{{`).
 */
export function scanLines(
  text: string | string[],
  skip?: (line: string) => boolean,
): LineFind[] {
  const finds: LineFind[] = [];
  const lines = typeof text === "string" ? splitLines(text) : text;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    if (skip?.(line)) continue;
    const image = imageFromLine(line);
    if (image !== undefined) finds.push({ image, line: index + 1 });
  }
  return finds;
}
