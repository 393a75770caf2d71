/**
 * `WWW-Authenticate` parsing (RFC 7235 §4.1): one header may carry several challenges, and quoted
 * parameter values may contain commas (`scope="repository:a/b:pull,push"`), so splitting on commas
 * is wrong. The parser is lenient: it never throws, and skips what it cannot read.
 *
 * @module
 */

/** One authentication challenge. */
export interface Challenge {
  /** Auth scheme, lowercased: `basic`, `bearer`. */
  scheme: string;
  /** Parameters with lowercased names and unquoted values (`realm`, `service`, `scope`, `error`). */
  params: Record<string, string>;
  /** The token68 form (`Negotiate abc==`), when the challenge used it instead of parameters. */
  token68?: string;
}

// tchar of RFC 7230 §3.2.6.
const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
// token68 of RFC 7235 §2.1, without its trailing "=" padding.
const TOKEN68_CHAR = /[A-Za-z0-9._~+/-]/;

/** Parses every challenge of a `WWW-Authenticate` header value. */
export function parseChallenges(header: string): Challenge[] {
  const p = new Parser(header);
  const out: Challenge[] = [];
  while (true) {
    p.skipSeparators();
    if (p.done()) break;
    const scheme = p.token();
    if (scheme === "") {
      p.pos++; // not a scheme: skip the offending character and resync
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    if (!p.spaces()) continue; // a bare scheme, followed by "," or the end
    const t68 = p.tryToken68();
    if (t68 !== undefined) {
      challenge.token68 = t68;
      continue;
    }
    parseParams(p, challenge.params);
  }
  return out;
}

/** Reads `name=value` pairs until something that is not a pair (the next challenge's scheme). */
function parseParams(p: Parser, params: Record<string, string>): void {
  while (true) {
    const save = p.pos;
    p.skipSeparators();
    if (p.done()) return;
    const name = p.token();
    p.spaces();
    if (name === "" || p.peek() !== "=") {
      p.pos = save; // the next challenge starts here
      return;
    }
    p.pos++; // "="
    p.spaces();
    const value = p.peek() === '"' ? p.quoted() : p.bare();
    const key = name.toLowerCase();
    // RFC 7235: each parameter name appears once; keep the first when a server repeats one.
    if (!(key in params)) params[key] = value;
    p.spaces();
    if (!p.done() && p.peek() !== ",") {
      // Junk after a value (e.g. an unquoted value with spaces): skip to the next comma.
      while (!p.done() && p.peek() !== ",") p.pos++;
    }
  }
}

class Parser {
  pos = 0;
  constructor(readonly text: string) {}
  done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(): string {
    return this.text[this.pos] ?? "";
  }
  /** Skips spaces and tabs; true when at least one was skipped. */
  spaces(): boolean {
    const start = this.pos;
    while (this.peek() === " " || this.peek() === "\t") this.pos++;
    return this.pos > start;
  }
  /** Skips whitespace and list commas (empty list elements are allowed by RFC 7230 §7). */
  skipSeparators(): void {
    while (/^[\s,]$/.test(this.peek())) this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (!this.done() && TCHAR.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }
  /**
   * An unquoted value. RFC 7235 allows only a token, but servers send unquoted URLs
   * (`realm=https://h/t`), so take everything up to a comma or whitespace.
   */
  bare(): string {
    const start = this.pos;
    while (!this.done() && !/^[\s,"]$/.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }
  /** A quoted string with backslash escapes; an unterminated one runs to the end. */
  quoted(): string {
    this.pos++; // opening quote
    let out = "";
    while (!this.done()) {
      const c = this.text[this.pos++];
      if (c === '"') return out;
      if (c === "\\" && !this.done()) out += this.text[this.pos++];
      else out += c;
    }
    return out;
  }
  /** Reads a token68 if one (and not an auth-param) follows; otherwise leaves the position. */
  tryToken68(): string | undefined {
    const start = this.pos;
    while (!this.done() && TOKEN68_CHAR.test(this.peek())) this.pos++;
    if (this.pos === start) return undefined;
    while (this.peek() === "=") this.pos++;
    const end = this.pos;
    this.spaces();
    // A token68 stands alone; "name=value" (or "name=\"value\"") is an auth-param instead.
    if (this.done() || this.peek() === ",") return this.text.slice(start, end);
    this.pos = start;
    return undefined;
  }
}
