/**
 * Mutations of build-context files for fuzzing discovery: YAML-aware edits of lines (indentation,
 * anchors and aliases, tags, document separators, huge scalars, deep nesting, flow collections)
 * on top of the byte-wise edits of `fuzz.ts`.
 *
 * @module
 */
import { byteMutator, type Mutator, type Rng } from "./fuzz.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Tokens of YAML and of the Kubernetes and Helm fields discovery reads. */
export const YAML_DICTIONARY: readonly string[] = [
  "---\n",
  "...\n",
  "- ",
  ": ",
  "&a ",
  "*a",
  "<<: *a\n",
  "!!str ",
  "!!map ",
  "!!binary ",
  "!custom ",
  "? ",
  "|\n",
  ">-\n",
  "{",
  "}",
  "[",
  "]",
  '"',
  "'",
  "#",
  "\t",
  "image: ",
  "image:\n  repository: ",
  "repository: ",
  "tag: ",
  "digest: ",
  "registry: ",
  "containers:\n",
  "initContainers:\n",
  "env:\n",
  "value: ",
  "args:\n",
  "{{ .Values.image }}",
  "{{- if .Values.x }}",
  "%YAML 1.2\n",
  "%TAG ! tag:x,2000:\n",
  "\uFEFF",
  "\r\n",
];

/** A line-level YAML edit of `text`. */
function mutateYamlLines(text: string, rng: Rng): string {
  const lines = text.split("\n");
  const at = rng.int(lines.length);
  const indentOf = (line: string) => line.length - line.trimStart().length;
  switch (rng.int(10)) {
    case 0: // shift a line's indentation
      lines[at] = rng.chance(0.5)
        ? " ".repeat(1 + rng.int(8)) + lines[at]
        : lines[at].slice(Math.min(indentOf(lines[at]), 1 + rng.int(4)));
      break;
    case 1: { // anchor a line's value and alias it elsewhere, sometimes many times
      const key = lines[at].indexOf(": ");
      if (key !== -1) lines[at] = `${lines[at].slice(0, key + 2)}&a ${lines[at].slice(key + 2)}`;
      const to = rng.int(lines.length + 1);
      const times = rng.chance(0.3) ? 100 + rng.int(1000) : 1;
      const alias = `${" ".repeat(indentOf(lines[at]))}k${rng.int(100)}: *a`;
      lines.splice(to, 0, ...Array.from({ length: times }, (_, i) => `${alias}${i}`));
      break;
    }
    case 2: { // a billion laughs
      const levels = 5 + rng.int(10);
      const bomb = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
      for (let i = 1; i < levels; i++) {
        bomb.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
      }
      bomb.push(`image: *a${levels - 1}`);
      lines.splice(at, 0, ...bomb);
      break;
    }
    case 3: { // deep nesting, block or flow
      const depth = 50 + rng.int(rng.chance(0.5) ? 200 : 20_000);
      const form = rng.int(4);
      if (form === 0) {
        lines.splice(at, 0, "[".repeat(depth) + "]".repeat(depth));
      } else if (form === 1) {
        lines.splice(at, 0, "{a: ".repeat(depth) + "1" + "}".repeat(depth));
      } else {
        const block: string[] = [];
        for (let i = 0; i < Math.min(depth, 1200); i++) block.push(`${" ".repeat(i)}k:`);
        block.push(`${" ".repeat(Math.min(depth, 1200))}image: nginx`);
        lines.splice(at, 0, ...block);
      }
      break;
    }
    case 4: { // a huge scalar
      const size = 1000 + rng.int(100_000);
      const piece = rng.pick(["x", "a/", "  ", "\\", "'", "${", "{{"]);
      lines[at] += piece.repeat(Math.ceil(size / piece.length));
      break;
    }
    case 5: // a document separator
      lines.splice(at, 0, rng.pick(["---", "--- !!map", "...", "--- |", "---\t#"]));
      break;
    case 6: // a tag on a value
      lines[at] = lines[at].replace(
        ": ",
        `: ${rng.pick(["!!str", "!!int", "!!binary", "!!set", "!x"])} `,
      );
      break;
    case 7: // duplicate a block of lines
      lines.splice(at, 0, ...lines.slice(at, at + 1 + rng.int(10)));
      break;
    case 8: // a many-line run of list items or keys
      lines.splice(
        at,
        0,
        ...Array.from(
          { length: 1 + rng.int(1000) },
          (_, i) =>
            `${" ".repeat(indentOf(lines[at] ?? ""))}${
              rng.chance(0.5) ? "- " : `k${i}: `
            }image: x${i}`,
        ),
      );
      break;
    default: // swap two lines
    {
      const other = rng.int(lines.length);
      [lines[at], lines[other]] = [lines[other], lines[at]];
    }
  }
  return lines.join("\n");
}

/** Mutates YAML files: line-level YAML edits most of the time, else byte-wise edits. */
export function yamlMutator(): Mutator {
  const bytes = byteMutator({ dictionary: YAML_DICTIONARY, maxLength: 512 * 1024 });
  return (input, rng) => {
    if (rng.chance(0.35)) return bytes(input, rng);
    let text = decoder.decode(input);
    for (let edits = 1 + rng.int(3); edits > 0; edits--) text = mutateYamlLines(text, rng);
    return encoder.encode(text);
  };
}
