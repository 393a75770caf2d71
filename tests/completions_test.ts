/**
 * `ferry completions`: the generated scripts are valid in their shell and complete what a user
 * types. bash is driven through its completion function; zsh through a pseudo-terminal running
 * the real completion system; fish through `complete -C`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildProgram } from "../src/cli/mod.ts";
import {
  completionModel,
  completionsCommand,
  completionScript,
  type Shell,
} from "../src/cli/completions.ts";
import { Output } from "../src/cli/output.ts";
import { ferry } from "./ferry_cli.ts";
import { ignoreUnless, tempDir } from "./support/mod.ts";

/** The command tree as the CLI builds it, with `completions` in it. */
function program() {
  const root = buildProgram();
  if (!root.commands.some((c) => c.name() === "completions")) {
    root.addCommand(completionsCommand(() => root, () => new Output()));
  }
  return root;
}

/** Ignored where the shell is missing, except under CI (where .ci/run installs it). */
function shellTest(shell: "zsh" | "fish", name: string, fn: () => Promise<void>) {
  Deno.test({ name, ignore: ignoreUnless([shell]), fn });
}

async function run(cmd: string, args: string[], cwd?: string) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { HOME: cwd ?? "/tmp", LANG: "C.UTF-8" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function writeScript(dir: string, shell: Shell): Promise<string> {
  const path = join(dir, `ferry.${shell}`);
  await Deno.writeTextFile(path, completionScript(shell, program()));
  return path;
}

/** What each shell must offer for a command line (the cursor at its end). */
const CASES: [string, string[]][] = [
  ["ferry reg", ["registry"]],
  ["ferry registry s", ["save", "serve", "sync"]],
  ["ferry registry serve f", ["filesystem", "fs"]],
  ["ferry registry serve fs --log-level ", ["debug", "error", "info", "warn"]],
  ["ferry save --format ", ["docker-archive", "oci-archive"]],
  ["ferry --debug registry save --registry-dir /tmp --j", ["--json"]],
  ["ferry registry save --tls-verify ", ["false", "true"]],
  ["ferry completions ", ["bash", "fish", "zsh"]],
  ["ferry -q pu", ["pull", "push"]],
  ["ferry registry serve fs -p 5000 --re", ["--read-only"]],
];

Deno.test("the completion model holds every command, alias, flag and choice of the tree", () => {
  const model = completionModel(program());
  const names = model.subcommands.map((c) => c.name);
  for (const n of ["registry", "context", "copy", "save", "completions", "help"]) {
    assert.ok(names.includes(n), `${n} missing from ${names}`);
  }
  const registry = model.subcommands.find((c) => c.name === "registry")!;
  const serve = registry.subcommands.find((c) => c.name === "serve")!;
  const fs = serve.subcommands.find((c) => c.name === "filesystem")!;
  assert.deepEqual(fs.aliases, ["fs"]);
  const logLevel = fs.options.find((o) => o.long === "--log-level")!;
  assert.deepEqual(logLevel.value, { kind: "words", words: ["error", "warn", "info", "debug"] });
  assert.equal(logLevel.takes, "required");
  // global flags are offered below the top level too; hidden ones (--arch) never
  const save = registry.subcommands.find((c) => c.name === "save")!;
  const flags = save.options.map((o) => o.long);
  assert.ok(flags.includes("--debug") && flags.includes("--quiet") && flags.includes("--help"));
  assert.ok(!flags.includes("--arch"));
  assert.deepEqual(save.options.find((o) => o.long === "--registry-dir")!.value, { kind: "dir" });
  assert.deepEqual(save.options.find((o) => o.long === "--authfile")!.value, { kind: "file" });
  assert.deepEqual(save.arguments.map((a) => [a.name, a.required]), [["context", false]]);
});

Deno.test("bash: the script parses and completes commands, flags, choices and --flag=value", async () => {
  await using dir = await tempDir("ferry-compl-");
  const script = await writeScript(dir.path, "bash");
  assert.equal((await run("bash", ["-n", script])).code, 0);
  // A harness that sets COMP_WORDS as bash does (with the default COMP_WORDBREAKS, "=" is a word).
  const harness = [
    `source ${JSON.stringify(script)}`,
    `c() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _ferry;`,
    `  printf '%s\\n' "\${COMPREPLY[*]}"; }`,
    ...CASES.map(([line]) => {
      const words = line.split(" ");
      return `c ${words.map((w) => JSON.stringify(w)).join(" ")}`;
    }),
    `c ferry registry save --tls-verify = f`,
    `c ferry registry save --tls-verify=f`,
  ].join("\n");
  const out = await run("bash", ["-c", harness], dir.path);
  assert.equal(out.code, 0, out.stderr);
  const lines = out.stdout.split("\n");
  CASES.forEach(([line, want], i) => {
    assert.deepEqual(lines[i].split(" ").filter(Boolean).sort(), want, `bash: ${line}`);
  });
  assert.equal(lines[CASES.length], "false");
  assert.equal(lines[CASES.length + 1], "--tls-verify=false");
});

Deno.test("bash: directory values complete to directories", async () => {
  await using dir = await tempDir("ferry-compl-");
  const script = await writeScript(dir.path, "bash");
  await Deno.mkdir(dir.join("registry-a"));
  await Deno.writeTextFile(dir.join("registry-b.txt"), "");
  const out = await run("bash", [
    "-c",
    `source ${JSON.stringify(script)}; COMP_WORDS=(ferry registry save --registry-dir reg); ` +
    `COMP_CWORD=4; _ferry; printf '%s\\n' "\${COMPREPLY[@]}"`,
  ], dir.path);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(out.stdout.trim().split("\n"), ["registry-a"]);
});

/** Runs zsh's real completion system in a pseudo-terminal and prints every match it adds. */
const ZSH_HARNESS = `
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'PROMPT= RPROMPT= PS2='
zpty -w z 'autoload -U compinit && compinit -u -D'
zpty -w z "source \${(q)1}"
zpty -w z 'compadd () { local -a __hits; builtin compadd -O __hits "$@"; (( $#__hits )) && print -rl -- "<hit>"\${^__hits}; builtin compadd "$@" }'
zpty -w z 'zle -C comp-done complete-word comp-done-run; comp-done-run () { _main_complete; print -r -- "<done>"; }'
zpty -w z 'bindkey "^X" comp-done'
zpty -w z "print -r -- '<ready>'"
local line
while zpty -r z line; do [[ $line == *'<ready>'* && $line != *print* ]] && break; done
zpty -w -n z "$2"$'\\C-X'
while zpty -r z line; do
  [[ $line == *'<done>'* ]] && break
  [[ $line == *'<hit>'* ]] && print -r -- "\${\${line#*<hit>}%%$'\\r'}"
done
zpty -d z
`;

shellTest(
  "zsh",
  "zsh: the script parses and the completion system offers the right matches",
  async () => {
    await using dir = await tempDir("ferry-compl-");
    const script = await writeScript(dir.path, "zsh");
    const check = await run("zsh", ["-n", script]);
    assert.equal(check.code, 0, check.stderr);
    const harness = dir.join("harness.zsh");
    await Deno.writeTextFile(harness, ZSH_HARNESS);
    for (const [line, want] of CASES) {
      const out = await run("timeout", ["20", "zsh", "-f", harness, script, line], dir.path);
      assert.equal(out.code, 0, `zsh: ${line}: ${out.stderr}`);
      const got = [...new Set(out.stdout.split("\n").map((s) => s.trim()).filter(Boolean))].sort();
      assert.deepEqual(got, want, `zsh: ${line}`);
    }
  },
);

shellTest("fish", "fish: the script parses and complete -C offers the right matches", async () => {
  await using dir = await tempDir("ferry-compl-");
  const script = await writeScript(dir.path, "fish");
  const check = await run("fish", ["--no-config", "-n", script]);
  assert.equal(check.code, 0, check.stderr);
  const commands = CASES.map(([line]) => `complete -C ${JSON.stringify(line)}; echo '<end>'`);
  const out = await run("fish", [
    "--no-config",
    "-c",
    `source ${JSON.stringify(script)}; ${commands.join("; ")}`,
  ], dir.path);
  assert.equal(out.code, 0, out.stderr);
  const groups = out.stdout.split("<end>\n");
  CASES.forEach(([line, want], i) => {
    const got = groups[i].split("\n").filter(Boolean).map((l) => l.split("\t")[0]).sort();
    assert.deepEqual(got, want, `fish: ${line}`);
  });
});

Deno.test("ferry completions SHELL prints the script; an unknown shell is a usage error", async () => {
  const bash = await ferry(["completions", "bash"]);
  assert.equal(bash.code, 0, bash.stderr);
  assert.match(bash.stdout, /^# bash completion for ferry/);
  assert.match(bash.stdout, /complete -F _ferry ferry\n$/);
  const zsh = await ferry(["completions", "zsh"]);
  assert.match(zsh.stdout, /^#compdef ferry\n/);
  const fish = await ferry(["completions", "fish"]);
  assert.match(fish.stdout, /^# fish completion for ferry/);
  const bad = await ferry(["completions", "tcsh"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /tcsh/);
});
