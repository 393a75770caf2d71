/**
 * YAML (and JSON) documents as plain trees whose every node knows the file and line it came
 * from, so merged chart values still point at the file that set each value.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseAllDocuments,
  visit,
} from "yaml";

/** A place in the build context. */
export interface Where {
  /** File relative to the context directory. */
  file: string;
  /** 1-based line number. */
  line: number;
}

/** A scalar: its parsed value plus the text as written (`1.10` stays `1.10`). */
export interface ScalarNode {
  /** Discriminant. */
  kind: "scalar";
  /** Parsed value: string, number, boolean or null. */
  value: unknown;
  /** The value as written, for numbers that must keep their spelling. */
  text: string;
  /** Where the value starts. */
  at: Where;
  /** Set for `|` and `>` block scalars, whose content starts on the line after `at.line`. */
  block?: true;
}

/** A mapping with string keys, in document order. */
export interface MapNode {
  /** Discriminant. */
  kind: "map";
  /** Entries by key; complex keys are left out. */
  entries: Map<string, TreeNode>;
  /** Where the mapping starts. */
  at: Where;
}

/** A sequence. */
export interface SeqNode {
  /** Discriminant. */
  kind: "seq";
  /** Items in order. */
  items: TreeNode[];
  /** Where the sequence starts. */
  at: Where;
}

/** Any node of a {@link TreeNode} tree. */
export type TreeNode = ScalarNode | MapNode | SeqNode;

/** Outcome of parsing a YAML stream. */
export interface ParsedYaml {
  /** Roots of the documents that parsed cleanly (empty documents are left out). */
  documents: TreeNode[];
  /** First syntax error, when some document did not parse (that document is left out). */
  error?: { line: number; message: string };
}

/** Maps a 1-based line of the parsed text to a place in the context. */
export type Locate = (line: number) => Where;

/**
 * Most nodes one parse expands to: aliases may expand to huge trees ("billion laughs"); past
 * this, the rest is not read and the parse reports it as its error.
 */
export const MAX_NODES = 1_000_000;

/**
 * A document may expand to at most this many times the nodes written in it (plus
 * {@link ALIAS_ALLOWANCE}), so that many small documents each expanding aliases to
 * {@link MAX_NODES} cannot make a file's reading take time out of proportion to its size.
 */
export const ALIAS_EXPANSION_FACTOR = 10;

/** Nodes a document may expand to beyond {@link ALIAS_EXPANSION_FACTOR} × those written. */
export const ALIAS_ALLOWANCE = 1000;

/**
 * Deepest nesting of collections read (aliases count as the nesting they expand to): the
 * conversion recurses once per level. Kubernetes objects nest a few dozen levels.
 */
export const MAX_DEPTH = 500;

/**
 * Parses every document of `text`; `locate` turns text lines into context places. Quoted
 * scalars whose continuation lines are not indented past their key (which kubectl and helm
 * accept) are read as those tools read them.
 */
export function parseYamlTree(text: string, locate: Locate): ParsedYaml {
  const first = parseStrict(text, locate);
  if (first.error === undefined || !QUOTE_ERROR.test(first.error.message)) return first;
  const relaxed = indentQuotedContinuations(text);
  if (relaxed === text) return first;
  const second = parseStrict(relaxed, locate);
  return second.error === undefined || second.documents.length > first.documents.length
    ? second
    : first;
}

const QUOTE_ERROR = /Missing closing .?quote/;

// A quoted scalar starting at a value position: after `key: `, `- `, or at the line's start.
const QUOTE_START_RE =
  /^(\s*(?:-\s+)*)((?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"][^#]*?)\s*:\s+)?(['"])/;
const BLOCK_START_RE = /(?:^|:\s|-\s)\s*[|>][-+0-9]*\s*(?:#.*)?$/;

/**
 * Go's YAML parser (kubectl's, helm's) lets a multi-line quoted scalar continue at any
 * indentation; the YAML spec, and the `yaml` package, want continuation lines indented past the
 * parent key. Indents such lines so; folding strips leading spaces, so values do not change and
 * line numbers stay. Lines of block scalars are left alone.
 */
export function indentQuotedContinuations(text: string): string {
  const lines = text.split("\n");
  let quote: { char: string; indent: number } | undefined;
  let block: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const indent = line.length - line.trimStart().length;
    if (quote !== undefined) {
      if (line.trim() !== "" && indent < quote.indent) {
        lines[i] = " ".repeat(quote.indent - indent) + line;
      }
      if (closes(line, 0, quote.char)) quote = undefined;
      continue;
    }
    if (block !== undefined) {
      if (line.trim() === "" || indent > block) continue;
      block = undefined;
    }
    const m = QUOTE_START_RE.exec(line);
    if (m !== null && !closes(line, m[0].length, m[3])) {
      quote = { char: m[3], indent: m[1].length + 1 };
      continue;
    }
    if (BLOCK_START_RE.test(line)) block = indent;
  }
  return lines.join("\n");
}

/** Whether a `char`-quoted scalar whose content starts at `from` ends on this line. */
function closes(line: string, from: number, char: string): boolean {
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (char === '"' && c === "\\") {
      i++;
    } else if (c === char) {
      if (char === "'" && line[i + 1] === "'") i++;
      else return true;
    }
  }
  return false;
}

const NESTED_TOO_DEEPLY = "nested too deeply";
const STACK_OVERFLOW_RE = /Maximum call stack size exceeded/;

function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && STACK_OVERFLOW_RE.test(err.message);
}

function parseStrict(text: string, locate: Locate): ParsedYaml {
  const lineCounter = new LineCounter();
  let docs;
  try {
    docs = parseAllDocuments(text, {
      lineCounter,
      uniqueKeys: false,
      prettyErrors: false,
      strict: false,
    });
  } catch (err) {
    // The parser recurses once per level of block nesting and lets its stack overflow out.
    if (!isStackOverflow(err)) throw err;
    return { documents: [], error: { line: 1, message: NESTED_TOO_DEEPLY } };
  }
  const result: ParsedYaml = { documents: [] };
  const budget: Budget = { left: MAX_NODES, limit: MAX_NODES };
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      if (result.error === undefined) {
        const err = doc.errors[0];
        const line = err.linePos?.[0].line ?? lineCounter.linePos(err.pos[0]).line;
        // The parser reports its own stack overflow as an error of the document.
        const message = STACK_OVERFLOW_RE.test(err.message)
          ? NESTED_TOO_DEEPLY
          : firstLine(err.message);
        result.error = { line, message };
      }
      continue;
    }
    const where = (offset: number | undefined) =>
      locate(offset === undefined ? 1 : Math.max(1, lineCounter.linePos(offset).line));
    const { targets, written } = aliasTargets(doc);
    const state: Conversion = { where, ancestors: new Set(), targets };
    const allowed = Math.min(budget.left, written * ALIAS_EXPANSION_FACTOR + ALIAS_ALLOWANCE);
    const docBudget: Budget = { left: allowed, limit: allowed };
    const root = convert(doc.contents, state, docBudget, 0);
    budget.left -= allowed - docBudget.left;
    budget.cut ??= docBudget.cut;
    if (root !== undefined) result.documents.push(root);
    if (budget.cut !== undefined && result.error === undefined) {
      result.error = { line: budget.cut.at.line, message: budget.cut.message };
    }
  }
  return result;
}

/** What one parse may still expand, and where and why it stopped. */
interface Budget {
  left: number;
  /** What `left` started from. */
  limit: number;
  cut?: { at: Where; message: string };
}

/** One document's conversion. */
interface Conversion {
  where: (offset: number | undefined) => Where;
  /** Collections being converted, from the root down. */
  ancestors: Set<unknown>;
  /** What each alias of the document stands for. */
  targets: Map<unknown, unknown>;
}

/**
 * The node each alias of `doc` stands for: the last node anchored with its name before it, as
 * `Alias.resolve` finds it, but in one walk of the document rather than one for every alias (a
 * document of many aliases took quadratic time).
 */
function aliasTargets(doc: Document): { targets: Map<unknown, unknown>; written: number } {
  const anchors = new Map<string, unknown>();
  const targets = new Map<unknown, unknown>();
  let written = 0;
  visit(doc, {
    Node: (_key, node) => {
      written++;
      if (isAlias(node)) targets.set(node, anchors.get(node.source));
      else if (node.anchor) anchors.set(node.anchor, node);
    },
  });
  return { targets, written };
}

function convert(
  node: unknown,
  state: Conversion,
  budget: Budget,
  depth: number,
): TreeNode | undefined {
  const { where, ancestors } = state;
  if (budget.left <= 0 || depth > MAX_DEPTH) {
    budget.cut ??= {
      at: where((node as YamlNode | null)?.range?.[0]),
      message: budget.left <= 0
        ? `aliases expand it to more than ${budget.limit} nodes; the rest is not read`
        : `nested more than ${MAX_DEPTH} levels deep; deeper values are not read`,
    };
    return undefined;
  }
  budget.left--;
  if (isAlias(node)) {
    const target = state.targets.get(node);
    // A collection alias pointing at its own ancestor would expand forever.
    if (target === undefined || ancestors.has(target)) return undefined;
    return convert(target, state, budget, depth);
  }
  const at = where((node as YamlNode | null)?.range?.[0]);
  if (isScalar(node)) {
    const value = node.value;
    const text = typeof node.source === "string" ? node.source : String(value);
    const block = node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED";
    return block ? { kind: "scalar", value, text, at, block } : { kind: "scalar", value, text, at };
  }
  if (isMap(node)) {
    ancestors.add(node);
    const entries = new Map<string, TreeNode>();
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const value = convert(pair.value, state, budget, depth + 1);
      const key = String(pair.key.value);
      if (value !== undefined) entries.set(key, value);
      else {entries.set(key, {
          kind: "scalar",
          value: null,
          text: "",
          at: where(pair.key.range?.[0]),
        });}
    }
    ancestors.delete(node);
    return { kind: "map", entries, at };
  }
  if (isSeq(node)) {
    ancestors.add(node);
    const items: TreeNode[] = [];
    for (const item of node.items) {
      const value = convert(item, state, budget, depth + 1);
      if (value !== undefined) items.push(value);
    }
    ancestors.delete(node);
    return { kind: "seq", items, at };
  }
  return undefined;
}

// Pretty errors end their first line with "at line 3, column 8:"; the caller names the line.
function firstLine(message: string): string {
  return message.split("\n")[0].replace(/\s*at line \d+, column \d+:?\s*$/, "").trim();
}

/** The string value of a scalar node, or `undefined` for anything else. */
export function stringOf(node: TreeNode | undefined): string | undefined {
  return node?.kind === "scalar" && typeof node.value === "string" ? node.value : undefined;
}

/**
 * The text of a scalar that is a string or number (`tag: 1.10` → `"1.10"`), or `undefined`;
 * `null` and empty strings count as absent.
 */
export function scalarText(node: TreeNode | undefined): string | undefined {
  if (node?.kind !== "scalar") return undefined;
  const { value } = node;
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" || typeof value === "bigint") return node.text;
  return undefined;
}
