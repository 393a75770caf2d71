/**
 * Variable substitution in instruction arguments, as the Dockerfile frontend does it.
 *
 * A word is scanned like a shell word: `'…'` is literal, `"…"` allows `$` substitution and escapes
 * of `"`, `$` and the escape character, the escape character outside quotes makes the next
 * character literal, and `$NAME`, `${NAME}` and the `${NAME…}` modifiers substitute variables.
 * Quotes and escape characters are removed from the result. Nothing is executed: there is no
 * command substitution, and `$(…)` is kept as text.
 *
 * Supported modifiers: `:-` `-` (default), `:+` `+` (alternative), `:?` `?` (required),
 * `#` `##` `%` `%%` (trim prefix/suffix by a `*`/`?` pattern) and `/` `//` (replace).
 *
 * @module
 */
import { regexpLiteral } from "../glob_syntax.ts";

/** Looks a variable up; `undefined` when it is not set. */
export type VariableLookup = (name: string) => string | undefined;

/** A syntax error in a word; callers add the file and line. */
export class SubstitutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SubstitutionError";
  }
}

const EOF = "";

/** Result of scanning a word: the joined string and the word list (split on unquoted blanks). */
interface Scanned {
  result: string;
  words: string[];
}

class Words {
  #word = "";
  #inWord = false;
  #words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.#inWord && this.#word.length > 0) {
        this.#words.push(this.#word);
        this.#word = "";
        this.#inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.#word += ch;
    this.#inWord = true;
  }

  addString(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  addRawString(text: string): void {
    this.#word += text;
    this.#inWord = true;
  }

  finish(): string[] {
    if (this.#word.length > 0) {
      this.#words.push(this.#word);
      this.#word = "";
      this.#inWord = false;
    }
    return this.#words;
  }
}

function isSpace(ch: string): boolean {
  return /^\s$/u.test(ch);
}

function isDigit(ch: string): boolean {
  return /^\p{Nd}$/u.test(ch);
}

function isNameChar(ch: string): boolean {
  return /^[\p{L}\p{Nd}_]$/u.test(ch);
}

const SPECIAL_PARAMS = new Set(["@", "*", "#", "?", "-", "$", "!", "0"]);

class Scanner {
  readonly #chars: string[];
  #pos = 0;
  readonly #lookup: VariableLookup;
  readonly #escape: string;
  #rawEscapes = false;

  constructor(word: string, lookup: VariableLookup, escape: string) {
    this.#chars = Array.from(word);
    this.#lookup = lookup;
    this.#escape = escape;
  }

  peek(): string {
    return this.#chars[this.#pos] ?? EOF;
  }

  next(): string {
    const ch = this.#chars[this.#pos] ?? EOF;
    if (ch !== EOF) this.#pos++;
    return ch;
  }

  /** Scans until `stop` (consumed) or the end of the word when `stop` is EOF. */
  scanUntil(stop: string, rawEscapes: boolean): Scanned {
    const saved = this.#rawEscapes;
    this.#rawEscapes = rawEscapes;
    try {
      return this.#scanUntil(stop);
    } finally {
      this.#rawEscapes = saved;
    }
  }

  #scanUntil(stop: string): Scanned {
    let result = "";
    const words = new Words();
    while (this.peek() !== EOF) {
      let ch = this.peek();
      if (stop !== EOF && ch === stop) {
        this.next();
        return { result, words: words.finish() };
      }
      if (ch === "$") {
        const value = this.#dollar();
        result += value;
        words.addString(value);
        continue;
      }
      if (ch === "'" || ch === '"') {
        const value = ch === "'" ? this.#singleQuote() : this.#doubleQuote();
        result += value;
        words.addRawString(value);
        continue;
      }
      ch = this.next();
      if (ch === this.#escape) {
        if (this.#rawEscapes) {
          words.addRawChar(ch);
          result += ch;
        }
        ch = this.next();
        if (ch === EOF) break;
        words.addRawChar(ch);
      } else {
        words.addChar(ch);
      }
      result += ch;
    }
    if (stop !== EOF) {
      throw new SubstitutionError(`unexpected end of statement while looking for matching ${stop}`);
    }
    return { result, words: words.finish() };
  }

  #singleQuote(): string {
    this.next();
    let result = "";
    for (;;) {
      const ch = this.next();
      if (ch === EOF) {
        throw new SubstitutionError(
          "unexpected end of statement while looking for matching single-quote",
        );
      }
      if (ch === "'") return result;
      result += ch;
    }
  }

  #doubleQuote(): string {
    this.next();
    let result = "";
    for (;;) {
      const peeked = this.peek();
      if (peeked === EOF) {
        throw new SubstitutionError(
          "unexpected end of statement while looking for matching double-quote",
        );
      }
      if (peeked === '"') {
        this.next();
        return result;
      }
      if (peeked === "$") {
        result += this.#dollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.#escape) {
        if (this.#rawEscapes) result += ch;
        const after = this.peek();
        if (after === EOF) continue;
        // Only these can be escaped inside double quotes; other escapes stay as written.
        if (after === '"' || after === "$" || after === this.#escape) ch = this.next();
      }
      result += ch;
    }
  }

  #name(): string {
    let name = "";
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === "" && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name === "" && SPECIAL_PARAMS.has(ch)) return this.next();
      if (!isNameChar(ch)) break;
      name += this.next();
    }
    return name;
  }

  /** `${name<op>word}` for the `-`, `+`, `?`, `#` and `%` families (with or without `:`). */
  #modifier(name: string, first: string): string {
    let ch = first;
    let modifier = ch;
    const nullIsUnset = ch === ":";
    if (nullIsUnset) {
      ch = this.next();
      modifier += ch;
    }
    let word: string;
    try {
      word = this.scanUntil("}", ch === "#" || ch === "%").result;
    } catch (err) {
      if (this.peek() === EOF) throw new SubstitutionError("syntax error: missing '}'");
      throw err;
    }
    const value = this.#lookup(name);
    const unset = value === undefined || (nullIsUnset && value === "");
    switch (ch) {
      case "-":
        return unset ? word : value!;
      case "+":
        return unset ? "" : word;
      case "?":
        if (value === undefined) {
          throw new SubstitutionError(`${name}: ${word || "is not allowed to be unset"}`);
        }
        if (nullIsUnset && value === "") {
          throw new SubstitutionError(`${name}: ${word || "is not allowed to be empty"}`);
        }
        return value;
      case "#":
      case "%": {
        let pattern = word;
        let greedy = false;
        if (pattern.startsWith(ch)) {
          greedy = true;
          pattern = pattern.slice(1);
        }
        return ch === "%"
          ? trimSuffix(pattern, value ?? "", greedy)
          : trimPrefix(pattern, value ?? "", greedy);
      }
      default:
        throw new SubstitutionError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  #dollar(): string {
    this.next();
    if (this.peek() !== "{") {
      const name = this.#name();
      if (name === "") return "$";
      return this.#lookup(name) ?? "";
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new SubstitutionError("syntax error: missing '}'");
    if (first === "{" || first === "}" || first === ":") {
      throw new SubstitutionError("syntax error: bad substitution");
    }
    const name = this.#name();
    const ch = this.next();
    switch (ch) {
      case EOF:
        throw new SubstitutionError("syntax error: missing '}'");
      case "}":
        return this.#lookup(name) ?? "";
      case ":":
      case "+":
      case "-":
      case "?":
      case "#":
      case "%":
        return this.#modifier(name, ch);
      case "/": {
        const all = this.peek() === "/";
        if (all) this.next();
        let pattern: string;
        let replacement: string;
        try {
          pattern = this.scanUntil("/", true).result;
        } catch (err) {
          if (this.peek() === EOF) throw new SubstitutionError("syntax error: missing '/' in ${}");
          throw err;
        }
        try {
          replacement = this.scanUntil("}", true).result;
        } catch (err) {
          if (this.peek() === EOF) throw new SubstitutionError("syntax error: missing '}'");
          throw err;
        }
        const value = this.#lookup(name) ?? "";
        const re = shellPatternToRegExp(pattern, true, false, all);
        if (all) return value.replace(re, () => replacement);
        const m = re.exec(value);
        if (!m) return value;
        return value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length);
      }
      default:
        throw new SubstitutionError(`unsupported modifier (${ch}) in substitution`);
    }
  }
}

/** Converts a `*`/`?` shell pattern (no brackets) to a regular expression. */
function shellPatternToRegExp(
  pattern: string,
  greedy: boolean,
  anchored: boolean,
  global = false,
): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? "^" : "";
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === "*") out += greedy ? "[\\s\\S]*" : "[\\s\\S]*?";
    else if (ch === "?") out += "[\\s\\S]";
    else if (ch === "\\") {
      const nextCh = chars[i + 1];
      // `}` and `/` are escaped only to end the ${} syntax; the escape is not part of the pattern.
      if (nextCh === "}" || nextCh === "/") continue;
      i++;
      if (nextCh !== "*" && nextCh !== "?" && nextCh !== "\\") {
        throw new SubstitutionError(
          `invalid pattern (${pattern}) in substitution: invalid escape '\\${nextCh ?? ""}'`,
        );
      }
      out += regexpLiteral(nextCh);
    } else out += regexpLiteral(ch);
  }
  return new RegExp(out, global ? "gu" : "u");
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Reverses a pattern keeping `\x` escapes in front of the character they escape. */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last;) {
    const at = last - i;
    if (chars[i] === "\\" && i !== last) {
      out[at - 1] = chars[i];
      out[at] = chars[i + 1];
      i += 2;
    } else {
      out[at] = chars[i];
      i++;
    }
  }
  return out.join("");
}

function reverseString(text: string): string {
  return Array.from(text).reverse().join("");
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  // A regular expression finds the leftmost match only: reverse both to trim from the right.
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/**
 * Substitutes variables in one word and removes quotes and escapes; blanks stay inside the
 * result (`ENV A="x y"` gives `x y`).
 *
 * @throws {SubstitutionError} on unterminated quotes or bad `${…}` syntax.
 */
export function expandWord(word: string, lookup: VariableLookup, escape = "\\"): string {
  return new Scanner(word, lookup, escape).scanUntil(EOF, false).result;
}

/**
 * Substitutes variables like {@link expandWord}, then splits the result on blanks that were not
 * quoted or escaped (`EXPOSE $PORTS` with `PORTS="80 443"` gives two words).
 *
 * @throws {SubstitutionError} on unterminated quotes or bad `${…}` syntax.
 */
export function expandWords(word: string, lookup: VariableLookup, escape = "\\"): string[] {
  return new Scanner(word, lookup, escape).scanUntil(EOF, false).words;
}
