/**
 * Accumulates discovered images, their sources and warnings while the rules run.
 *
 * @module
 */

import { type ErrorCode, FerryError } from "../errors.ts";

export type { ErrorCode };
import { normaliseImage } from "./line_scanner.ts";
import type { DiscoveredImage, DiscoveryWarning, ImageSource } from "./types.ts";

interface Entry {
  sources: ImageSource[];
  /** Spellings as the rules listed the image (shim entries verbatim, the rest normalised). */
  spellings: Set<string>;
}

/** Shared sink for every discovery rule. */
export class Collector {
  readonly #images = new Map<string, Entry>();
  readonly #warnings: DiscoveryWarning[] = [];
  readonly #strict: boolean;

  /** `strict` turns {@link Collector.problem} into a thrown error. */
  constructor(strict: boolean) {
    this.#strict = strict;
  }

  /**
   * Records `image` found at `source`. The same image spelled two ways (`nginx:1` in a shim
   * list, `docker.io/library/nginx:1` in a manifest) is one image. A second find on the same
   * file and line (the YAML walk confirming the line scanner) adds nothing.
   */
  add(image: string, source: ImageSource): void {
    const key = canonical(image);
    const entry = this.#images.get(key);
    if (entry === undefined) {
      this.#images.set(key, { sources: [source], spellings: new Set([image]) });
      return;
    }
    entry.spellings.add(image);
    const same = entry.sources.find((s) => s.file === source.file && s.line === source.line);
    if (same === undefined) entry.sources.push(source);
    // An image field on the same line outranks a reference (`--image=` beside `image:`).
    else if (same.referencedIn !== undefined && source.referencedIn === undefined) {
      delete same.referencedIn;
    }
  }

  /** Whether `image` was found on `file`:`line` by any rule. */
  has(image: string, file: string, line: number): boolean {
    return this.#images.get(canonical(image))?.sources.some((s) =>
      s.file === file && s.line === line
    ) ?? false;
  }

  /** Records a warning that never fails discovery. */
  warn(warning: DiscoveryWarning): void {
    this.#warnings.push(warning);
  }

  /** Records an unusable entry: a warning, or under `strict` a {@link FerryError} with `code`. */
  problem(code: ErrorCode, warning: DiscoveryWarning): void {
    if (this.#strict) throw new FerryError(code, formatWarning(warning));
    this.#warnings.push(warning);
  }

  /** Whether unusable entries are errors. */
  get strict(): boolean {
    return this.#strict;
  }

  /** Warnings so far, in order. */
  get warnings(): DiscoveryWarning[] {
    return [...this.#warnings];
  }

  /**
   * Images so far, sorted bytewise by name, each with sorted sources. An image keeps its only
   * spelling (shim entries stay verbatim); spelled several ways, it is named in normalised form
   * and the other spellings are its `aliases`.
   */
  images(): DiscoveredImage[] {
    return [...this.#images.entries()]
      .map(([key, { sources, spellings }]) => {
        const image = spellings.size === 1 ? [...spellings][0] : key;
        const aliases = [...spellings].filter((s) => s !== image).sort(compareBytes);
        return {
          image,
          ...(aliases.length > 0 ? { aliases } : {}),
          sources: [...sources].sort(compareSources),
        };
      })
      .sort((a, b) => compareBytes(a.image, b.image));
  }
}

/** The normalised form of a reference, the key that makes two spellings one image. */
function canonical(image: string): string {
  return normaliseImage(image) ?? image;
}

/** `file:line: message`, the one-line form of a warning. */
export function formatWarning(warning: DiscoveryWarning): string {
  const where = warning.line === undefined ? warning.file : `${warning.file}:${warning.line}`;
  return `${where}: ${warning.message}`;
}

/**
 * Bytewise (UTF-8) order, as Go's `sort.Strings` gives Sealos. JavaScript's `<` compares UTF-16
 * code units, which differs only for characters beyond the BMP; compare code points instead.
 */
export function compareBytes(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

function compareSources(a: ImageSource, b: ImageSource): number {
  return compareBytes(a.file, b.file) || a.line - b.line || compareBytes(a.rule, b.rule);
}
