/**
 * ferry's command-line parser: a tree of {@link Command}s with flags ({@link Option}), operands
 * ({@link Argument}), subcommands, help and version, and nothing else.
 *
 * It replaces commander, whose CommonJS modules load Deno's Node compatibility layer and cost
 * most of ferry's start-up time; this parser imports no npm package and no Node module (a test in
 * `../start_up_test.ts` keeps it so). The method names are commander's,
 * and so is the help layout (docs/COMMANDS.md is generated from it), but the parsing rules are
 * ferry's own:
 *
 * - Flags may come before, between or after operands; `--` ends them. `--flag=value` and
 *   `--flag value` are the same; a short flag takes its value as the next word or attached
 *   (`-p5000`). Short flags are not combined (`-qf`): ferry has no use for it.
 * - A flag is looked up in the command named so far, then in its parents: the program's flags
 *   (`--debug`, `-q`) work anywhere.
 * - `[value]` flags take `--flag=value`, or the next word when it does not start with `-`.
 * - `-h`/`--help` anywhere shows the help of the command the line names, and nothing runs;
 *   `help COMMAND…` does the same. A command with subcommands but no action shows its help
 *   on stderr when none is named.
 * - Every mistake is a {@link FerryError} of code `usage` (exit status 2) whose message is one
 *   line: what is wrong and which `--help` to read.
 *
 * Flag strings are parsed in the type system too, so an action's options are typed:
 * `.option("--max-pull-procs <n>", "…", parsePositiveInt, 5)` gives `{ maxPullProcs: number }`.
 *
 * @module
 */
import { FerryError } from "../../errors.ts";
import { closest } from "../../edit_distance.ts";
import { argumentDescription, formatItem, optionDescription, wrap } from "./help.ts";
import {
  Argument,
  type Negated,
  type Operand,
  Option,
  type ValueParser,
  type WithOption,
} from "./option.ts";

/** The parsed options of any command. */
export type OptionValues = Record<string, unknown>;

/** A command of any arguments and options: what trees and helpers hold. */
// deno-lint-ignore ban-types
export type AnyCommand = Command<unknown[], {}>;

/** Where help and version text go, and how wide help is wrapped. */
export interface OutputConfiguration {
  writeOut(text: string): void;
  writeErr(text: string): void;
  /** Columns to wrap help at. */
  helpWidth(error: boolean): number;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
}

/** Help on a terminal fills its width; anywhere else it is 80 columns wide. */
function terminalWidth(file: { isTerminal(): boolean }): number {
  if (!file.isTerminal()) return 80;
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

const DEFAULT_OUTPUT: OutputConfiguration = {
  writeOut: (text) => writeAll(Deno.stdout, text),
  writeErr: (text) => writeAll(Deno.stderr, text),
  helpWidth: (error) => terminalWidth(error ? Deno.stderr : Deno.stdout),
};

type Action = (...args: unknown[]) => void | Promise<void>;

const HELP_OPTION = new Option("-h, --help", "display help for command");
/** A mistyped command or flag this many edits from a real one is named in the error. */
const SUGGEST_DISTANCE = 2;

/**
 * A command: its name, description, flags, operands, subcommands and action. `Args` are the
 * operands' values, `Opts` the parsed flags, as the action receives them.
 */
// deno-lint-ignore ban-types
export class Command<Args extends unknown[] = [], Opts extends object = {}> {
  #name: string;
  #description = "";
  #aliases: string[] = [];
  #options: Option<string, unknown, boolean>[] = [];
  #arguments: Argument<string, unknown, boolean>[] = [];
  #commands: AnyCommand[] = [];
  #afterHelp: string[] = [];
  #action?: Action;
  #version?: string;
  #versionOption?: Option;
  #values: OptionValues = {};
  #output?: Partial<OutputConfiguration>;
  #helpCommand?: AnyCommand;
  #isHelpCommand = false;
  /** The command this one is a subcommand of. */
  parent: AnyCommand | null = null;

  constructor(name = "") {
    this.#name = name;
  }

  /** The command's name. */
  name(): string {
    return this.#name;
  }

  /** Sets the description (help's first line), or returns it. */
  description(text: string): this;
  description(): string;
  description(text?: string): this | string {
    if (text === undefined) return this.#description;
    this.#description = text;
    return this;
  }

  /** Adds another name the command answers to. */
  alias(name: string): this {
    this.#aliases.push(name);
    return this;
  }

  /** The command's other names. */
  aliases(): string[] {
    return [...this.#aliases];
  }

  /** Text shown after the generated help (examples, notes). */
  addHelpText(position: "after", text: string): this {
    if (position === "after") this.#afterHelp.push(text);
    return this;
  }

  /** Adds the `-v, --version` flag (given as `flags`), printing `version`. */
  version(version: string, flags = "-v, --version"): this {
    this.#version = version;
    this.#versionOption = new Option(flags, "output the version number");
    this.#options.push(this.#versionOption);
    return this;
  }

  /** Adds an operand; `defaultValue` when an optional one is left out. */
  argument<S extends string>(
    spec: S,
    description: string,
  ): Command<[...Args, Operand<S, string, false>], Opts>;
  argument<S extends string>(
    spec: S,
    description: string,
    defaultValue: string,
  ): Command<[...Args, Operand<S, string, true>], Opts>;
  argument(spec: string, description: string, defaultValue?: string): unknown {
    const arg = new Argument(spec, description);
    if (defaultValue !== undefined) arg.default(defaultValue);
    return this.addArgument(arg);
  }

  /** Adds an operand built with {@link Argument} (for choices). */
  addArgument<S extends string, V, D extends boolean>(
    arg: Argument<S, V, D>,
  ): Command<[...Args, Operand<S, V, D>], Opts> {
    const last = this.#arguments.at(-1);
    if (last?.variadic) throw new Error(`${this.#name}: nothing can follow ${last.term()}`);
    this.#arguments.push(arg);
    return this as unknown as Command<[...Args, Operand<S, V, D>], Opts>;
  }

  /**
   * Adds a flag: a switch (`--all`), a negation (`--no-cache`), or one taking a value
   * (`--registry-dir <dir>`), parsed by `parser`, with `defaultValue` when not given.
   */
  option<F extends string>(
    flags: F,
    description: string,
  ): Command<Args, WithOption<Opts, F, string, Negated<F>>>;
  option<F extends string>(
    flags: F,
    description: string,
    defaultValue: string,
  ): Command<Args, WithOption<Opts, F, string, true>>;
  option<F extends string, T>(
    flags: F,
    description: string,
    parser: ValueParser<T>,
  ): Command<Args, WithOption<Opts, F, T, Negated<F>>>;
  option<F extends string, T>(
    flags: F,
    description: string,
    parser: ValueParser<T>,
    defaultValue: T,
  ): Command<Args, WithOption<Opts, F, T, true>>;
  option(
    flags: string,
    description: string,
    parserOrDefault?: unknown,
    defaultValue?: unknown,
  ): unknown {
    return this.addOption(makeOption(flags, description, parserOrDefault, defaultValue));
  }

  /** Adds a flag that must be given (see {@link option}). */
  requiredOption<F extends string>(
    flags: F,
    description: string,
  ): Command<Args, WithOption<Opts, F, string, true>>;
  requiredOption<F extends string, T>(
    flags: F,
    description: string,
    parser: ValueParser<T>,
  ): Command<Args, WithOption<Opts, F, T, true>>;
  requiredOption(flags: string, description: string, parser?: unknown): unknown {
    const option = makeOption(flags, description, parser, undefined);
    option.mandatory = true;
    return this.addOption(option);
  }

  /** Adds a flag built with {@link Option} (for choices, hidden flags, default descriptions). */
  addOption<F extends string, V, A extends boolean>(
    option: Option<F, V, A>,
  ): Command<Args, WithOption<Opts, F, V, A extends true ? true : Negated<F>>> {
    const clash = this.#options.find((o) =>
      o.long === option.long || (option.short && o.short === option.short)
    );
    if (clash) throw new Error(`${this.#name}: ${option.flags} clashes with ${clash.flags}`);
    this.#options.push(option as Option<string, unknown, boolean>);
    type Next = Command<Args, WithOption<Opts, F, V, A extends true ? true : Negated<F>>>;
    return this as unknown as Next;
  }

  /** Adds a subcommand. */
  addCommand(cmd: AnyCommand): this {
    const names = [cmd.name(), ...cmd.aliases()];
    const clash = this.#commands.find((c) =>
      [c.name(), ...c.aliases()].some((n) => names.includes(n))
    );
    if (clash) throw new Error(`${this.#name}: ${cmd.name()} clashes with ${clash.name()}`);
    cmd.parent = this as unknown as AnyCommand;
    this.#commands.push(cmd);
    return this;
  }

  /** What runs the command: its operands' values, then its options. */
  action(fn: (...args: [...Args, Opts]) => void | Promise<void>): this {
    this.#action = fn as unknown as Action;
    return this;
  }

  /** Where help and version text go (tests capture them). */
  configureOutput(output: Partial<OutputConfiguration>): this {
    this.#output = { ...this.#output, ...output };
    return this;
  }

  /** The subcommands. */
  get commands(): readonly AnyCommand[] {
    return this.#commands;
  }

  /** The parsed options (after {@link parseAsync}; the defaults before). */
  opts(): Opts {
    return { ...this.#defaults(), ...this.#values } as Opts;
  }

  // --- help ---------------------------------------------------------------------------------------

  /** The flags help lists: the visible ones, then `-h, --help` (but for the `help` command). */
  visibleOptions(): Option<string, unknown, boolean>[] {
    if (this.#isHelpCommand) return [];
    return [...this.#options.filter((o) => !o.hidden), HELP_OPTION];
  }

  /** The operands help lists (all of them, when any has a description). */
  visibleArguments(): Argument<string, unknown, boolean>[] {
    return this.#arguments.some((a) => a.description) ? [...this.#arguments] : [];
  }

  /** The subcommands help lists: every one, then `help` when there are any. */
  visibleCommands(): AnyCommand[] {
    if (this.#commands.length === 0) return [];
    if (!this.#helpCommand) {
      // Listed as a command so help and completions offer it; `parseAsync` handles the word.
      const help = new Command("help").description("display help for command");
      help.#isHelpCommand = true;
      this.#helpCommand = help.argument("[command]", "") as unknown as AnyCommand;
    }
    return [...this.#commands, this.#helpCommand];
  }

  /** `save [options] [context]`: the command as its parent's help lists it. */
  #term(): string {
    return [
      this.#name + (this.#aliases[0] ? `|${this.#aliases[0]}` : ""),
      ...(this.#options.length > 0 ? ["[options]"] : []),
      ...this.#arguments.map((a) => a.term()),
    ].join(" ");
  }

  /** `ferry registry save [options] [context]`: the usage line without "Usage: ". */
  usage(): string {
    const path: string[] = [];
    for (let c = this.parent; c; c = c.parent) path.unshift(c.name());
    const name = this.#name + (this.#aliases[0] ? `|${this.#aliases[0]}` : "");
    const parts = [...path, name, "[options]"];
    if (this.#commands.length > 0) parts.push("[command]");
    parts.push(...this.#arguments.map((a) => a.term()));
    return parts.join(" ");
  }

  /** The generated help (without the text added after it), wrapped at `width` columns. */
  helpInformation(width = 80): string {
    const termWidth = Math.max(
      0,
      ...this.visibleOptions().map((o) => o.flags.length),
      ...this.visibleCommands().map((c) => c.#term().length),
      ...this.visibleArguments().map((a) => a.name().length),
    );
    const item = (term: string, description: string) =>
      formatItem(term, termWidth, description, width);
    const section = (title: string, items: string[]) =>
      items.length === 0 ? [] : [title, ...items, ""];
    return [
      `Usage: ${this.usage()}`,
      "",
      ...(this.#description ? [wrap(this.#description, width), ""] : []),
      ...section(
        "Arguments:",
        this.visibleArguments().map((a) => item(a.name(), argumentDescription(a))),
      ),
      ...section(
        "Options:",
        this.visibleOptions().map((o) => item(o.flags, optionDescription(o))),
      ),
      ...section(
        "Commands:",
        this.visibleCommands().map((c) => item(c.#term(), c.description())),
      ),
    ].join("\n");
  }

  /** The whole help: {@link helpInformation} and the text added after it. */
  helpText(width = 80): string {
    return this.helpInformation(width) + this.#afterHelp.map((t) => `${t}\n`).join("");
  }

  #out(): OutputConfiguration {
    let output: Partial<OutputConfiguration> = {};
    for (let c: AnyCommand | null = this as unknown as AnyCommand; c; c = c.parent) {
      output = { ...c.#output, ...output };
    }
    return { ...DEFAULT_OUTPUT, ...output };
  }

  /** Writes the whole help to stdout, or to stderr when `error`. */
  outputHelp(options: { error?: boolean } = {}): void {
    const out = this.#out();
    const text = this.helpText(out.helpWidth(options.error ?? false));
    if (options.error) out.writeErr(text);
    else out.writeOut(text);
  }

  // --- parsing ------------------------------------------------------------------------------------

  #defaults(): OptionValues {
    const values: OptionValues = {};
    for (const o of this.#options) {
      if (o.defaultValue !== undefined) values[o.key] = o.defaultValue;
      else if (o.negate) values[o.key] = true;
    }
    return values;
  }

  #findCommand(word: string): AnyCommand | undefined {
    return this.#commands.find((c) => c.name() === word || c.#aliases.includes(word));
  }

  /** The command line's path of names: `ferry registry save`. */
  #path(): string {
    const names: string[] = [];
    for (let c: AnyCommand | null = this as unknown as AnyCommand; c; c = c.parent) {
      names.unshift(c.name());
    }
    return names.join(" ");
  }

  #usageError(message: string): FerryError {
    return new FerryError("usage", `${message} (see ${this.#path()} --help)`);
  }

  /**
   * Parses `args` (without the program name) and runs the action of the command they name, or
   * shows help or the version. Mistakes throw a {@link FerryError} of code `usage`.
   */
  async parseAsync(args: readonly string[]): Promise<void> {
    let cmd: AnyCommand = this as unknown as AnyCommand;
    cmd.#values = {};
    const operands: string[] = [];
    let help = false;
    let helpCommand = false;
    let optionsEnd = false;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (!optionsEnd && arg === "--") {
        optionsEnd = true;
        continue;
      }
      if (!optionsEnd && arg.length > 1 && arg.startsWith("-")) {
        if (help || helpCommand) continue; // help is shown whatever else the line says
        const flag = cmd.#flag(args, i);
        if (flag === "help") help = true;
        else if (flag === "version") return;
        else i = flag;
        continue;
      }
      if (operands.length === 0 && cmd.#commands.length > 0 && !helpCommand) {
        const sub = cmd.#findCommand(arg);
        if (sub) {
          cmd = sub;
          cmd.#values = {};
          continue;
        }
        if (arg === "help") {
          helpCommand = true;
          continue;
        }
        if (!help) throw cmd.#unknownCommand(arg);
      }
      if (helpCommand) {
        const sub = cmd.#findCommand(arg);
        if (!sub) throw cmd.#unknownCommand(arg);
        cmd = sub;
        continue;
      }
      operands.push(arg);
    }
    if (help || helpCommand) return cmd.outputHelp();
    if (!cmd.#action) {
      // A group named without a subcommand: what it has, on stderr as no command ran.
      if (cmd.#commands.length > 0) return cmd.outputHelp({ error: true });
      throw cmd.#usageError("nothing to run");
    }
    const missing = cmd.#options.find((o) => o.mandatory && cmd.#values[o.key] === undefined);
    if (missing) throw cmd.#usageError(`missing required option ${missing.flags}`);
    await cmd.#action(...cmd.#operands(operands), cmd.opts());
  }

  /**
   * Takes the flag at `args[i]` (and its value): sets it on the command it belongs to and
   * returns the index of the last word taken; or says the flag asks for help or printed the
   * version.
   */
  #flag(args: readonly string[], i: number): number | "help" | "version" {
    const arg = args[i];
    const long = arg.startsWith("--");
    // `--flag=value`, `--flag`, `-f`, `-fvalue`
    const eq = long ? arg.indexOf("=") : -1;
    const word = eq > 0 ? arg.slice(0, eq) : long ? arg : arg.slice(0, 2);
    const attached = eq > 0 ? arg.slice(eq + 1) : long ? undefined : arg.slice(2) || undefined;
    if (HELP_OPTION.is(word) && attached === undefined) return "help";
    const found = this.#lookup(word);
    if (!found) throw this.#unknownOption(word, arg);
    const [owner, option] = found;
    if (option.takes === "none") {
      if (attached !== undefined) {
        if (eq > 0) throw this.#usageError(`${word} takes no value`);
        throw this.#unknownOption(arg, arg); // `-qx`: short flags are not combined
      }
      if (option === owner.#versionOption) {
        owner.#out().writeOut(`${owner.#version}\n`);
        return "version";
      }
      owner.#values[option.key] = !option.negate;
      return i;
    }
    let value = attached;
    if (value === undefined && i + 1 < args.length) {
      // A required value may start with "-" (`--port=-1` and `--port -1` alike); an optional
      // one is the next word only when that is no flag.
      if (option.takes === "required" || !args[i + 1].startsWith("-")) value = args[++i];
    }
    if (value === undefined && option.takes === "required") {
      throw this.#usageError(`${option.flags} needs a value`);
    }
    owner.#values[option.key] = owner.#parseValue(option, value);
    return i;
  }

  /** The flag `word` names in this command or, as a program-wide flag, in a parent. */
  #lookup(word: string): [AnyCommand, Option<string, unknown, boolean>] | undefined {
    for (let c: AnyCommand | null = this as unknown as AnyCommand; c; c = c.parent) {
      const option = c.#options.find((o) => o.is(word));
      if (option) return [c, option];
    }
    return undefined;
  }

  #parseValue(option: Option<string, unknown, boolean>, value: string | undefined): unknown {
    if (value === undefined) return true; // `[value]` given without one
    if (option.argChoices && !option.argChoices.includes(value)) {
      throw this.#usageError(
        `${option.long} ${JSON.stringify(value)}: expected one of ${option.argChoices.join(", ")}`,
      );
    }
    if (!option.parseArg) return value;
    const previous = this.#values[option.key] ?? option.defaultValue;
    try {
      return option.parseArg(value, previous);
    } catch (err) {
      // The parser says what is wrong with the value; say which flag it was given to.
      if (err instanceof FerryError && !err.message.startsWith(option.long)) {
        throw new FerryError(err.code, `${option.long}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  /** The action's operand values from `operands`, or why they do not fit. */
  #operands(operands: string[]): unknown[] {
    const values: unknown[] = [];
    let next = 0;
    for (const arg of this.#arguments) {
      if (arg.variadic) {
        const rest = operands.slice(next);
        next = operands.length;
        if (arg.required && rest.length === 0) {
          throw this.#usageError(`missing operand ${arg.term()}`);
        }
        rest.forEach((v) => this.#checkChoice(arg, v));
        values.push(rest);
        continue;
      }
      const value = operands[next++];
      if (value === undefined) {
        if (arg.required) throw this.#usageError(`missing operand ${arg.term()}`);
        values.push(arg.defaultValue);
        continue;
      }
      this.#checkChoice(arg, value);
      values.push(value);
    }
    if (operands.length > next) {
      const extra = operands.slice(next).map((o) => JSON.stringify(o)).join(" ");
      throw this.#usageError(
        `too many operands: ${extra} (${this.#name} takes ${
          this.#arguments.length === 0 ? "none" : this.#arguments.map((a) => a.term()).join(" ")
        })`,
      );
    }
    return values;
  }

  #checkChoice(arg: Argument<string, unknown, boolean>, value: string): void {
    if (arg.argChoices && !arg.argChoices.includes(value)) {
      throw this.#usageError(
        `${arg.term()} ${JSON.stringify(value)}: expected one of ${arg.argChoices.join(", ")}`,
      );
    }
  }

  #unknownOption(word: string, arg: string): FerryError {
    const known: string[] = [];
    for (let c: AnyCommand | null = this as unknown as AnyCommand; c; c = c.parent) {
      for (const o of c.#options) if (!o.hidden) known.push(o.long);
    }
    const meant = word.startsWith("--") ? closest(word, known, SUGGEST_DISTANCE) : undefined;
    const hint = meant ? `; did you mean ${meant}?` : "";
    return this.#usageError(`unknown option ${JSON.stringify(arg)}${hint}`);
  }

  #unknownCommand(word: string): FerryError {
    const names = this.#commands.flatMap((c) => [c.name(), ...c.#aliases]);
    const meant = closest(word, names, Math.min(SUGGEST_DISTANCE, word.length - 1));
    const hint = meant ? `; did you mean ${meant}?` : "";
    return this.#usageError(`unknown command ${JSON.stringify(word)}${hint}`);
  }
}

function makeOption(
  flags: string,
  description: string,
  parserOrDefault: unknown,
  defaultValue: unknown,
): Option<string, unknown, boolean> {
  const option = new Option(flags, description) as Option<string, unknown, boolean>;
  if (typeof parserOrDefault === "function") {
    option.argParser(parserOrDefault as ValueParser<unknown>);
    if (defaultValue !== undefined) option.default(defaultValue);
  } else if (parserOrDefault !== undefined) {
    option.default(parserOrDefault);
  }
  return option;
}
