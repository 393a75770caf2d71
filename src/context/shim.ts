/**
 * `images/shim/`: plain image lists, one reference a line (Sealos `ParseShimImages`).
 *
 * Entries are kept verbatim (`nginx` stays `nginx`) so `.sealignore` lines written for Sealos
 * still match. Unlike Sealos, an inline ` # comment` is stripped (with a warning), and entries
 * that are not references are reported here instead of failing the save later.
 *
 * @module
 */

import { join } from "../path.ts";
import { errorMessage } from "../errors.ts";
import { parseReference } from "../reference.ts";
import { stripBom } from "../fs_util.ts";
import type { Collector } from "./collector.ts";
import { listFiles } from "./fs_util.ts";
import { splitLines, stripQuotes } from "./line_scanner.ts";

/** Directory of the shim lists, relative to the context. */
export const SHIM_DIR = "images/shim";

const DAEMON_PREFIX_RE = /^(containers-storage|docker-daemon):/;
const INLINE_COMMENT_RE = /\s#/;

/** One usable entry of a shim list, or the reason it is not usable. */
export type ShimEntry =
  | { kind: "image"; image: string; note?: string }
  | { kind: "skip" }
  | { kind: "invalid"; code: "invalid_reference" | "unsupported"; message: string; note?: string };

/**
 * Interprets one line of a shim list: trim, skip blanks and `#` comments, strip an inline
 * comment, strip one pair of quotes, validate. `note` says what ferry did differently from Sealos.
 */
export function parseShimLine(raw: string): ShimEntry {
  let entry = raw.trim();
  if (entry === "" || entry.startsWith("#")) return { kind: "skip" };
  let note: string | undefined;
  const comment = INLINE_COMMENT_RE.exec(entry);
  if (comment !== null) {
    const kept = entry.slice(0, comment.index).trim();
    note = `stripped inline comment from ${JSON.stringify(entry)} (Sealos keeps the whole line ` +
      `and fails to save it)`;
    entry = kept;
  }
  entry = stripQuotes(entry);
  if (entry === "") return { kind: "skip" };
  const prefix = DAEMON_PREFIX_RE.exec(entry);
  if (prefix !== null) {
    return {
      kind: "invalid",
      code: "unsupported",
      message:
        `skipped ${JSON.stringify(entry)}: ferry reads images from registries only and has ` +
        `no access to ${prefix[1]}; push the image to a registry and list it by name`,
      note,
    };
  }
  try {
    parseReference(entry);
  } catch (err) {
    return {
      kind: "invalid",
      code: "invalid_reference",
      message: `skipped: ${errorMessage(err)}`,
      note,
    };
  }
  return note === undefined
    ? { kind: "image", image: entry }
    : { kind: "image", image: entry, note };
}

/** Adds every entry of every file under `<context>/images/shim` to `collector`. */
export async function scanShim(contextDir: string, collector: Collector): Promise<void> {
  const root = join(contextDir, SHIM_DIR);
  for (const rel of await listFiles(root)) {
    const file = `${SHIM_DIR}/${rel}`;
    const text = stripBom(await Deno.readTextFile(join(root, rel)));
    splitLines(text).forEach((raw, index) => {
      const line = index + 1;
      const entry = parseShimLine(raw);
      if (entry.kind === "skip") return;
      if (entry.note !== undefined) collector.warn({ file, line, message: entry.note });
      if (entry.kind === "invalid") {
        collector.problem(entry.code, { file, line, message: entry.message });
      } else {
        collector.add(entry.image, { file, line, rule: "shim" });
      }
    });
  }
}
