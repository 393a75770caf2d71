/**
 * Text bound for a terminal, made inert. Much of what ferry prints was written by someone else: a
 * registry's error message, a label of an image, a file name in an archive or a build context. A
 * hostile one could hold terminal control sequences (retitle the window, clear the screen, write
 * the clipboard with OSC 52, hide text) or a newline followed by a fake `ferry:` line. Every line
 * ferry writes for people goes through {@link terminalSafe}, and JSON through {@link jsonSafe}.
 *
 * @module
 */

/**
 * Control characters (C0, DEL, C1), and the Unicode controls that reorder or hide text (bidi
 * embeddings, overrides and isolates; zero-width marks are left, as they only join or split).
 */
// deno-lint-ignore no-control-regex -- control characters are exactly what is looked for
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
// deno-lint-ignore no-control-regex -- the same, less newline and tab
const UNSAFE_BUT_LINES = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** Options of {@link terminalSafe}. */
export interface TerminalSafeOptions {
  /** Keep newlines and tabs (a listing of several lines); default false: one line. */
  lines?: boolean;
}

/**
 * `text` with every control character written as a visible escape (`\x1b`, `\n`, `\u202e`), so
 * that it prints as the characters it holds and, unless `lines`, as one line.
 */
export function terminalSafe(text: string, options: TerminalSafeOptions = {}): string {
  return text.replace(options.lines ? UNSAFE_BUT_LINES : UNSAFE, escape);
}

function escape(c: string): string {
  switch (c) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  const code = c.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Characters `JSON.stringify` leaves raw that a terminal may still act on or that reorder text:
 * DEL, C1 controls (U+009B is CSI to some terminals), line and paragraph separators, bidi controls.
 */
const JSON_UNSAFE = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text (from `JSON.stringify`, which escapes C0 controls itself) with the characters it
 * leaves raw written as `\uXXXX` escapes: the same JSON value, inert on a terminal.
 */
export function jsonSafe(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
