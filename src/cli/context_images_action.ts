/**
 * What `ferry context images` does once its command line is parsed. Loaded by the command only
 * when it runs, so that defining it (for parsing, `--help` and completions) stays cheap.
 *
 * @module
 */
import { join, resolve } from "../path.ts";
import {
  type DiscoveredImage,
  discoverImages,
  type DiscoveryResult,
  formatWarning,
  type ImageSource,
  referencedNotice,
} from "../context/mod.ts";
import { archiveDestination, formatLocation } from "../transfer/mod.ts";
import type { ContextImage, ContextImagesSnapshot, FoundIn } from "./json.ts";
import type { Output } from "./output.ts";

/** The parsed options of `context images`. */
export interface ContextImagesOptions {
  json?: boolean;
  strict?: boolean;
  /** false under `--no-helm`. */
  helm: boolean;
}

/**
 * The `--json` form of a discovery: files made absolute, archives named by location like
 * `registry save` names them, and `foundIn` for where an image was found (`source` always means
 * the image read by a transfer).
 */
function contextSnapshot(dir: string, result: DiscoveryResult): ContextImagesSnapshot {
  const context = resolve(dir);
  const found = (s: ImageSource): FoundIn => ({
    file: join(context, s.file),
    line: s.line,
    rule: s.rule,
    ...(s.referencedIn ? { referencedIn: s.referencedIn } : {}),
    ...(s.rendered ? { rendered: true as const } : {}),
  });
  const image = (i: DiscoveredImage): ContextImage => ({
    image: i.image,
    ...(i.aliases ? { aliases: i.aliases } : {}),
    foundIn: i.sources.map(found),
  });
  return {
    context,
    images: result.images.map(image),
    referenced: result.referenced.map(image),
    archives: result.archives.map((a) => ({
      source: formatLocation({ transport: a.transport, path: a.path }),
      ...archiveDestination(a.destination),
      foundIn: [found(a.source)],
    })),
    warnings: result.warnings.map((w) => ({ ...w, file: join(context, w.file) })),
    ignored: result.ignored,
  };
}

/** `file:line, …` of an image; a rendered chart line says so. */
function places(img: DiscoveredImage): string {
  return img.sources.map((s) => `${s.file}:${s.line}${s.rendered ? " (rendered)" : ""}`).join(
    ", ",
  );
}

/** Lists the images a build of `dir` would save (`ferry context images`). */
export async function runContextImages(
  dir: string,
  opts: ContextImagesOptions,
  out: Output,
): Promise<void> {
  const result = await discoverImages(dir, {
    strict: opts.strict,
    helm: opts.helm ? undefined : null,
  });
  if (opts.json) {
    out.snapshot<ContextImagesSnapshot>(contextSnapshot(dir, result));
    return;
  }
  for (const w of result.warnings) out.warn(formatWarning(w));
  for (const img of result.images) out.print(`${img.image}\t${places(img)}`);
  if (result.referenced.length > 0) {
    out.info(referencedNotice(result.referenced.length, false));
    for (const img of result.referenced) out.print(`${img.image}\t${places(img)}\treferenced`);
  }
  for (const a of result.archives) {
    out.print(`${a.transport}:${a.path}@${a.destination}\t${a.source.file}:${a.source.line}`);
  }
  if (result.ignored.length) out.info(`ignored by .sealignore: ${result.ignored.join(", ")}`);
}
