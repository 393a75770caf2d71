/**
 * What of a manifest the YAML walk needs to read. Parsing YAML costs about a second per MB,
 * and most manifest bytes (CRD schemas, ConfigMaps) cannot hold what the walk looks for: every
 * find of the walk sits on or next to a line naming `image` or `repository`. So a document is
 * split textually, and only the subtrees around such lines are parsed: from each line's parent
 * by indentation, which holds its siblings (`tag` beside `repository`, `value` beside an env
 * `name`, the next `args` entry) and the key the walk consults (`image`, `env`, `args`). A line
 * the Sealos line scanner reads (`image: nginx:1`) needs no parse at all.
 * Documents this reading cannot follow (multi-line flow collections, JSON) are parsed whole;
 * so is any document whose fragments do not parse.
 *
 * @module
 */

import { imageFromLine } from "./line_scanner.ts";

/** A YAML document of a text: its lines and where it starts. */
export interface DocumentText {
  /** Lines of the document (marker line included). */
  lines: string[];
  /** 0-based index of its first line in the whole text. */
  start: number;
}

/** Which part of a document the walk reads. */
export type Plan =
  | { kind: "none" }
  | { kind: "whole" }
  | { kind: "fragments"; ranges: { start: number; end: number }[] };

const DOC_START_RE = /^---(?:\s|$)/;
const DOC_END_RE = /^\.\.\.(?:\s|$)/;
const HIT_RE = /image|repository/i;
const CRD_RE = /^kind:\s*["']?CustomResourceDefinition["']?\s*(?:#.*)?$/;
const BLOCK_SCALAR_RE = /(?:^|:\s+|-\s+)[|>][-+0-9]*\s*(?:#.*)?$/;

/** Splits `lines` at document markers (`---` starts a document, `...` ends one). */
export function splitDocuments(lines: string[]): DocumentText[] {
  const docs: DocumentText[] = [];
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    if (DOC_START_RE.test(lines[i]) && i > start) {
      docs.push({ lines: lines.slice(start, i), start });
      start = i;
    } else if (DOC_END_RE.test(lines[i])) {
      docs.push({ lines: lines.slice(start, i + 1), start });
      start = i + 1;
    }
  }
  if (start < lines.length) docs.push({ lines: lines.slice(start), start });
  return docs;
}

/**
 * Decides what of `lines` (one document) the walk must parse. `lineScanned`: the Sealos line
 * scanner read these lines, so the lines it resolves need no parse.
 */
export function planDocument(lines: string[], lineScanned = false): Plan {
  const n = lines.length;
  // Most documents name no image at all: find that out before looking at their structure.
  let any = false;
  for (let i = 0; i < n; i++) {
    const line = lines[i];
    if (line.startsWith("kind") && CRD_RE.test(line)) return { kind: "none" };
    if (!any && HIT_RE.test(line)) any = true;
  }
  if (!any) return { kind: "none" };
  const indent = new Array<number>(n);
  const keyCol = new Array<number>(n);
  const item = new Array<boolean>(n);
  // Lines that carry structure: not blank, not comments, not inside block scalars.
  const significant = new Array<boolean>(n).fill(false);
  const hits: number[] = [];
  let blockOwner = -1; // key column of the open block scalar, or -1
  for (let i = 0; i < n; i++) {
    const line = lines[i];
    // Indentation, then `- ` item markers (several for nested sequences): by hand, per line.
    let col = 0;
    while (col < line.length && line.charCodeAt(col) === 32) col++;
    indent[i] = col;
    let key = col;
    while (
      line.charCodeAt(key) === 45 && (key + 1 === line.length || line.charCodeAt(key + 1) === 32)
    ) {
      key++;
      while (key < line.length && line.charCodeAt(key) === 32) key++;
    }
    keyCol[i] = key;
    item[i] = key > col;
    if (col === line.length) continue;
    const trimmed = line.slice(col).trimEnd();
    if (trimmed === "") continue;
    if (blockOwner >= 0) {
      if (indent[i] > blockOwner) continue;
      blockOwner = -1;
    }
    if (DOC_START_RE.test(line)) {
      // Content on the marker line (`--- {"kind": …}`): no indentation to go by.
      const rest = line.slice(3).trim();
      if (rest !== "" && !rest.startsWith("#") && HIT_RE.test(rest)) return { kind: "whole" };
      continue;
    }
    if (trimmed.startsWith("#") || DOC_END_RE.test(line)) continue;
    if (!balanced(trimmed)) return { kind: "whole" };
    significant[i] = true;
    if (HIT_RE.test(line)) hits.push(i);
    // A block scalar's lines are text, whatever they say; they end at its key's indentation.
    if ((trimmed.includes("|") || trimmed.includes(">")) && BLOCK_SCALAR_RE.test(trimmed)) {
      blockOwner = /^[|>]/.test(line.slice(keyCol[i])) ? indent[i] : keyCol[i];
    }
  }
  if (hits.length === 0) return { kind: "none" };

  // Parent of every significant line, by indentation (a compact sequence's items sit at their
  // key's indentation).
  const parent = new Array<number>(n).fill(-1);
  const stack: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!significant[i]) continue;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const isParent = indent[top] < indent[i] ||
        (indent[top] === indent[i] && item[i] && !item[top] && lines[top].trimEnd().endsWith(":"));
      if (isParent) break;
      stack.pop();
    }
    parent[i] = stack.length > 0 ? stack[stack.length - 1] : -1;
    stack.push(i);
  }

  const starts = new Set<number>();
  for (const hit of hits) {
    // `image: nginx:1` is the line scanner's find already; the walk would only repeat it.
    if (lineScanned && imageFromLine(lines[hit]) !== undefined) continue;
    const p1 = parent[hit];
    if (p1 < 0) return { kind: "whole" };
    starts.add(p1);
  }
  if (starts.size === 0) return { kind: "none" };
  const ranges: { start: number; end: number }[] = [];
  for (const start of [...starts].sort((a, b) => a - b)) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && start < last.end) continue;
    let end = start + 1;
    for (; end < n; end++) {
      if (significant[end] && !descends(end, start, parent)) break;
    }
    ranges.push({ start, end });
  }
  return { kind: "fragments", ranges };
}

function descends(line: number, ancestor: number, parent: number[]): boolean {
  for (let p = parent[line]; p >= 0; p = parent[p]) {
    if (p === ancestor) return true;
    if (p < ancestor) return false;
  }
  return false;
}

/** Whether a line opens and closes as many flow brackets as it closes (quotes aside). */
function balanced(text: string): boolean {
  if (
    text.indexOf("{") < 0 && text.indexOf("[") < 0 && text.indexOf("}") < 0 &&
    text.indexOf("]") < 0
  ) {
    return true;
  }
  let depth = 0;
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== "") {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'") {
      // A quote opens a quoted scalar only at the start of a token.
      if (i === 0 || /[\s,[{:]/.test(text[i - 1])) quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]))) {
      break;
    } else if (c === "[" || c === "{") {
      depth++;
    } else if (c === "]" || c === "}") {
      depth--;
    }
  }
  return depth === 0 && quote === "";
}

/** The lines of a fragment, shifted left by its first line's indentation. */
export function fragmentText(lines: string[], start: number, end: number): string {
  const cut = lines[start].length - lines[start].trimStart().length;
  const out: string[] = [];
  for (let i = start; i < end; i++) {
    const line = lines[i];
    const lead = line.length - line.trimStart().length;
    out.push(line.slice(Math.min(cut, lead)));
  }
  return out.join("\n");
}
