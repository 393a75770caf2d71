/**
 * One `## ` section of bench/RESULTS.md that a benchmark regenerates on its own, keeping the
 * hand-written analysis between its markers and leaving every other section as it is.
 *
 * @module
 */

/** A section of RESULTS.md owned by one benchmark. */
export class ResultsSection {
  /** The `## ` heading line that opens the section. */
  readonly heading: string;
  readonly #start: string;
  readonly #end: string;

  /** `title` is the heading's text; `marker` names the analysis markers (`<marker>:start`). */
  constructor(title: string, marker: string) {
    this.heading = `## ${title}`;
    this.#start = `<!-- ${marker}:start -->`;
    this.#end = `<!-- ${marker}:end -->`;
  }

  /** The analysis block that ends a generated section: kept text, or a placeholder. */
  analysisLines(analysis: string | undefined): string[] {
    return [this.#start, analysis ?? "_No analysis written yet._", this.#end];
  }

  /** Where the section starts and ends in `doc` (the next `## ` heading or the end). */
  #bounds(doc: string): { start: number; end: number } | undefined {
    const title = this.heading.slice(3).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const m = new RegExp(`^## ${title}[ \\t]*$`, "m").exec(doc);
    if (!m) return undefined;
    const next = /^## /m.exec(doc.slice(m.index + m[0].length));
    return { start: m.index, end: next ? m.index + m[0].length + next.index : doc.length };
  }

  /** The section as it stands in `doc`, if any. */
  extract(doc: string | undefined): string | undefined {
    if (!doc) return undefined;
    const b = this.#bounds(doc);
    return b ? doc.slice(b.start, b.end).trimEnd() + "\n" : undefined;
  }

  /** The hand-written analysis of the section in `doc`, kept across regenerations. */
  keptAnalysis(doc: string | undefined): string | undefined {
    const section = this.extract(doc);
    if (!section) return undefined;
    const a = section.indexOf(this.#start);
    const b = section.indexOf(this.#end);
    if (a < 0 || b < a) return undefined;
    return section.slice(a + this.#start.length, b).trim();
  }

  /**
   * `doc` with the section replaced by `section` (appended when it has none; removed when
   * `section` is undefined). Everything else in `doc` stays as it is.
   */
  replace(doc: string, section: string | undefined): string {
    const b = this.#bounds(doc);
    const before = (b ? doc.slice(0, b.start) : doc).trimEnd();
    const after = b ? doc.slice(b.end).trimStart() : "";
    const parts = [before, section?.trimEnd(), after.trimEnd()].filter((p) => p);
    return parts.length ? parts.join("\n\n") + "\n" : "";
  }
}
