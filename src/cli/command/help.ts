/**
 * The layout of help text: commander's, so ferry's help and docs/COMMANDS.md read as they did.
 *
 * @module
 */
import type { Argument, Option } from "./option.ts";

/** Below this many columns a description is not wrapped (as commander). */
const MIN_WRAP_WIDTH = 40;

/** A flag's help: its description, then its choices and default. */
export function optionDescription(option: Option<string, unknown, boolean>): string {
  const extra: string[] = [];
  if (option.argChoices) {
    extra.push(`choices: ${option.argChoices.map((c) => JSON.stringify(c)).join(", ")}`);
  }
  if (
    option.defaultValue !== undefined &&
    (option.takes !== "none" || typeof option.defaultValue === "boolean")
  ) {
    extra.push(
      `default: ${option.defaultValueDescription ?? JSON.stringify(option.defaultValue)}`,
    );
  }
  if (extra.length === 0) return option.description;
  return `${option.description} (${extra.join(", ")})`.trimStart();
}

/** An operand's help: its description, then its choices and default. */
export function argumentDescription(arg: Argument<string, unknown, boolean>): string {
  const extra: string[] = [];
  if (arg.argChoices) {
    extra.push(`choices: ${arg.argChoices.map((c) => JSON.stringify(c)).join(", ")}`);
  }
  if (arg.defaultValue !== undefined) extra.push(`default: ${JSON.stringify(arg.defaultValue)}`);
  if (extra.length === 0) return arg.description;
  return `${arg.description} (${extra.join(", ")})`.trimStart();
}

/** `  TERM  description`, the description wrapped beside the terms (two spaces each side). */
export function formatItem(
  term: string,
  termWidth: number,
  description: string,
  width: number,
): string {
  if (!description) return `  ${term}`;
  const room = width - termWidth - 4;
  // Descriptions with their own indented lines are laid out already.
  const text = room < MIN_WRAP_WIDTH || /\n[^\S\r\n]/.test(description)
    ? description
    : wrap(description, room).replace(/\n/g, "\n" + " ".repeat(termWidth + 2));
  return `  ${term.padEnd(termWidth)}  ${text.replace(/\n/g, "\n  ")}`;
}

/** `text` wrapped at whitespace to `width` columns, its own line breaks kept. */
export function wrap(text: string, width: number): string {
  if (width < MIN_WRAP_WIDTH) return text;
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const chunks = line.match(/\s*\S+/g);
    if (chunks === null) {
      lines.push("");
      continue;
    }
    let current = chunks[0];
    for (const chunk of chunks.slice(1)) {
      if (current.length + chunk.length <= width) {
        current += chunk;
      } else {
        lines.push(current);
        current = chunk.trimStart();
      }
    }
    lines.push(current);
  }
  return lines.join("\n");
}
