/**
 * `images/skopeo/tar.txt`: image archives to load (Sealos `TarList`), one
 * `<transport>:<path>@<repository[:tag]>` a line.
 *
 * As in Sealos, the path is joined under `images/skopeo/` (an absolute path too). Unlike Sealos,
 * `#` comment lines are skipped and a path may not leave the context: neither as written (`..`)
 * nor through a symlink (the archive or a directory on its way), the rule COPY applies to its
 * sources. A context from a repository or a USB stick must not pull in the host's files.
 *
 * @module
 */

import { join, relative, resolve, sep } from "../path.ts";
import { FerryError } from "../errors.ts";
import { parseArchiveSpec } from "../transfer/location.ts";
import { isFile, readTextIfExists, resolveWithin } from "../fs_util.ts";
import type { Collector } from "./collector.ts";
import { splitLines } from "./line_scanner.ts";
import type { ArchiveEntry } from "./types.ts";

/** The archive list, relative to the context. */
export const TAR_LIST = "images/skopeo/tar.txt";
/** Directory archive paths are relative to. */
export const TAR_DIR = "images/skopeo";

/**
 * Reads `<context>/images/skopeo/tar.txt`; `[]` when it does not exist.
 *
 * @throws {FerryError} `invalid_input` naming `images/skopeo/tar.txt:<line>` for a bad line or an
 * archive that resolves outside the context.
 */
export async function readTarList(
  contextDir: string,
  collector: Collector,
): Promise<ArchiveEntry[]> {
  const text = await readTextIfExists(join(contextDir, TAR_LIST));
  if (text === undefined) return [];
  const realContext = await Deno.realPath(contextDir);
  const entries: ArchiveEntry[] = [];
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const entry = parseTarLine(contextDir, lines[i], i + 1);
    if (entry === undefined) continue;
    const resolved = await resolveWithin(realContext, entry.path);
    if (resolved && !resolved.inside) {
      throw new FerryError(
        "invalid_input",
        `${TAR_LIST}:${i + 1}: archive ${
          relative(contextDir, entry.path)
        } resolves to ${resolved.real}, outside the context directory`,
      );
    }
    if (!resolved || !await isFile(entry.path)) {
      collector.problem("not_found", {
        file: TAR_LIST,
        line: i + 1,
        message: `archive ${relative(contextDir, entry.path)} does not exist`,
      });
    }
    entries.push(entry);
  }
  return entries;
}

/**
 * Parses one line of `tar.txt`; `undefined` for blank and `#` comment lines.
 *
 * @throws {FerryError} `invalid_input` naming `images/skopeo/tar.txt:<line>`.
 */
export function parseTarLine(
  contextDir: string,
  raw: string,
  line: number,
): ArchiveEntry | undefined {
  const text = raw.trim();
  if (text === "" || text.startsWith("#")) return undefined;
  const fail = (why: string): never => {
    throw new FerryError("invalid_input", `${TAR_LIST}:${line}: ${why}`);
  };
  const context = resolve(contextDir);
  const spec = parseArchiveSpec(text, {
    fail,
    path: (written) => {
      // Sealos joins even absolute paths under images/skopeo/.
      const path = join(context, TAR_DIR, written);
      const rel = relative(context, path);
      if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`)) {
        fail(`archive path ${JSON.stringify(written)} leaves the context directory`);
      }
      return path;
    },
  });
  return { ...spec, source: { file: TAR_LIST, line, rule: "tar" } };
}
