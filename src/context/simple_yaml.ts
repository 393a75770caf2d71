/**
 * A reader for the plainest block YAML: nested mappings and sequences of one-line scalars, the
 * shape of nearly every fragment the image walk reads (`args:` lists, `env:` entries, image
 * maps). The `yaml` package costs about half a millisecond a call however small the text; this
 * costs microseconds. Anything else (flow collections, anchors, aliases, tags, block scalars,
 * multi-line scalars, complex keys, tabs) makes it decline, and the caller parses with `yaml`.
 *
 * @module
 */

import type { Locate, TreeNode } from "./yaml_tree.ts";

interface Token {
  indent: number;
  /** 1-based line in the text. */
  line: number;
  content: string;
}

class Decline extends Error {}

const KEY_RE =
  /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^\s#'"{[\]}&*!|>?%@`,][^#]*?))[ ]*:(?:[ ]+(.*))?$/;
const INT_RE = /^[-+]?(?:0|[1-9][0-9]*)$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const UNSUPPORTED_START = /^[{[&*!|>%@`?]/;

/**
 * The tree of `text`, a single document of plain block YAML, or `undefined` when it holds
 * anything this reader does not handle.
 */
export function parseSimpleYaml(text: string, locate: Locate): TreeNode | undefined {
  if (text.includes("\t")) return undefined;
  const tokens: Token[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const content = raw.trim();
    if (content === "" || content.startsWith("#")) continue;
    if (content === "---" || content === "...") return undefined;
    tokens.push({ indent: raw.length - raw.trimStart().length, line: i + 1, content });
  }
  if (tokens.length === 0) return undefined;
  try {
    const reader = new Reader(tokens, locate);
    const node = reader.node(0, tokens[0].indent);
    if (reader.pos !== tokens.length) return undefined;
    return node;
  } catch (err) {
    if (err instanceof Decline) return undefined;
    throw err;
  }
}

class Reader {
  pos = 0;
  constructor(readonly tokens: Token[], readonly locate: Locate) {}

  /** The node starting at token `pos`, whose lines are indented `indent`. */
  node(pos: number, indent: number): TreeNode {
    this.pos = pos;
    const t = this.tokens[pos];
    if (t.indent !== indent) throw new Decline();
    if (t.content === "-" || t.content.startsWith("- ")) return this.seq(indent);
    if (KEY_RE.test(t.content)) return this.map(indent);
    this.pos = pos + 1;
    const scalar = this.scalar(t.content, t.line);
    // A plain scalar continued on the next lines.
    if (this.pos < this.tokens.length && this.tokens[this.pos].indent > indent) {
      throw new Decline();
    }
    return scalar;
  }

  seq(indent: number): TreeNode {
    const items: TreeNode[] = [];
    const at = this.locate(this.tokens[this.pos].line);
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      if (t.indent !== indent || !(t.content === "-" || t.content.startsWith("- "))) break;
      const rest = t.content.slice(1).trimStart();
      if (rest === "") {
        const next = this.tokens[this.pos + 1];
        if (next === undefined || next.indent <= indent) {
          items.push(this.nullAt(t.line));
          this.pos++;
        } else {
          items.push(this.node(this.pos + 1, next.indent));
        }
        continue;
      }
      // `- key: value` opens a mapping at the column of `key`; rewrite the token so.
      const column = indent + (t.content.length - rest.length);
      this.tokens[this.pos] = { indent: column, line: t.line, content: rest };
      items.push(this.node(this.pos, column));
    }
    return { kind: "seq", items, at };
  }

  map(indent: number): TreeNode {
    const entries = new Map<string, TreeNode>();
    const at = this.locate(this.tokens[this.pos].line);
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      if (t.indent !== indent) break;
      const m = KEY_RE.exec(t.content);
      if (m === null) throw new Decline();
      const key = m[1] !== undefined
        ? unquoteDouble(`"${m[1]}"`)
        : m[2] !== undefined
        ? m[2].replace(/''/g, "'")
        : m[3].trimEnd();
      const value = m[4] === undefined ? "" : stripComment(m[4]);
      this.pos++;
      const next = this.tokens[this.pos];
      if (value !== "") {
        entries.set(key, this.scalar(value, t.line));
        if (next !== undefined && next.indent > indent) throw new Decline();
      } else if (
        next !== undefined &&
        (next.indent > indent ||
          (next.indent === indent && (next.content === "-" || next.content.startsWith("- "))))
      ) {
        entries.set(key, this.node(this.pos, next.indent));
      } else {
        entries.set(key, this.nullAt(t.line));
      }
    }
    return { kind: "map", entries, at };
  }

  scalar(raw: string, line: number): TreeNode {
    const text = stripComment(raw);
    const at = this.locate(line);
    if (text === "") return this.nullAt(line);
    if (text.startsWith('"')) {
      if (text.length < 2 || !text.endsWith('"')) throw new Decline();
      const value = unquoteDouble(text);
      return { kind: "scalar", value, text: value, at };
    }
    if (text.startsWith("'")) {
      const inner = text.slice(1, -1);
      if (text.length < 2 || !text.endsWith("'") || /(^|[^'])'($|[^'])/.test(inner)) {
        throw new Decline();
      }
      const value = inner.replace(/''/g, "'");
      return { kind: "scalar", value, text: value, at };
    }
    if (UNSUPPORTED_START.test(text) || text.startsWith("- ") || /:\s|:$/.test(text)) {
      throw new Decline();
    }
    return { kind: "scalar", value: plainValue(text), text, at };
  }

  nullAt(line: number): TreeNode {
    return { kind: "scalar", value: null, text: "", at: this.locate(line) };
  }
}

/** YAML 1.2 core schema for plain scalars; exotic spellings decline. */
function plainValue(text: string): unknown {
  if (/^(?:null|Null|NULL|~)$/.test(text)) return null;
  if (/^(?:true|True|TRUE)$/.test(text)) return true;
  if (/^(?:false|False|FALSE)$/.test(text)) return false;
  if (INT_RE.test(text)) {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new Decline();
    return n;
  }
  if (FLOAT_RE.test(text)) return Number(text);
  if (/^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$|^0[xo]/.test(text)) throw new Decline();
  return text;
}

function unquoteDouble(text: string): string {
  // JSON's escapes are a subset of YAML's; the rest decline.
  try {
    const value = JSON.parse(text);
    if (typeof value !== "string") throw new Decline();
    return value;
  } catch {
    throw new Decline();
  }
}

/** `value  # comment` → `value`, leaving `#` inside quotes and words alone. */
function stripComment(raw: string): string {
  let quote = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quote !== "") {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
    } else if ((c === '"' || c === "'") && i === 0) {
      quote = c;
    } else if (c === "#" && i > 0 && /\s/.test(raw[i - 1])) {
      return raw.slice(0, i).trimEnd();
    }
  }
  return raw.trim();
}
