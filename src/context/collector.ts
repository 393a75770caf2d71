/**
 * Accumulates discovered images, their sources and warnings while the rules run.
 *
 * @module
 */

import { type ErrorCode, FerryError } from "../errors.ts";

export type { ErrorCode };
import type { DiscoveredImage, DiscoveryWarning, ImageSource } from "./types.ts";

/** Shared sink for every discovery rule. */
export class Collector {
  readonly #images = new Map<string, ImageSource[]>();
  readonly #warnings: DiscoveryWarning[] = [];
  readonly #strict: boolean;

  /** `strict` turns {@link Collector.problem} into a thrown error. */
  constructor(strict: boolean) {
    this.#strict = strict;
  }

  /**
   * Records `image` found at `source`. A second find of the same image on the same file and line
   * (the YAML walk confirming the line scanner) adds nothing.
   */
  add(image: string, source: ImageSource): void {
    const sources = this.#images.get(image);
    if (sources === undefined) {
      this.#images.set(image, [source]);
    } else if (!sources.some((s) => s.file === source.file && s.line === source.line)) {
      sources.push(source);
    }
  }

  /** Whether `image` was found on `file`:`line` by any rule. */
  has(image: string, file: string, line: number): boolean {
    return this.#images.get(image)?.some((s) => s.file === file && s.line === line) ?? false;
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

  /** Images so far, sorted bytewise by name, each with sorted sources. */
  images(): DiscoveredImage[] {
    return [...this.#images.entries()]
      .sort(([a], [b]) => compareBytes(a, b))
      .map(([image, sources]) => ({ image, sources: [...sources].sort(compareSources) }));
  }
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
