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
import {
  PatternError,
  replacePattern,
  type StepBudget,
  stepBudget,
  trimPrefix,
  trimSuffix,
} from "./shell_pattern.ts";

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

/**
 * Deepest nesting of `${…}` inside the word of a `${NAME:-word}` modifier: the scanner recurses
 * once per level, so an unbounded depth would overflow the stack.
 */
export const MAX_SUBSTITUTION_DEPTH = 64;

/**
 * Longest result of substituting one word, in UTF-16 code units (1 MiB of ASCII): `ENV A=$A$A`
 * doubles a value on every line.
 */
export const MAX_EXPANDED_LENGTH = 1024 * 1024;

function checkLength(text: string): string {
  if (text.length > MAX_EXPANDED_LENGTH) {
    throw new SubstitutionError(
      `substitution result is longer than ${MAX_EXPANDED_LENGTH} characters`,
    );
  }
  return text;
}

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
    // Word by word rather than character by character: values can be long.
    const parts = text.split(/\s/u);
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) this.addChar(" ");
      if (parts[i].length > 0) this.addRawString(parts[i]);
    }
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
  #depth = 0;
  readonly #steps: StepBudget;

  constructor(word: string, lookup: VariableLookup, escape: string, steps: StepBudget) {
    this.#chars = Array.from(word);
    this.#steps = steps;
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
        result = checkLength(result + value);
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
        result = checkLength(result + this.#dollar());
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
        return patternOp(() =>
          ch === "%"
            ? trimSuffix(pattern, value ?? "", greedy, this.#steps)
            : trimPrefix(pattern, value ?? "", greedy, this.#steps)
        );
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
    if (this.#depth >= MAX_SUBSTITUTION_DEPTH) {
      throw new SubstitutionError(
        `substitutions nested more than ${MAX_SUBSTITUTION_DEPTH} levels deep`,
      );
    }
    this.#depth++;
    try {
      return checkLength(this.#braced());
    } finally {
      this.#depth--;
    }
  }

  /** `${…}` after the `${`. */
  #braced(): string {
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
        return patternOp(() =>
          replacePattern(pattern, this.#lookup(name) ?? "", replacement, {
            all,
            maxLength: MAX_EXPANDED_LENGTH,
            budget: this.#steps,
          })
        );
      }
      default:
        throw new SubstitutionError(`unsupported modifier (${ch}) in substitution`);
    }
  }
}

/** Runs a pattern operation, its errors reported as substitution errors. */
function patternOp(op: () => string): string {
  try {
    return op();
  } catch (err) {
    if (err instanceof PatternError) throw new SubstitutionError(err.message);
    throw err;
  }
}

/**
 * Substitutes variables in one word and removes quotes and escapes; blanks stay inside the
 * result (`ENV A="x y"` gives `x y`).
 *
 * `steps` bounds the work of `#`, `%` and `/` patterns; several calls may share one.
 *
 * @throws {SubstitutionError} on unterminated quotes, bad `${…}` syntax or a bound exceeded.
 */
export function expandWord(
  word: string,
  lookup: VariableLookup,
  escape = "\\",
  steps: StepBudget = stepBudget(),
): string {
  return new Scanner(word, lookup, escape, steps).scanUntil(EOF, false).result;
}

/**
 * Substitutes variables like {@link expandWord}, then splits the result on blanks that were not
 * quoted or escaped (`EXPOSE $PORTS` with `PORTS="80 443"` gives two words).
 *
 * @throws {SubstitutionError} on unterminated quotes, bad `${…}` syntax or a bound exceeded.
 */
export function expandWords(
  word: string,
  lookup: VariableLookup,
  escape = "\\",
  steps: StepBudget = stepBudget(),
): string[] {
  return new Scanner(word, lookup, escape, steps).scanUntil(EOF, false).words;
}
