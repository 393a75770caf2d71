/**
 * `ferry completions bash|zsh|fish`: shell completion scripts generated from the command tree, so
 * they always offer exactly the commands, flags and choices of this ferry build.
 *
 * The tree is first reduced to a plain {@link CompletionCommand} model (what a shell needs to know),
 * then each generator writes that model as static tables plus a small walker in the shell's own
 * language: no ferry process runs while the user presses TAB.
 *
 * @module
 */
import { type AnyCommand, Argument, Command, type Option } from "./command/mod.ts";
import type { Output } from "./output.ts";

/** The shells ferry writes completion scripts for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
/** A shell ferry writes completion scripts for. */
export type Shell = typeof SHELLS[number];

/** What the shell offers for a value: directories, files, fixed words, or nothing. */
export type ValueCompletion =
  | { kind: "dir" }
  | { kind: "file" }
  | { kind: "words"; words: string[] }
  | { kind: "none" };

/** One flag as the completion scripts see it. */
export interface CompletionOption {
  /** `--registry-dir`; absent for a short-only flag. */
  long?: string;
  /** `-o`; absent for a long-only flag. */
  short?: string;
  description: string;
  /** Whether the flag takes a value (`<x>` required, `[x]` optional). */
  takes: "none" | "required" | "optional";
  /** The value's name from the flag text (`dir` in `--registry-dir <dir>`). */
  valueName?: string;
  /** What to offer for the value (only when `takes` is not `none`). */
  value: ValueCompletion;
}

/** One positional argument. */
export interface CompletionArgument {
  name: string;
  required: boolean;
  variadic: boolean;
  value: ValueCompletion;
}

/** One command of the tree, with everything a completion script needs. */
export interface CompletionCommand {
  name: string;
  aliases: string[];
  description: string;
  /** Flags of this command plus the program's global flags (accepted anywhere). */
  options: CompletionOption[];
  arguments: CompletionArgument[];
  subcommands: CompletionCommand[];
}

/** Value names that mean a directory or a file (`--registry-dir <dir>`, `-o <file>`). */
function valueFromName(name: string): ValueCompletion {
  const n = name.toLowerCase();
  if (n === "bool") return { kind: "words", words: ["true", "false"] };
  if (n === "dir" || n === "context" || n.endsWith("-dir") || n.endsWith("_dir")) {
    return { kind: "dir" };
  }
  if (n === "file" || n.endsWith("-file")) return { kind: "file" };
  return { kind: "none" };
}

function optionModel(option: Option<string, unknown, boolean>): CompletionOption {
  const takes = option.takes;
  const valueName = /[<[]([^>\]]+?)(?:\.\.\.)?[>\]]/.exec(option.flags)?.[1];
  const value: ValueCompletion = takes === "none"
    ? { kind: "none" }
    : option.argChoices
    ? { kind: "words", words: [...option.argChoices] }
    : valueFromName(valueName ?? "");
  return {
    long: option.long ?? undefined,
    short: option.short ?? undefined,
    description: option.description ?? "",
    takes,
    valueName,
    value,
  };
}

function argumentModel(arg: Argument<string, unknown, boolean>): CompletionArgument {
  return {
    name: arg.name(),
    required: arg.required,
    variadic: arg.variadic,
    value: arg.argChoices
      ? { kind: "words", words: [...arg.argChoices] }
      : valueFromName(arg.name()),
  };
}

/** Global flags worth offering everywhere: the program's own, without help and version. */
function globalOptions(program: AnyCommand): CompletionOption[] {
  return program.visibleOptions()
    .filter((o) => !["--help", "--version"].includes(o.long ?? ""))
    .map(optionModel);
}

/**
 * Reduces a command tree to what completion scripts need: visible commands (with the implicit
 * `help` command), visible flags (with `-h/--help`), arguments and choices.
 */
export function completionModel(program: AnyCommand): CompletionCommand {
  const globals = globalOptions(program);
  const walk = (cmd: AnyCommand, isRoot: boolean): CompletionCommand => {
    const own = cmd.visibleOptions().map(optionModel);
    const seen = new Set(own.map((o) => o.long ?? o.short));
    return {
      name: cmd.name(),
      aliases: cmd.aliases(),
      description: cmd.description(),
      options: isRoot ? own : [...own, ...globals.filter((g) => !seen.has(g.long ?? g.short))],
      arguments: cmd.visibleArguments().map(argumentModel),
      subcommands: cmd.visibleCommands().map((c) => walk(c, false)),
    };
  };
  return walk(program, true);
}

/** Every command with its path of names below the root (`[]` for the root). */
function flatten(cmd: CompletionCommand, path: string[] = []): [string[], CompletionCommand][] {
  return [
    [path, cmd],
    ...cmd.subcommands.flatMap((c) => flatten(c, [...path, c.name])),
  ];
}

function flagsOf(o: CompletionOption): string[] {
  return [o.short, o.long].filter((f): f is string => f !== undefined);
}

/** The completion script for `shell`, generated from `program`'s command tree. */
export function completionScript(shell: Shell, program: AnyCommand): string {
  const model = completionModel(program);
  switch (shell) {
    case "bash":
      return bashScript(model);
    case "zsh":
      return zshScript(model);
    case "fish":
      return fishScript(model);
  }
}

// --- bash -----------------------------------------------------------------------------------------

/** A bash `case` pattern or word list item in double quotes (names hold no quotes or `$`). */
function bashQuote(text: string): string {
  return `"${text.replace(/(["\\$`])/g, "\\$1")}"`;
}

function bashValue(value: ValueCompletion): string {
  switch (value.kind) {
    case "dir":
      return "@dir";
    case "file":
      return "@file";
    case "words":
      return value.words.join(" ");
    case "none":
      return "";
  }
}

function bashScript(root: CompletionCommand): string {
  const fn = `_${root.name.replace(/\W/g, "_")}`;
  const all = flatten(root);
  const caseLines = (rows: [string, string][]) =>
    rows.filter(([, v]) => v !== "").map(([k, v]) => `    ${bashQuote(k)}) echo ${bashQuote(v)} ;;`)
      .join("\n");
  const subcommands = caseLines(all.map(([path, cmd]) => [
    path.join(" "),
    cmd.subcommands.flatMap((c) => [c.name, ...c.aliases]).join(" "),
  ]));
  const canonical = caseLines(
    all.flatMap(([path, cmd]) =>
      cmd.subcommands.flatMap((c) =>
        c.aliases.map((a) => [`${path.join(" ")}/${a}`, c.name] as [string, string])
      )
    ),
  );
  const options = caseLines(all.map(([path, cmd]) => [
    path.join(" "),
    cmd.options.flatMap(flagsOf).join(" "),
  ]));
  const valueOptions = caseLines(all.map(([path, cmd]) => [
    path.join(" "),
    cmd.options.filter((o) => o.takes === "required").flatMap(flagsOf).join(" "),
  ]));
  const optionValues = caseLines(
    all.flatMap(([path, cmd]) =>
      cmd.options.filter((o) => o.takes !== "none").flatMap((o) =>
        flagsOf(o).map((f) => [`${path.join(" ")}/${f}`, bashValue(o.value)] as [string, string])
      )
    ),
  );
  const argumentValues = caseLines(all.map(([path, cmd]) => [
    path.join(" "),
    bashValue(cmd.arguments[0]?.value ?? { kind: "none" }),
  ]));
  return `# bash completion for ${root.name} (generated by \`${root.name} completions bash\`)
#
# Load it now:  source <(${root.name} completions bash)
# Install:      ${root.name} completions bash > ~/.local/share/bash-completion/completions/${root.name}

${fn}_subcommands() {
  case "$1" in
${subcommands}
  esac
}

${fn}_canonical() {
  case "$1/$2" in
${canonical || `    "") ;;`}
    *) echo "$2" ;;
  esac
}

${fn}_options() {
  case "$1" in
${options}
  esac
}

# Flags whose value is the next word.
${fn}_value_options() {
  case "$1" in
${valueOptions}
  esac
}

# What a flag's value can be: @dir, @file, or a word list.
${fn}_option_values() {
  case "$1/$2" in
${optionValues}
  esac
}

# What the positional arguments can be.
${fn}_argument_values() {
  case "$1" in
${argumentValues}
  esac
}

${fn}_has() {
  local word="$1"
  shift
  local w
  for w in "$@"; do [[ "$w" == "$word" ]] && return 0; done
  return 1
}

${fn}_reply() {
  # $1: @dir, @file or words; $2: the word being completed.
  case "$1" in
    @dir)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$2")
      ;;
    @file)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$2")
      ;;
    *) mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2") ;;
  esac
}

${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word i
  COMPREPLY=()
  # Walk the words before the cursor: subcommand names extend the path; flags and their values
  # are skipped. "=" and ":" may be words of their own (COMP_WORDBREAKS).
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      =)
        i=$((i + 1))
        continue
        ;;
      -*=*) continue ;;
      -*)
        if [[ "\${COMP_WORDS[i + 1]}" != "=" ]] &&
          ${fn}_has "$word" $(${fn}_value_options "$path"); then
          i=$((i + 1))
        fi
        continue
        ;;
    esac
    if ${fn}_has "$word" $(${fn}_subcommands "$path"); then
      path="\${path:+$path }$(${fn}_canonical "$path" "$word")"
    fi
  done

  # The value of a flag: "--flag value", "--flag=value" (one word or three).
  local prev="" option="" prefix=""
  ((COMP_CWORD > 0)) && prev="\${COMP_WORDS[COMP_CWORD - 1]}"
  if [[ "$cur" == "=" ]]; then
    option="$prev"
    cur=""
  elif [[ "$prev" == "=" ]] && ((COMP_CWORD > 1)); then
    option="\${COMP_WORDS[COMP_CWORD - 2]}"
  elif [[ "$cur" == --*=* ]]; then
    option="\${cur%%=*}"
    prefix="$option="
    cur="\${cur#*=}"
  elif [[ "$prev" == -* ]] && ${fn}_has "$prev" $(${fn}_value_options "$path"); then
    option="$prev"
  fi
  if [[ -n "$option" ]]; then
    ${fn}_reply "$(${fn}_option_values "$path" "$option")" "$cur"
    if [[ -n "$prefix" ]]; then COMPREPLY=("\${COMPREPLY[@]/#/$prefix}"); fi
    return 0
  fi

  if [[ "$cur" == -* ]]; then
    ${fn}_reply "$(${fn}_options "$path")" "$cur"
    return 0
  fi
  local subcommands
  subcommands="$(${fn}_subcommands "$path")"
  if [[ -n "$subcommands" ]]; then
    ${fn}_reply "$subcommands" "$cur"
    return 0
  fi
  ${fn}_reply "$(${fn}_argument_values "$path")" "$cur"
  return 0
}

complete -F ${fn} ${root.name}
`;
}

// --- zsh ------------------------------------------------------------------------------------------

/** Inside single quotes. */
function zshSingle(text: string): string {
  return text.replace(/'/g, `'\\''`);
}

/** An `_arguments` explanation (`[...]`). */
function zshExplanation(text: string): string {
  return zshSingle(text.replace(/\\/g, "\\\\").replace(/([[\]])/g, "\\$1"));
}

/** An `_arguments` message (between colons). */
function zshMessage(text: string): string {
  return zshSingle(text.replace(/\\/g, "\\\\").replace(/:/g, "\\:"));
}

function zshAction(value: ValueCompletion): string {
  switch (value.kind) {
    case "dir":
      return "_files -/";
    case "file":
      return "_files";
    case "words":
      return `(${value.words.map((w) => zshSingle(w)).join(" ")})`;
    case "none":
      return " ";
  }
}

function zshOptionSpec(o: CompletionOption): string {
  const explanation = `[${zshExplanation(o.description)}]`;
  const arg = o.takes === "none"
    ? ""
    : `${o.takes === "optional" ? "::" : ":"}${zshMessage(o.valueName ?? "value")}:${
      zshAction(o.value)
    }`;
  const short = o.short === undefined ? undefined : o.short + (o.takes === "none" ? "" : "+");
  const long = o.long === undefined ? undefined : o.long + (o.takes === "none" ? "" : "=");
  if (short && long) {
    return `'(${o.short} ${o.long})'{${short},${long}}'${explanation}${arg}'`;
  }
  return `'${short ?? long}${explanation}${arg}'`;
}

function zshArgumentSpec(a: CompletionArgument): string {
  const head = a.variadic ? (a.required ? "*:" : "*::") : a.required ? ":" : "::";
  return `'${head}${zshMessage(a.name)}:${zshAction(a.value)}'`;
}

function zshFunctionName(rootName: string, path: string[]): string {
  return `_${[rootName, ...path].map((p) => p.replace(/\W/g, "_")).join("_")}`;
}

function zshScript(root: CompletionCommand): string {
  const functions = flatten(root).map(([path, cmd]) => {
    const name = zshFunctionName(root.name, path);
    const specs = cmd.options.map(zshOptionSpec);
    if (cmd.subcommands.length === 0) {
      specs.push(...cmd.arguments.map(zshArgumentSpec));
      return `${name}() {
  _arguments -s -S \\
    ${specs.join(" \\\n    ")}
}`;
    }
    const entries = cmd.subcommands.flatMap((c) =>
      [c.name, ...c.aliases].map((n) => `    '${zshSingle(n)}:${zshSingle(c.description)}'`)
    );
    const cases = cmd.subcommands.map((c) =>
      `    (${[c.name, ...c.aliases].join("|")}) ${
        zshFunctionName(root.name, [...path, c.name])
      } ;;`
    );
    return `${name}() {
  local curcontext="$curcontext" state state_descr line ret=1
  typeset -A opt_args
  _arguments -C -s -S \\
    ${specs.join(" \\\n    ")} \\
    ': :->command' \\
    '*:: :->argument' && ret=0
  case $state in
  (command)
    local -a commands
    commands=(
${entries.join("\n")}
    )
    _describe -t commands '${zshSingle([root.name, ...path].join(" "))} command' commands && ret=0
    ;;
  (argument)
    curcontext="\${curcontext%:*:*}:${[root.name, ...path].join("-")}-$words[1]:"
    case $words[1] in
${cases.join("\n")}
    esac
    ;;
  esac
  return ret
}`;
  });
  return `#compdef ${root.name}
# zsh completion for ${root.name} (generated by \`${root.name} completions zsh\`)
#
# Load it now:  source <(${root.name} completions zsh)     (after compinit)
# Install:      ${root.name} completions zsh > "\${fpath[1]}/_${root.name}"   (then start a new shell)

${functions.join("\n\n")}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${zshFunctionName(root.name, [])} "$@"
else
  compdef ${zshFunctionName(root.name, [])} ${root.name}
fi
`;
}

// --- fish -----------------------------------------------------------------------------------------

/** Inside fish single quotes. */
function fishSingle(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function fishValueFlags(value: ValueCompletion): string {
  switch (value.kind) {
    case "dir":
      return `-x -a '(__fish_complete_directories (commandline -ct))'`;
    case "file":
      return "-r -F";
    case "words":
      return `-x -a ${fishSingle(value.words.join(" "))}`;
    case "none":
      return "-x";
  }
}

function fishScript(root: CompletionCommand): string {
  const p = `__${root.name.replace(/\W/g, "_")}`;
  const all = flatten(root);
  const switchCases = (rows: [string, string[]][]) =>
    rows.filter(([, values]) => values.length > 0).map(([key, values]) =>
      `        case ${fishSingle(key)}\n            printf '%s\\n' ${
        values.map(fishSingle).join(" ")
      }`
    ).join("\n");
  const subcommands = switchCases(
    all.map((
      [path, cmd],
    ) => [path.join(" "), cmd.subcommands.flatMap((c) => [c.name, ...c.aliases])]),
  );
  const canonical = all.flatMap(([path, cmd]) =>
    cmd.subcommands.flatMap((c) =>
      c.aliases.map((a) =>
        `        case ${fishSingle(`${path.join(" ")}/${a}`)}\n            echo ${
          fishSingle(c.name)
        }`
      )
    )
  );
  const valueOptions = switchCases(all.map(([path, cmd]) => [
    path.join(" "),
    cmd.options.filter((o) => o.takes === "required").flatMap(flagsOf),
  ]));
  const lines: string[] = [];
  for (const [path, cmd] of all) {
    const at = `-n ${fishSingle(`${p}_at ${JSON.stringify(path.join(" "))}`)}`;
    for (const c of cmd.subcommands) {
      for (const n of [c.name, ...c.aliases]) {
        lines.push(
          `complete -c ${root.name} ${at} -a ${fishSingle(n)} -d ${fishSingle(c.description)}`,
        );
      }
    }
    for (const o of cmd.options) {
      const flags = [o.short ? `-s ${o.short.slice(1)}` : "", o.long ? `-l ${o.long.slice(2)}` : ""]
        .filter(Boolean).join(" ");
      const value = o.takes === "none" ? "" : ` ${fishValueFlags(o.value)}`;
      lines.push(`complete -c ${root.name} ${at} ${flags}${value} -d ${fishSingle(o.description)}`);
    }
    if (cmd.subcommands.length === 0 && cmd.arguments.length > 0) {
      const value = cmd.arguments[0].value;
      if (value.kind === "file") lines.push(`complete -c ${root.name} ${at} -F`);
      else if (value.kind !== "none") {
        lines.push(`complete -c ${root.name} ${at} ${fishValueFlags(value)}`);
      }
    }
  }
  return `# fish completion for ${root.name} (generated by \`${root.name} completions fish\`)
#
# Load it now:  ${root.name} completions fish | source
# Install:      ${root.name} completions fish > ~/.config/fish/completions/${root.name}.fish

function ${p}_subcommands --argument-names path
    switch "$path"
${subcommands}
    end
end

function ${p}_canonical --argument-names path word
    switch "$path/$word"
${canonical.join("\n")}
        case '*'
            echo $word
    end
end

# Flags whose value is the next word.
function ${p}_value_options --argument-names path
    switch "$path"
${valueOptions}
    end
end

# The subcommand path of the command line so far ("" for the top level, "registry save", ...).
function ${p}_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path
    set -l skip 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case '--*=*'
                continue
            case '-*'
                if contains -- $t (${p}_value_options "$path")
                    set skip 1
                end
                continue
        end
        if contains -- $t (${p}_subcommands "$path")
            set path $path (${p}_canonical "$path" $t)
        end
    end
    echo "$path"
end

function ${p}_at --argument-names want
    set -l path (${p}_path)
    test "$path" = "$want"
end

complete -c ${root.name} -f
${lines.join("\n")}
`;
}

// --- the command ------------------------------------------------------------------------------------

/** The `completions` command; `program` gives the root of the tree to describe. */
export function completionsCommand(
  program: () => AnyCommand,
  output: (json?: boolean) => Output,
) {
  return new Command("completions")
    .description("print a shell completion script for bash, zsh or fish")
    .addArgument(new Argument("<shell>", "the shell to complete in").choices(SHELLS))
    .addHelpText(
      "after",
      `
The script completes commands, flags, choices (--format, --log-level, true/false) and paths.

Examples:
  source <(ferry completions bash)                                    # bash, this shell only
  ferry completions bash > ~/.local/share/bash-completion/completions/ferry
  ferry completions zsh > "\${fpath[1]}/_ferry"                        # zsh, then start a new shell
  ferry completions fish > ~/.config/fish/completions/ferry.fish`,
    )
    .action((shell) => {
      const script = completionScript(shell, program());
      output().print(script.replace(/\n$/, ""));
    });
}
