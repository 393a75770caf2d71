/**
 * Parses instruction files (Kubefile, Sealfile, Dockerfile, Containerfile) into build stages.
 *
 * Semantics follow the Dockerfile frontend that buildah and BuildKit share: ARG scoping (global
 * ARGs serve FROM lines and are visible in a stage only when redeclared there), `--build-arg`
 * overriding defaults, ENV and ARG values in one ordered scope where the later assignment wins, and
 * substitution in FROM, COPY, ADD, ENV, ARG, LABEL, WORKDIR, USER, EXPOSE, VOLUME and STOPSIGNAL
 * but not in CMD, ENTRYPOINT, SHELL or HEALTHCHECK.
 *
 * RUN is rejected: ferry assembles cluster images from files and has no container runtime.
 *
 * @module
 */
import { envToMap } from "../env_list.ts";
import { FerryError } from "../errors.ts";
import { formatPlatform, hostPlatform, parsePlatform, type Platform } from "../platform.ts";
import { parseGoDuration } from "./duration.ts";
import { expandWord, expandWords, SubstitutionError, type VariableLookup } from "./expand.ts";
import { type StepBudget, stepBudget } from "./shell_pattern.ts";
import {
  lexInstructions,
  NotStringArrayError,
  parseJsonArray,
  type RawInstruction,
  splitBlank,
  splitWords,
} from "./lexer.ts";
import type {
  AddInstruction,
  CommandInstruction,
  CopyFrom,
  CopyInstruction,
  GlobalArg,
  HealthcheckInstruction,
  Instruction,
  KeyValue,
  ParsedInstructions,
  SourceLocation,
  Stage,
  StageBase,
} from "./types.ts";

/** One instruction file's text and the name used for it in messages. */
export interface InstructionSource {
  name: string;
  text: string;
}

/** What a base image contributes to a stage: its config's `Env` and `Shell`. */
export interface BaseImageInfo {
  /** `KEY=value` entries, as in image configs. */
  env?: string[];
  shell?: string[];
}

/** Options for {@link parseInstructions}. */
export interface ParseOptions {
  /** `--build-arg` values. */
  buildArgs?: Record<string, string>;
  /** Platform built for (TARGETPLATFORM, TARGETOS, ...); defaults to the host. */
  targetPlatform?: Platform;
  /** Platform building (BUILDPLATFORM, ...); defaults to the host. */
  buildPlatform?: Platform;
  /**
   * Config of a base image, so that its ENV takes part in substitution as in Docker. Parse once
   * without it to learn the FROM references, fetch their configs, then parse again with it.
   */
  baseImage?: (ref: string, platform: Platform | undefined) => BaseImageInfo | undefined;
}

const DEFAULT_SHELL = ["/bin/sh", "-c"];
const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/;
const PROXY_ARGS = new Set([
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "FTP_PROXY",
  "ftp_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
]);
const KNOWN_INSTRUCTIONS = new Set([
  "add",
  "arg",
  "cmd",
  "copy",
  "entrypoint",
  "env",
  "expose",
  "from",
  "healthcheck",
  "label",
  "maintainer",
  "onbuild",
  "run",
  "shell",
  "stopsignal",
  "user",
  "volume",
  "workdir",
]);
const MIN_HEALTHCHECK_INTERVAL = 1_000_000; // 1ms, as Docker

/**
 * Most characters all substitutions of one parse may produce (UTF-16 code units): each word is
 * bounded by `MAX_EXPANDED_LENGTH`, but a short line naming a long variable repeats it.
 */
export const MAX_TOTAL_EXPANSION = 64 * 1024 * 1024;

/** What substitutions may still produce in this parse. */
interface ExpansionBudget {
  left: number;
  /** Steps the `#`, `%` and `/` patterns of the parse may still take. */
  steps: StepBudget;
}

type FlagKind = "string" | "bool" | "list";
type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** Per-instruction helpers bound to its location. */
class Ctx {
  readonly loc: SourceLocation;
  readonly keyword: string;

  constructor(readonly raw: RawInstruction, readonly budget: ExpansionBudget) {
    this.loc = { file: raw.file, line: raw.line };
    this.keyword = raw.keyword.toUpperCase();
  }

  fail(message: string, code: "invalid_input" | "unsupported" = "invalid_input"): never {
    throw new FerryError(code, `${this.loc.file}:${this.loc.line}: ${message}`);
  }

  expand(word: string, lookup: VariableLookup): string {
    try {
      return this.#spend(expandWord(word, lookup, this.raw.escape, this.budget.steps));
    } catch (err) {
      if (err instanceof SubstitutionError) this.fail(`${this.keyword}: ${err.message}`);
      throw err;
    }
  }

  expandSplit(word: string, lookup: VariableLookup): string[] {
    let words: string[];
    try {
      words = expandWords(word, lookup, this.raw.escape, this.budget.steps);
    } catch (err) {
      if (err instanceof SubstitutionError) this.fail(`${this.keyword}: ${err.message}`);
      throw err;
    }
    for (const w of words) this.#spend(w);
    return words;
  }

  #spend<T extends string>(text: T): T {
    this.budget.left -= text.length;
    if (this.budget.left < 0) {
      this.fail(
        `${this.keyword}: substitutions produce more than ${MAX_TOTAL_EXPANSION} characters ` +
          "in all",
      );
    }
    return text;
  }

  /** Parses `--flags` against the ones this instruction accepts. */
  flags(spec: Record<string, FlagKind>): FlagValues {
    const out: FlagValues = {};
    for (const word of this.raw.flags) {
      const eq = word.indexOf("=");
      const name = eq < 0 ? word : word.slice(0, eq);
      const value = eq < 0 ? undefined : word.slice(eq + 1);
      const kind = spec[name];
      if (kind === undefined) {
        if (name === "parents") {
          this.fail(`${this.keyword} --parents is not supported`, "unsupported");
        }
        this.fail(`unknown flag: --${name}`);
      }
      if (kind === "list") {
        if (value === undefined) this.fail(`missing a value on flag: --${name}`);
        ((out[name] ??= []) as string[]).push(value);
        continue;
      }
      if (out[name] !== undefined) this.fail(`duplicate flag specified: --${name}`);
      if (kind === "bool") {
        const v = (value ?? "true").toLowerCase();
        if (v !== "true" && v !== "false") {
          this.fail(`expecting boolean value for flag --${name}, not: ${value}`);
        }
        out[name] = v === "true";
      } else {
        if (value === undefined) this.fail(`missing a value on flag: --${name}`);
        out[name] = value;
      }
    }
    return out;
  }

  noFlags(): void {
    this.flags({});
  }

  /** JSON-array or blank-separated arguments (COPY, ADD, VOLUME). */
  jsonOrList(): string[] {
    try {
      return parseJsonArray(this.raw.rest) ?? splitBlank(this.raw.rest);
    } catch (err) {
      if (err instanceof NotStringArrayError) this.fail(err.message);
      throw err;
    }
  }

  /** JSON array or `undefined` for the shell form (CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD). */
  json(text: string): string[] | undefined {
    try {
      return parseJsonArray(text);
    } catch (err) {
      if (err instanceof NotStringArrayError) this.fail(err.message);
      throw err;
    }
  }
}

/** Variables of one stage: ARG and ENV in one scope (later wins), and what the config will hold. */
interface StageState {
  stage: Stage;
  vars: Map<string, string>;
  configEnv: Map<string, string>;
  shell: string[];
}

function platformArgs(target: Platform, build: Platform): Map<string, string> {
  return new Map([
    ["TARGETPLATFORM", formatPlatform(target)],
    ["TARGETOS", target.os],
    ["TARGETARCH", target.architecture],
    ["TARGETVARIANT", target.variant ?? ""],
    ["BUILDPLATFORM", formatPlatform(build)],
    ["BUILDOS", build.os],
    ["BUILDARCH", build.architecture],
    ["BUILDVARIANT", build.variant ?? ""],
  ]);
}

/** Splits `NAME=value` / legacy `NAME value` arguments of ENV and LABEL (values still raw). */
function parseKeyValues(ctx: Ctx): { key: string; value: string }[] {
  const rest = ctx.raw.rest;
  const words = splitWords(rest, ctx.raw.escape);
  if (words.length === 0) ctx.fail(`${ctx.keyword} requires at least one argument`);
  if (!words[0].includes("=")) {
    const m = /[\t\v\f\r ]+/.exec(rest);
    if (!m) ctx.fail(`${ctx.keyword} must have two arguments`);
    return [{ key: rest.slice(0, m.index), value: rest.slice(m.index + m[0].length) }];
  }
  return words.map((word) => {
    const eq = word.indexOf("=");
    if (eq < 0) {
      ctx.fail(
        `Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`,
      );
    }
    if (eq === 0) ctx.fail(`${ctx.keyword} names can not be blank`);
    return { key: word.slice(0, eq), value: word.slice(eq + 1) };
  });
}

/** Splits ARG's `NAME[=default]` words (defaults still raw). */
function parseArgWords(ctx: Ctx): { name: string; value?: string }[] {
  const words = splitWords(ctx.raw.rest, ctx.raw.escape);
  if (words.length === 0) ctx.fail("ARG requires at least one argument");
  return words.map((word) => {
    const eq = word.indexOf("=");
    if (eq < 0) return { name: word };
    if (eq === 0) ctx.fail("ARG names can not be blank");
    return { name: word.slice(0, eq), value: word.slice(eq + 1) };
  });
}

function parseChmod(ctx: Ctx, value: string): number {
  if (!/^[0-7]{1,4}$/.test(value)) {
    ctx.fail(`invalid --chmod=${value}: want octal permission bits such as 0755`);
  }
  return parseInt(value, 8);
}

function normalisePorts(ctx: Ctx, spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/.exec(spec);
  if (!m) ctx.fail(`invalid port ${JSON.stringify(spec)}: want port[-port][/tcp|udp|sctp]`);
  const proto = (m[3] ?? "tcp").toLowerCase();
  if (proto !== "tcp" && proto !== "udp" && proto !== "sctp") {
    ctx.fail(`invalid protocol in port ${JSON.stringify(spec)}: want tcp, udp or sctp`);
  }
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535 || end < start) {
    ctx.fail(`invalid port range ${JSON.stringify(spec)}`);
  }
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

function parseInterval(ctx: Ctx, name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const ns = parseGoDuration(value);
  if (ns === undefined) ctx.fail(`invalid duration --${name}=${value}`);
  if (ns === 0) return undefined;
  if (ns < MIN_HEALTHCHECK_INTERVAL) ctx.fail(`HEALTHCHECK --${name} cannot be less than 1ms`);
  return ns;
}

function parseHealthcheck(ctx: Ctx): HealthcheckInstruction {
  const rest = ctx.raw.rest;
  if (rest === "") ctx.fail("HEALTHCHECK requires at least one argument");
  const m = /^(\S+)\s*([\s\S]*)$/.exec(rest)!;
  const type = m[1].toUpperCase();
  const args = m[2];
  if (type === "NONE") {
    if (args !== "") ctx.fail("HEALTHCHECK NONE takes no arguments");
    return { kind: "healthcheck", ...ctx.loc, test: ["NONE"] };
  }
  const f = ctx.flags({
    interval: "string",
    timeout: "string",
    "start-period": "string",
    "start-interval": "string",
    retries: "string",
  });
  if (type !== "CMD") ctx.fail(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
  const json = ctx.json(args);
  let test: string[];
  if (json !== undefined) {
    if (json.length === 0) ctx.fail("Missing command after HEALTHCHECK CMD");
    test = ["CMD", ...json];
  } else {
    if (args === "") ctx.fail("Missing command after HEALTHCHECK CMD");
    test = ["CMD-SHELL", args];
  }
  const out: HealthcheckInstruction = { kind: "healthcheck", ...ctx.loc, test };
  const interval = parseInterval(ctx, "interval", f.interval as string | undefined);
  const timeout = parseInterval(ctx, "timeout", f.timeout as string | undefined);
  const startPeriod = parseInterval(ctx, "start-period", f["start-period"] as string | undefined);
  const startInterval = parseInterval(
    ctx,
    "start-interval",
    f["start-interval"] as string | undefined,
  );
  if (interval !== undefined) out.interval = interval;
  if (timeout !== undefined) out.timeout = timeout;
  if (startPeriod !== undefined) out.startPeriod = startPeriod;
  if (startInterval !== undefined) out.startInterval = startInterval;
  const retries = f.retries as string | undefined;
  if (retries !== undefined && retries !== "") {
    if (!/^[+-]?\d+$/.test(retries) || Math.abs(Number(retries)) > 2 ** 31 - 1) {
      ctx.fail(`invalid --retries=${retries}`);
    }
    if (Number(retries) < 0) ctx.fail(`--retries cannot be negative (${retries})`);
    out.retries = Number(retries);
  }
  return out;
}

/** The stateful walk over all instructions. */
class Parser {
  readonly stages: Stage[] = [];
  readonly globalArgs: GlobalArg[] = [];
  readonly #meta: Map<string, string>;
  readonly #buildArgs: Map<string, string>;
  readonly #declared = new Set<string>();
  readonly #states: StageState[] = [];
  readonly #options: ParseOptions;
  readonly #budget: ExpansionBudget = { left: MAX_TOTAL_EXPANSION, steps: stepBudget() };

  constructor(options: ParseOptions) {
    this.#options = options;
    const host = hostPlatform();
    this.#meta = platformArgs(options.targetPlatform ?? host, options.buildPlatform ?? host);
    this.#buildArgs = new Map(Object.entries(options.buildArgs ?? {}));
  }

  get #current(): StageState | undefined {
    return this.#states[this.#states.length - 1];
  }

  add(raw: RawInstruction): void {
    const ctx: Ctx = new Ctx(raw, this.#budget);
    const kind = raw.keyword.toLowerCase();
    if (!KNOWN_INSTRUCTIONS.has(kind)) ctx.fail(`unknown instruction: ${raw.keyword}`);
    if (kind === "run") {
      ctx.fail(
        "RUN is not supported: ferry assembles cluster images from files without running " +
          "containers; prepare the files in the build context and COPY them",
        "unsupported",
      );
    }
    if (kind === "from") return this.#from(ctx);
    const state = this.#current;
    if (!state) {
      if (kind === "arg") return this.#globalArg(ctx);
      ctx.fail(`${ctx.keyword} before the first FROM (only ARG may come before FROM)`);
    }
    const instruction = this.#instruction(ctx, kind, state);
    state.stage.instructions.push(instruction);
  }

  finish(): ParsedInstructions {
    const unusedBuildArgs = [...this.#buildArgs.keys()]
      .filter((name) => !this.#declared.has(name) && !PROXY_ARGS.has(name))
      .sort();
    return { stages: this.stages, globalArgs: this.globalArgs, unusedBuildArgs };
  }

  #metaLookup = (name: string): string | undefined => this.#meta.get(name);

  #globalArg(ctx: Ctx): void {
    ctx.noFlags();
    for (const arg of parseArgWords(ctx)) {
      this.#declared.add(arg.name);
      let value: string | undefined;
      if (this.#buildArgs.has(arg.name)) value = this.#buildArgs.get(arg.name);
      else if (arg.value !== undefined) value = ctx.expand(arg.value, this.#metaLookup);
      else value = this.#meta.get(arg.name);
      if (value !== undefined) this.#meta.set(arg.name, value);
      this.globalArgs.push(value === undefined ? { name: arg.name } : { name: arg.name, value });
    }
  }

  #from(ctx: Ctx): void {
    const f = ctx.flags({ platform: "string" });
    const args = splitBlank(ctx.raw.rest);
    let name: string | undefined;
    if (args.length === 3 && args[1].toLowerCase() === "as") {
      name = args[2].toLowerCase();
      if (!STAGE_NAME_RE.test(name)) {
        ctx.fail(
          `invalid name for build stage: ${
            JSON.stringify(args[2])
          }, name can't start with a number or contain symbols`,
        );
      }
      if (this.stages.some((s) => s.name === name)) {
        ctx.fail(`duplicate stage name ${JSON.stringify(name)}`);
      }
    } else if (args.length !== 1) {
      ctx.fail("FROM requires either one or three arguments");
    }
    const baseName = ctx.expand(args[0], this.#metaLookup);
    if (baseName === "") ctx.fail(`base name (${args[0]}) should not be blank`);
    let platform: Platform | undefined;
    if (typeof f.platform === "string") {
      const text = ctx.expand(f.platform, this.#metaLookup);
      try {
        platform = parsePlatform(text);
      } catch (err) {
        ctx.fail(`FROM --platform: ${(err as Error).message}`);
      }
    }
    const index = this.stages.length;
    const parent = this.stages.findIndex((s) => s.name === baseName.toLowerCase());
    let from: StageBase;
    let vars: Map<string, string>;
    let shell: string[];
    if (parent >= 0) {
      from = { kind: "stage", index: parent };
      vars = new Map(this.#states[parent].configEnv);
      shell = [...this.#states[parent].shell];
    } else if (baseName === "scratch") {
      from = { kind: "scratch" };
      vars = new Map();
      shell = [...DEFAULT_SHELL];
    } else {
      if (/\s/.test(baseName)) ctx.fail(`invalid image reference ${JSON.stringify(baseName)}`);
      from = { kind: "image", ref: baseName };
      const info = this.#options.baseImage?.(baseName, platform);
      vars = envToMap(info?.env);
      shell = info?.shell && info.shell.length > 0 ? [...info.shell] : [...DEFAULT_SHELL];
    }
    const stage: Stage = { index, ...ctx.loc, from, instructions: [] };
    if (name !== undefined) stage.name = name;
    if (platform !== undefined) stage.platform = platform;
    this.stages.push(stage);
    this.#states.push({ stage, vars, configEnv: new Map(vars), shell });
  }

  #instruction(ctx: Ctx, kind: string, state: StageState): Instruction {
    const lookup: VariableLookup = (name) => state.vars.get(name);
    const loc = ctx.loc;
    switch (kind) {
      case "arg": {
        ctx.noFlags();
        const args: { name: string; value?: string }[] = [];
        for (const arg of parseArgWords(ctx)) {
          this.#declared.add(arg.name);
          let value: string | undefined;
          if (this.#buildArgs.has(arg.name)) value = this.#buildArgs.get(arg.name);
          else if (arg.value !== undefined) value = ctx.expand(arg.value, lookup);
          else value = this.#meta.get(arg.name);
          if (value !== undefined) state.vars.set(arg.name, value);
          args.push(value === undefined ? { name: arg.name } : { name: arg.name, value });
        }
        return { kind: "arg", ...loc, args };
      }
      case "env":
      case "label": {
        ctx.noFlags();
        const pairs: KeyValue[] = parseKeyValues(ctx).map(({ key, value }) => ({
          key: ctx.expand(key, lookup),
          value: ctx.expand(value, lookup),
        }));
        if (kind === "label") return { kind: "label", ...loc, labels: pairs };
        for (const { key, value } of pairs) {
          if (key === "") ctx.fail("ENV names can not be blank");
          state.vars.set(key, value);
          state.configEnv.set(key, value);
        }
        return { kind: "env", ...loc, env: pairs };
      }
      case "copy":
      case "add":
        return this.#copy(ctx, kind, state, lookup);
      case "cmd":
      case "entrypoint": {
        ctx.noFlags();
        const json = ctx.json(ctx.raw.rest);
        const out: CommandInstruction = json !== undefined
          ? { kind, ...loc, command: json, shellForm: false }
          : { kind, ...loc, command: [...state.shell, ctx.raw.rest], shellForm: true };
        if (out.shellForm && ctx.raw.rest === "") {
          ctx.fail(`${ctx.keyword} requires at least one argument`);
        }
        return out;
      }
      case "workdir":
      case "user":
      case "stopsignal": {
        ctx.noFlags();
        if (ctx.raw.rest === "") ctx.fail(`${ctx.keyword} requires exactly one argument`);
        const value = ctx.expand(ctx.raw.rest, lookup);
        if (kind === "workdir") return { kind, ...loc, path: value };
        if (kind === "user") return { kind, ...loc, user: value };
        if (!/^(?:\d+|(?:SIG)?[A-Z][A-Z0-9]*(?:[+-]\d+)?)$/i.test(value)) {
          ctx.fail(`invalid signal ${JSON.stringify(value)}`);
        }
        return { kind: "stopsignal", ...loc, signal: value };
      }
      case "maintainer":
        ctx.noFlags();
        if (ctx.raw.rest === "") ctx.fail("MAINTAINER requires exactly one argument");
        return { kind: "maintainer", ...loc, maintainer: ctx.raw.rest };
      case "expose": {
        ctx.noFlags();
        const words = splitBlank(ctx.raw.rest);
        if (words.length === 0) ctx.fail("EXPOSE requires at least one argument");
        const ports = words.flatMap((w) => ctx.expandSplit(w, lookup))
          .flatMap((spec) => normalisePorts(ctx, spec));
        return { kind: "expose", ...loc, ports };
      }
      case "volume": {
        ctx.noFlags();
        const list = ctx.jsonOrList();
        if (list.length === 0) ctx.fail("VOLUME requires at least one argument");
        const volumes = list.map((v) => ctx.expand(v, lookup).trim());
        if (volumes.some((v) => v === "")) ctx.fail("VOLUME specified can not be an empty string");
        return { kind: "volume", ...loc, volumes };
      }
      case "healthcheck":
        return parseHealthcheck(ctx);
      case "shell": {
        ctx.noFlags();
        const json = ctx.json(ctx.raw.rest);
        if (json === undefined) ctx.fail("SHELL requires the arguments to be in JSON form");
        if (json.length === 0) ctx.fail("SHELL requires at least one argument");
        state.shell = [...json];
        return { kind: "shell", ...loc, shell: json };
      }
      case "onbuild": {
        ctx.noFlags();
        if (ctx.raw.rest === "") ctx.fail("ONBUILD requires at least one argument");
        const inner = ctx.raw.rest.split(/\s+/, 1)[0].toUpperCase();
        if (inner === "ONBUILD") ctx.fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (inner === "MAINTAINER" || inner === "FROM") {
          ctx.fail(`${inner} isn't allowed as an ONBUILD trigger`);
        }
        if (!KNOWN_INSTRUCTIONS.has(inner.toLowerCase())) {
          ctx.fail(`unknown instruction in ONBUILD: ${inner}`);
        }
        const trigger = ctx.raw.original.replace(/^\s*ONBUILD\s*/i, "").trim();
        return { kind: "onbuild", ...loc, trigger };
      }
      default:
        ctx.fail(`unknown instruction: ${ctx.raw.keyword}`);
    }
  }

  #copy(
    ctx: Ctx,
    kind: "copy" | "add",
    state: StageState,
    lookup: VariableLookup,
  ): CopyInstruction | AddInstruction {
    const f = kind === "copy"
      ? ctx.flags({
        from: "string",
        chown: "string",
        chmod: "string",
        link: "bool",
        exclude: "list",
      })
      : ctx.flags({
        chown: "string",
        chmod: "string",
        link: "bool",
        exclude: "list",
        checksum: "string",
        "keep-git-dir": "bool",
      });
    const args = ctx.jsonOrList();
    if (args.length < 2) {
      ctx.fail(
        `${ctx.keyword} requires at least two arguments, but only ${
          args.length === 0 ? "none was" : "one was"
        } provided. Destination could not be determined`,
      );
    }
    const words = args.map((a) => ctx.expand(a, lookup));
    const dest = words[words.length - 1];
    const sources = words.slice(0, -1);
    if (dest === "") ctx.fail(`${ctx.keyword}: destination is empty after substitution`);
    if (sources.some((s) => s === "")) ctx.fail(`${ctx.keyword}: a source is empty`);
    const base = {
      ...ctx.loc,
      sources,
      dest,
      link: f.link === true,
      exclude: ((f.exclude ?? []) as string[]).map((e) => ctx.expand(e, lookup)),
    };
    const chown = typeof f.chown === "string" ? ctx.expand(f.chown, lookup) : undefined;
    const chmodText = typeof f.chmod === "string" ? ctx.expand(f.chmod, lookup) : undefined;
    const extra: { chown?: string; chmod?: number } = {};
    if (chown !== undefined && chown !== "") extra.chown = chown;
    if (chmodText !== undefined && chmodText !== "") extra.chmod = parseChmod(ctx, chmodText);
    if (kind === "add") {
      const out: AddInstruction = {
        kind: "add",
        ...base,
        ...extra,
        keepGitDir: f["keep-git-dir"] === true,
      };
      if (typeof f.checksum === "string" && f.checksum !== "") {
        out.checksum = ctx.expand(f.checksum, lookup);
      }
      return out;
    }
    const out: CopyInstruction = { kind: "copy", ...base, ...extra };
    if (typeof f.from === "string") {
      const from = ctx.expand(f.from, lookup);
      if (from === "") ctx.fail("COPY --from is empty");
      out.from = this.#resolveFrom(ctx, from, state.stage.index);
    }
    return out;
  }

  #resolveFrom(ctx: Ctx, from: string, current: number): CopyFrom {
    if (/^\d+$/.test(from)) {
      const index = Number(from);
      if (index >= current) {
        ctx.fail(`COPY --from=${from}: stage ${index} is not an earlier stage`);
      }
      return { kind: "stage", index };
    }
    const lower = from.toLowerCase();
    if (this.stages[current].name === lower) {
      ctx.fail(`COPY --from=${from} refers to the stage it is in`);
    }
    const index = this.stages.findIndex((s, i) => i < current && s.name === lower);
    if (index >= 0) return { kind: "stage", index };
    if (/\s/.test(from)) ctx.fail(`COPY --from: invalid image reference ${JSON.stringify(from)}`);
    return { kind: "image", ref: from };
  }
}

/**
 * Parses the concatenation of instruction files, as buildah does with several `-f` files: each
 * file has its own directives and escape character, and instructions keep their own file:line.
 *
 * @throws {FerryError} `invalid_input` for syntax errors and `unsupported` for RUN, heredocs and
 *   `--parents`, each naming `file:line`.
 */
export function parseInstructions(
  sources: InstructionSource | InstructionSource[],
  options: ParseOptions = {},
): ParsedInstructions {
  const list = Array.isArray(sources) ? sources : [sources];
  if (list.length === 0) throw new FerryError("invalid_input", "no instruction file given");
  const parser = new Parser(options);
  for (const source of list) {
    for (const raw of lexInstructions(source.text, source.name)) parser.add(raw);
  }
  const result = parser.finish();
  if (result.stages.length === 0) {
    throw new FerryError(
      "invalid_input",
      `${list.map((s) => s.name).join(", ")}: no FROM instruction`,
    );
  }
  return result;
}
