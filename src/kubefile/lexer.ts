/**
 * Splits an instruction file into logical instructions, as the Dockerfile parser does: parser
 * directives at the top, comments, line continuations with the escape character (comment and
 * blank lines inside a continuation are skipped), then each instruction's keyword, its leading
 * `--flags` and the rest of the line.
 *
 * The lexer is lazy so that a caller that rejects an instruction (RUN with a heredoc, say) stops
 * before the lines that follow are misread as instructions.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/** The escape character chosen by the `# escape=` directive. */
export type EscapeChar = "\\" | "`";

/** One logical instruction of an instruction file. */
export interface RawInstruction {
  /** Keyword as written (`copy`, `COPY`...). */
  keyword: string;
  /** `--name[=value]` words before the arguments, without the leading `--`. */
  flags: string[];
  /** The arguments after keyword and flags, trimmed. */
  rest: string;
  /** The whole logical line (continuations joined). */
  original: string;
  /** File name used in messages. */
  file: string;
  /** 1-based line where the instruction starts. */
  line: number;
  /** Escape character in force in this file. */
  escape: EscapeChar;
}

const DIRECTIVE_HEAD_RE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=/;
const LINE_TERMINATOR_RE = /[\n\r\u2028\u2029]/;
const KNOWN_DIRECTIVES = new Set(["escape", "syntax", "check"]);
const WHITESPACE_RE = /[\t\v\f\r ]+/;
const HEREDOC_WORD_RE = /^[0-9]*<<-?\S/;

/**
 * Name and value of a directive line, as Docker's `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
 * reads it. Not with that expression: its lazy value before `\s*$` takes quadratic time on a long
 * run of blanks inside the line.
 */
export function parseDirective(text: string): { name: string; value: string } | undefined {
  const head = DIRECTIVE_HEAD_RE.exec(text);
  if (!head) return undefined;
  const after = text.slice(head[0].length);
  const value = after.trim();
  if (value !== "") {
    // `.` matches no line terminator.
    return LINE_TERMINATOR_RE.test(value) ? undefined : { name: head[1], value };
  }
  // Only blanks: the expression takes the last one that `.` matches as the value.
  const last = Array.from(after).reverse().find((ch) => !LINE_TERMINATOR_RE.test(ch));
  return last === undefined ? undefined : { name: head[1], value: last };
}

function where(file: string, line: number): string {
  return `${file}:${line}`;
}

function trimLeadingWhitespace(text: string): string {
  return text.replace(/^[\t\v\f\r ]+/, "");
}

function isComment(text: string): boolean {
  return trimLeadingWhitespace(text).startsWith("#");
}

/** Tracks the directives at the top of a file; the first other line ends them. */
class Directives {
  escape: EscapeChar = "\\";
  #done = false;
  #seen = new Set<string>();

  constructor(readonly file: string) {}

  /** Examines one physical line (leading blanks removed). */
  consider(text: string, line: number): void {
    if (this.#done) return;
    const m = parseDirective(text);
    const name = m?.name.toLowerCase();
    if (!m || !name || !KNOWN_DIRECTIVES.has(name)) {
      this.#done = true;
      return;
    }
    if (this.#seen.has(name)) {
      throw new FerryError(
        "invalid_input",
        `${where(this.file, line)}: only one ${name} parser directive can be used`,
      );
    }
    this.#seen.add(name);
    if (name === "escape") {
      const value = m.value;
      if (value !== "\\" && value !== "`") {
        throw new FerryError(
          "invalid_input",
          `${where(this.file, line)}: invalid escape token '${value}' does not match \` or \\`,
        );
      }
      this.escape = value;
    }
  }

  /** Strips a trailing escape character (and blanks after it); reports whether the line ends. */
  trimContinuation(text: string): { text: string; ends: boolean } {
    const re = this.escape === "\\" ? /\\[ \t]*$/ : /`[ \t]*$/;
    const m = re.exec(text);
    if (!m) return { text, ends: true };
    return { text: text.slice(0, m.index), ends: false };
  }
}

/**
 * Splits the words before the arguments that start with `--`, honouring quotes and `\` escapes
 * inside them, as Docker's builder-flag extraction does. Returns the flags and the remaining text.
 */
export function extractFlags(text: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let phase: "spaces" | "word" | "quote" = "spaces";
  let word = "";
  let quote = "";
  let blankOk = false;
  for (let pos = 0; pos <= text.length; pos++) {
    const atEnd = pos === text.length;
    let ch = atEnd ? "" : text[pos];
    if (phase === "spaces") {
      if (atEnd) break;
      if (/\s/.test(ch)) continue;
      if (ch !== "-" || pos + 1 === text.length || text[pos + 1] !== "-") {
        return { flags: stripDashes(flags), rest: text.slice(pos) };
      }
      phase = "word";
    }
    if (atEnd) {
      if (word !== "--" && (blankOk || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === "word") {
      if (/\s/.test(ch)) {
        phase = "spaces";
        if (word === "--") return { flags: stripDashes(flags), rest: text.slice(pos) };
        if (blankOk || word.length > 0) flags.push(word);
        word = "";
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = "quote";
        continue;
      }
      if (ch === "\\") {
        if (pos + 1 === text.length) continue;
        pos++;
        ch = text[pos];
      }
      word += ch;
      continue;
    }
    // phase === "quote"
    if (ch === quote) {
      phase = "word";
      continue;
    }
    if (ch === "\\") {
      if (pos + 1 === text.length) {
        phase = "word";
        continue;
      }
      pos++;
      ch = text[pos];
    }
    word += ch;
  }
  return { flags: stripDashes(flags), rest: "" };
}

function stripDashes(words: string[]): string[] {
  return words.map((w) => w.slice(2));
}

/**
 * Splits `text` into blank-separated words keeping quotes and escapes in them (they are removed
 * later by substitution), as Docker does for ENV, LABEL and ARG.
 */
export function splitWords(text: string, escape: EscapeChar): string[] {
  const words: string[] = [];
  let phase: "spaces" | "word" | "quote" = "spaces";
  let word = "";
  let quote = "";
  let blankOk = false;
  const chars = Array.from(text);
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    let ch = atEnd ? "" : chars[pos];
    if (phase === "spaces") {
      if (atEnd) break;
      if (/\s/u.test(ch)) continue;
      phase = "word";
    }
    if (atEnd) {
      if (blankOk || word.length > 0) words.push(word);
      break;
    }
    if (phase === "word") {
      if (/\s/u.test(ch)) {
        phase = "spaces";
        if (blankOk || word.length > 0) words.push(word);
        word = "";
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = "quote";
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        // An escape outside quotes keeps itself and the next character, even a quote.
        word += ch;
        pos++;
        ch = chars[pos];
      }
      word += ch;
      continue;
    }
    // phase === "quote"
    if (ch === quote) phase = "word";
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = "word";
        continue;
      }
      pos++;
      word += ch;
      ch = chars[pos];
    }
    word += ch;
  }
  return words;
}

/** Splits on runs of blanks, as Docker does for FROM, EXPOSE and the plain form of COPY. */
export function splitBlank(text: string): string[] {
  const trimmed = text.trim();
  return trimmed === "" ? [] : trimmed.split(WHITESPACE_RE);
}

/** Thrown by {@link parseJsonArray} for a JSON array holding something other than strings. */
export class NotStringArrayError extends Error {
  constructor() {
    super("when using JSON array syntax, arrays must be comprised of strings only");
    this.name = "NotStringArrayError";
  }
}

/**
 * Parses the exec (JSON array) form. Returns `undefined` when `text` is not a JSON array, so the
 * caller falls back to the shell or plain form; throws when it is an array of non-strings.
 */
export function parseJsonArray(text: string): string[] | undefined {
  const trimmed = text.replace(/^\s+/u, "");
  if (!trimmed.startsWith("[")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === "string")) throw new NotStringArrayError();
  return value as string[];
}

/** True when a line holds a heredoc word (`<<EOF`, `<<-"EOF"`). */
function hasHeredoc(rest: string): boolean {
  return rest.includes("<<") && splitBlank(rest).some((w) => HEREDOC_WORD_RE.test(w));
}

/**
 * Lexes one instruction file lazily.
 *
 * @param text file contents
 * @param file name used in messages (`Kubefile`, `sub/Dockerfile`)
 * @throws {FerryError} `invalid_input` for bad directives and heredocs in COPY/ADD (unsupported).
 */
export function* lexInstructions(text: string, file: string): Generator<RawInstruction> {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[0].startsWith("\uFEFF")) lines[0] = lines[0].slice(1);
  const directives = new Directives(file);
  let index = 0;
  let emitted = false;
  while (index < lines.length) {
    const lineNo = index + 1;
    const raw = lines[index++].replace(/[\r\n]+$/, "");
    const stripped = trimLeadingWhitespace(raw);
    directives.consider(stripped, lineNo);
    const first = directives.trimContinuation(isComment(stripped) ? "" : stripped);
    if (first.ends && first.text.length === 0) continue;
    let logical = first.text;
    let ends = first.ends;
    while (!ends && index < lines.length) {
      const physical = lines[index++].replace(/[\r\n]+$/, "");
      directives.consider(trimLeadingWhitespace(physical), index);
      if (isComment(physical)) continue;
      if (trimLeadingWhitespace(physical).length === 0) continue;
      const next = directives.trimContinuation(physical);
      logical += next.text;
      ends = next.ends;
    }
    const trimmed = logical.trim();
    if (trimmed === "") continue;
    const [keyword, after = ""] = splitKeyword(trimmed);
    const { flags, rest } = extractFlags(after);
    const instruction: RawInstruction = {
      keyword,
      flags,
      rest: rest.trim(),
      original: logical,
      file,
      line: lineNo,
      escape: directives.escape,
    };
    const lower = keyword.toLowerCase();
    if ((lower === "copy" || lower === "add") && hasHeredoc(instruction.rest)) {
      throw new FerryError(
        "unsupported",
        `${
          where(file, lineNo)
        }: ${keyword.toUpperCase()} with a heredoc (<<) is not supported; put the content in a file in the build context`,
      );
    }
    emitted = true;
    yield instruction;
  }
  if (!emitted) {
    throw new FerryError("invalid_input", `${file}: file with no instructions`);
  }
}

function splitKeyword(line: string): [string, string?] {
  const m = WHITESPACE_RE.exec(line);
  if (!m) return [line];
  return [line.slice(0, m.index), line.slice(m.index + m[0].length)];
}
