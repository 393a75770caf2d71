/**
 * One progress line for a long step that is no transfer (hashing, marking, sweeping): redrawn in
 * place on a terminal, at most every {@link ProgressLineOptions.intervalMs} ms elsewhere (a line
 * each on stderr), never under `--quiet` or `--json` (those get events instead).
 *
 * @module
 */
import { terminalSafe } from "../terminal_text.ts";
import type { Output } from "./output.ts";

const encoder = new TextEncoder();

/** Options of {@link ProgressLine}. */
export interface ProgressLineOptions {
  /** Least time between two lines when stderr is no terminal (default 1000 ms). */
  intervalMs?: number;
  /** Redraw in place (default: stderr is a terminal). */
  live?: boolean;
}

/** A progress line on stderr; use {@link print} for result lines while it is shown. */
export class ProgressLine {
  #out: Output;
  #live: boolean;
  #interval: number;
  #last = 0;
  #shown = false;

  constructor(out: Output, options: ProgressLineOptions = {}) {
    this.#out = out;
    this.#live = !out.json && !out.quiet &&
      (options.live ?? (Deno.stderr.isTerminal() && Deno.env.get("TERM") !== "dumb"));
    this.#interval = options.intervalMs ?? 1000;
  }

  /** Shows `text`; `final` shows it whatever the time since the last line (a step's end). */
  update(text: string, final = false): void {
    if (this.#out.json || this.#out.quiet) return;
    const now = Date.now();
    if (this.#live) {
      // Redrawing costs a write: ten a second is smooth enough.
      if (!final && now - this.#last < 100) return;
      this.#last = now;
      Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${terminalSafe(text)}`));
      this.#shown = true;
      if (final) this.clear(true);
      return;
    }
    if (!final && now - this.#last < this.#interval) return;
    this.#last = now;
    this.#out.info(text);
  }

  /** A result line on stdout, below the progress line. */
  print(line: string): void {
    this.clear();
    this.#out.print(line);
  }

  /** Ends the line: kept (`keep`, a step's last figures) or erased. */
  clear(keep = false): void {
    if (!this.#shown) return;
    Deno.stderr.writeSync(encoder.encode(keep ? "\n" : "\r\x1b[K"));
    this.#shown = false;
  }
}
