/**
 * Every command's `--help` is a usable manual page: a description, every flag (with its default
 * where it has one) and at least one example; and docs/COMMANDS.md, the command reference, covers
 * every command and flag.
 *
 * `FERRY_UPDATE_DOCS=1 deno test --allow-all tests/help_test.ts` rewrites docs/COMMANDS.md from
 * the help texts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AnyCommand, Command } from "../src/cli/command/mod.ts";
import { buildProgram } from "../src/cli/mod.ts";
import { completionsCommand } from "../src/cli/completions.ts";
import { Output } from "../src/cli/output.ts";
import { ferry } from "./ferry_cli.ts";
import { REPO_ROOT } from "./support/mod.ts";

const COMMANDS_DOC = join(REPO_ROOT, "docs", "COMMANDS.md");

/** The command tree as the CLI builds it, with `completions` in it. */
function program(): AnyCommand {
  const root = buildProgram();
  if (!root.commands.some((c) => c.name() === "completions")) {
    root.addCommand(completionsCommand(() => root, () => new Output()));
  }
  return root;
}

/** Every command below (and with) `cmd`, with its path of names. */
function commands(cmd: AnyCommand, path: string[] = []): [string[], AnyCommand][] {
  return [
    [path, cmd],
    ...cmd.commands.flatMap((c) => commands(c, [...path, c.name()])),
  ];
}

/** The full `--help` text of a command, the "after" text (examples) included. */
function helpText(cmd: AnyCommand): string {
  return cmd.helpText(100);
}

/** What a command's help lacks (empty when it is complete). */
function problems(path: string[], cmd: AnyCommand, text: string): string[] {
  const name = ["ferry", ...path].join(" ");
  const found: string[] = [];
  if (!cmd.description().trim()) found.push(`${name}: no description`);
  for (const option of cmd.visibleOptions()) {
    const line = text.split("\n").find((l) => l.trimStart().startsWith(option.flags));
    if (!line) {
      found.push(`${name}: ${option.flags} is not listed`);
      continue;
    }
    if (!option.description) found.push(`${name}: ${option.flags} has no description`);
    const hasDefault = option.defaultValue !== undefined && !option.negate;
    if (hasDefault && !/[(,] ?default: /.test(helpBlock(text, option.flags))) {
      found.push(`${name}: ${option.flags} does not show its default`);
    }
  }
  const examples = text.split(/^Examples:\n/m)[1];
  const lines = examples?.split("\n").filter((l) => /^\s+\S/.test(l) && /\bferry\b/.test(l)) ?? [];
  if (lines.length === 0) found.push(`${name}: no "Examples:" section with a ferry command`);
  return found;
}

/** The help lines of one option (its description may wrap onto following lines). */
function helpBlock(text: string, flags: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trimStart().startsWith(flags));
  const block = [lines[start]];
  for (let i = start + 1; i < lines.length && /^\s{10,}\S/.test(lines[i]); i++) {
    block.push(lines[i]);
  }
  return block.join(" ");
}

Deno.test("every command's --help has a description, its flags with defaults, and an example", () => {
  const all = commands(program());
  assert.ok(all.length > 20, `only ${all.length} commands found`);
  const found = all.flatMap(([path, cmd]) => problems(path, cmd, helpText(cmd)));
  assert.deepEqual(found, [], `help texts to complete:\n  ${found.join("\n  ")}`);
});

Deno.test("the help check catches a flag without its default, a missing flag, no examples", () => {
  const bare = new Command("bare").description("a command").option("--n <n>", "a number", "5");
  program().addCommand(bare);
  const text = "Usage: ferry bare [options]\n\nOptions:\n  --n <n>     a number\n";
  assert.deepEqual(problems(["bare"], bare, text), [
    "ferry bare: --n <n> does not show its default",
    "ferry bare: -h, --help is not listed",
    'ferry bare: no "Examples:" section with a ferry command',
  ]);
  const good = text.replace("a number", 'a number (default: "5")') +
    "  -h, --help  display help for command\n\nExamples:\n  ferry bare --n 3\n";
  assert.deepEqual(problems(["bare"], bare, good), []);
});

Deno.test("ferry --help and ferry COMMAND --help print the same help on stdout, exit 0", async () => {
  const root = await ferry(["--help"]);
  assert.equal(root.code, 0);
  assert.match(root.stdout, /^Usage: ferry \[options\] \[command\]/);
  const save = await ferry(["registry", "save", "--help"]);
  assert.equal(save.code, 0);
  assert.match(save.stdout, /^Usage: ferry registry save /);
  assert.match(save.stdout, /\nExamples:\n/);
  assert.equal(save.stderr, "");
});

/** docs/COMMANDS.md as generated from the help texts. */
function commandsDoc(): string {
  const sections = commands(program()).map(([path, cmd]) => {
    const name = ["ferry", ...path].join(" ");
    return `## \`${name}\`\n\n${cmd.description()}\n\n\`\`\`\n${helpText(cmd).trimEnd()}\n\`\`\`\n`;
  });
  return `# Command reference\n\n` +
    `Every command's \`--help\`, as printed by this version of ferry. Global flags (\`--debug\`, ` +
    `\`-q/--quiet\`) work with every command. Exit codes: 0 success, 1 failure, 2 usage error. ` +
    `\`--json\` output is described in [JSON.md](JSON.md).\n\n` +
    `<!-- generated: FERRY_UPDATE_DOCS=1 deno test --allow-all tests/help_test.ts -->\n\n` +
    sections.join("\n");
}

Deno.test("docs/COMMANDS.md covers every command and flag", async () => {
  if (Deno.env.get("FERRY_UPDATE_DOCS") === "1") {
    await Deno.writeTextFile(COMMANDS_DOC, commandsDoc());
    const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", COMMANDS_DOC] })
      .output();
    assert.ok(fmt.success, new TextDecoder().decode(fmt.stderr));
  }
  const doc = await Deno.readTextFile(COMMANDS_DOC);
  const missing: string[] = [];
  for (const [path, cmd] of commands(program())) {
    const name = ["ferry", ...path].join(" ");
    const start = doc.indexOf(`## \`${name}\`\n`);
    if (start < 0) {
      missing.push(name);
      continue;
    }
    const end = doc.indexOf("\n## ", start + 1);
    const section = doc.slice(start, end < 0 ? undefined : end);
    for (const option of cmd.visibleOptions()) {
      if (!section.includes(option.flags)) missing.push(`${name} ${option.flags}`);
    }
  }
  assert.deepEqual(
    missing,
    [],
    "docs/COMMANDS.md is out of date; regenerate it with " +
      "FERRY_UPDATE_DOCS=1 deno test --allow-all tests/help_test.ts",
  );
});

Deno.test("a usage mistake is one line on stderr naming the help to read, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^ferry: unknown option "--bogus" \(see ferry --help\)$/],
    [["regsitry", "save"], /^ferry: unknown command "regsitry"; did you mean registry\? /],
    [["registry", "save", "a", "b"], /^ferry: too many operands: "b" .*ferry registry save --help/],
    [["copy", "docker://a"], /^ferry: missing operand <destination> \(see ferry copy --help\)$/],
    [["save", "x"], /^ferry: missing required option -o, --output <file> /],
    [["save", "-o", "x", "--format", "zip", "a"], /^ferry: --format "zip": expected one of /],
    [["registry", "save", "--max-pull-procs=0"], /^ferry: --max-pull-procs: expected a positive/],
  ];
  for (const [args, want] of cases) {
    const run = await ferry(args);
    assert.equal(run.code, 2, `ferry ${args.join(" ")}: ${run.stderr}`);
    assert.equal(run.stdout, "");
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
    assert.match(run.stderr.trimEnd(), want);
  }
});
