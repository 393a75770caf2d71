/**
 * The flags ({@link Option}) and operands ({@link Argument}) of a command, and the types that
 * read a flag's text (`--registry-dir <dir>` → `registryDir: string`) for typed actions.
 *
 * @module
 */

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}`
  : S;
type LongName<F extends string> = F extends `${string}--${infer R}`
  ? R extends `${infer N} ${string}` ? N : R
  : never;
/** The key of a flag in the parsed options: `--registry-dir <dir>` → `registryDir`. */
export type OptionKey<F extends string> = LongName<F> extends `no-${infer P}` ? Camel<P>
  : Camel<LongName<F>>;
/** Whether the flag is a negation (`--no-cache`), which is true unless given. */
export type Negated<F extends string> = LongName<F> extends `no-${string}` ? true : false;
/** The value a flag holds: a switch a boolean, `<v>` its value, `[v]` its value or `true`. */
export type Held<F extends string, V> = F extends `${string}<${string}>` ? V
  : F extends `${string}[${string}]` ? V | true
  : boolean;
/** `O` with the flag `F` holding `V`; always present when `Always` (a default, or required). */
export type WithOption<O, F extends string, V, Always extends boolean> =
  & O
  & (Always extends true ? { [K in OptionKey<F>]: Held<F, V> }
    : { [K in OptionKey<F>]?: Held<F, V> });
/** The value of an operand: `<x>` a string, `[x]` maybe one, `<x...>` a list. */
export type Operand<S extends string, V, HasDefault extends boolean> = S extends
  `${string}...${">" | "]"}` ? V[]
  : S extends `<${string}>` ? V
  : HasDefault extends true ? V
  : V | undefined;

/** The parser of a flag's value; `previous` is the value so far (the default, or undefined). */
export type ValueParser<T> = (value: string, previous: T | undefined) => T;

/** One flag of a command: `-o, --output <file>`, `--no-cache`, `--disable-logging [bool]`. */
export class Option<F extends string = string, V = string, Always extends boolean = false> {
  /** The flag text as given (`-o, --output <file>`), shown in help. */
  readonly flags: F;
  readonly description: string;
  /** `--output`; every ferry flag has a long name. */
  readonly long: string;
  /** `-o`, when the flag has one. */
  readonly short?: string;
  /** The option's key in the parsed options (`output`). */
  readonly key: string;
  /** Whether the flag takes a value: `<v>` required, `[v]` optional. */
  readonly takes: "none" | "required" | "optional";
  /** `--no-x`: sets `x` to false; `x` is true unless given. */
  readonly negate: boolean;
  /** The values allowed, when limited. */
  argChoices?: readonly string[];
  /** The value when the flag is not given. */
  defaultValue?: unknown;
  /** How the help shows the default, when not as JSON. */
  defaultValueDescription?: string;
  /** Left out of help and completions. */
  hidden = false;
  /** Must be given (`requiredOption`). */
  mandatory = false;
  parseArg?: ValueParser<unknown>;

  constructor(flags: F, description = "") {
    this.flags = flags;
    this.description = description;
    const words = flags.split(/[ ,|]+/).filter(Boolean);
    const long = words.find((w) => w.startsWith("--"));
    if (long === undefined) throw new Error(`flag ${flags} has no --long name`);
    this.long = long;
    this.short = words.find((w) => /^-[^-]$/.test(w));
    this.takes = /<[^>]+>/.test(flags)
      ? "required"
      : /\[[^\]]+\]/.test(flags)
      ? "optional"
      : "none";
    this.negate = long.startsWith("--no-");
    this.key = (this.negate ? long.slice(5) : long.slice(2))
      .replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  }

  /** Accept only `values`. */
  choices<const C extends readonly string[]>(values: C): Option<F, C[number], Always> {
    this.argChoices = values;
    return this as unknown as Option<F, C[number], Always>;
  }

  /** The value when the flag is not given; `description` is how help shows it. */
  default<T extends V>(value: T, description?: string): Option<F, V, true> {
    this.defaultValue = value;
    this.defaultValueDescription = description;
    return this as unknown as Option<F, V, true>;
  }

  /** Parse the value with `parse` (its errors are usage errors). */
  argParser<T>(parse: ValueParser<T>): Option<F, T, Always> {
    this.parseArg = parse as ValueParser<unknown>;
    return this as unknown as Option<F, T, Always>;
  }

  /** Leave the flag out of help and completions (it still works). */
  hideHelp(): this {
    this.hidden = true;
    return this;
  }

  /** Whether `word` (`--output`, `-o`) names this flag. */
  is(word: string): boolean {
    return word === this.long || word === this.short;
  }
}

/** One operand of a command: `<image>`, `[context]`, `<names...>`. */
export class Argument<S extends string = string, V = string, HasDefault extends boolean = false> {
  readonly description: string;
  readonly #name: string;
  readonly required: boolean;
  readonly variadic: boolean;
  argChoices?: readonly string[];
  defaultValue?: string;

  constructor(spec: S, description = "") {
    const m = /^([<[])([^>\]]+?)(\.\.\.)?[>\]]$/.exec(spec);
    if (!m) throw new Error(`argument ${spec} is neither <name> nor [name]`);
    this.#name = m[2];
    this.required = m[1] === "<";
    this.variadic = m[3] !== undefined;
    this.description = description;
  }

  /** The operand's name (`image`). */
  name(): string {
    return this.#name;
  }

  /** Accept only `values`. */
  choices<const C extends readonly string[]>(values: C): Argument<S, C[number], HasDefault> {
    this.argChoices = values;
    return this as unknown as Argument<S, C[number], HasDefault>;
  }

  /** The value when the operand is left out. */
  default(value: string): Argument<S, V, true> {
    this.defaultValue = value;
    return this as unknown as Argument<S, V, true>;
  }

  /** `<name>`, `[name]` or `<name...>`, as usage lines show it. */
  term(): string {
    const name = this.#name + (this.variadic ? "..." : "");
    return this.required ? `<${name}>` : `[${name}]`;
  }
}
