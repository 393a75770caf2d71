import assert from "node:assert/strict";
import { FerryError } from "../../errors.ts";
import { type AnyCommand, Command, Option } from "./mod.ts";
import { parseBool, parseList, parsePositiveInt } from "../parse.ts";

/** A program with a `registry save`-like command; each run's action arguments are recorded. */
function program() {
  const runs: unknown[][] = [];
  const written = { out: "", err: "" };
  const root = new Command("ferry")
    .version("1.2.3", "-v, --version")
    .option("--debug", "debug")
    .option("-q, --quiet", "quiet")
    .configureOutput({
      writeOut: (t) => void (written.out += t),
      writeErr: (t) => void (written.err += t),
      helpWidth: () => 80,
    });
  const save = new Command("save")
    .description("save images")
    .argument("[context]", "context")
    .option("--registry-dir <dir>", "directory", "registry")
    .option("--images <list>", "images", parseList)
    .option("--max-pull-procs <n>", "at once", parsePositiveInt, 5)
    .option("-p, --port <port>", "port", parsePositiveInt)
    .option("--all", "all")
    .option("--no-referrers", "no referrers")
    .option("--disable-logging [bool]", "no log", parseBool)
    .addOption(new Option("--arch <arch>", "arch").hideHelp())
    .addOption(
      new Option("--format <format>", "format").choices(["oci", "docker"] as const).default(
        "oci" as const,
      ),
    )
    .action((context, opts) => void runs.push([context, opts]));
  const tag = new Command("tag")
    .alias("t")
    .argument("<image>", "image")
    .argument("<names...>", "names")
    .requiredOption("-o, --output <file>", "output")
    .action((image, names, opts) => void runs.push([image, names, opts]));
  const group = new Command("registry").description("registry commands").addCommand(save);
  root.addCommand(group).addCommand(tag);
  return { root, runs, written };
}

async function usageError(args: string[]): Promise<string> {
  const { root } = program();
  const err = await root.parseAsync(args).then(() => undefined, (e) => e);
  assert.ok(err instanceof FerryError && err.code === "usage", `${args}: ${err}`);
  assert.equal(err.exitCode, 2);
  assert.ok(!err.message.includes("\n"), err.message);
  return err.message;
}

Deno.test("flags come before, between and after operands; -- ends them; --flag=value", async () => {
  const { root, runs } = program();
  await root.parseAsync(["registry", "save", "--images=a,b", "ctx", "--images", "c", "-p5000"]);
  await root.parseAsync(["registry", "save", "--max-pull-procs", "2", "--", "--all"]);
  assert.deepEqual(runs, [
    ["ctx", {
      registryDir: "registry",
      maxPullProcs: 5,
      referrers: true,
      format: "oci",
      images: ["a", "b", "c"],
      port: 5000,
    }],
    ["--all", { registryDir: "registry", maxPullProcs: 2, referrers: true, format: "oci" }],
  ]);
});

Deno.test("switches, negations, [value] flags, hidden flags, program flags anywhere", async () => {
  const { root, runs } = program();
  await root.parseAsync([
    "registry",
    "save",
    "--all",
    "--no-referrers",
    "--disable-logging",
    "--arch",
    "arm64",
    "-q",
  ]);
  await root.parseAsync(["registry", "save", "--disable-logging", "false", "--debug"]);
  await root.parseAsync(["registry", "save", "--disable-logging=true", "ctx"]);
  assert.equal(runs.length, 3);
  const [first, second, third] = runs.map((r) => r[1] as Record<string, unknown>);
  assert.equal(first.all, true);
  assert.equal(first.referrers, false);
  assert.equal(first.disableLogging, true);
  assert.equal(first.arch, "arm64");
  assert.equal(second.disableLogging, false);
  assert.equal(third.disableLogging, true);
  assert.equal(runs[2][0], "ctx");
  assert.deepEqual(root.opts(), {}, "each parse starts from the defaults");
});

Deno.test("program flags are the program's options, wherever they were given", async () => {
  const { root } = program();
  await root.parseAsync(["registry", "save", "-q", "ctx", "--debug"]);
  assert.deepEqual(root.opts(), { quiet: true, debug: true });
});

Deno.test("aliases, required options and variadic operands", async () => {
  const { root, runs } = program();
  await root.parseAsync(["t", "img", "a", "b", "-o", "x.tar"]);
  assert.deepEqual(runs, [["img", ["a", "b"], { output: "x.tar" }]]);
});

Deno.test("mistakes are one-line usage errors naming the help to read", async () => {
  assert.equal(await usageError(["--bogus"]), 'unknown option "--bogus" (see ferry --help)');
  assert.equal(
    await usageError(["registry", "save", "--iamges", "x"]),
    'unknown option "--iamges"; did you mean --images? (see ferry registry save --help)',
  );
  assert.equal(
    await usageError(["registry", "sav"]),
    'unknown command "sav"; did you mean save? (see ferry registry --help)',
  );
  assert.equal(await usageError(["bogus"]), 'unknown command "bogus" (see ferry --help)');
  assert.equal(
    await usageError(["registry", "save", "a", "b"]),
    'too many operands: "b" (save takes [context]) (see ferry registry save --help)',
  );
  assert.equal(
    await usageError(["tag", "img", "-o", "x"]),
    "missing operand <names...> (see ferry tag --help)",
  );
  assert.equal(
    await usageError(["tag", "img", "a"]),
    "missing required option -o, --output <file> (see ferry tag --help)",
  );
  assert.equal(
    await usageError(["registry", "save", "--max-pull-procs"]),
    "--max-pull-procs <n> needs a value (see ferry registry save --help)",
  );
  assert.equal(
    await usageError(["registry", "save", "--format", "zip"]),
    '--format "zip": expected one of oci, docker (see ferry registry save --help)',
  );
  assert.equal(
    await usageError(["registry", "save", "--all=yes"]),
    "--all takes no value (see ferry registry save --help)",
  );
  assert.equal(
    await usageError(["registry", "save", "-qp", "1"]),
    'unknown option "-qp" (see ferry registry save --help)',
  );
  // A value parser's complaint names the flag it was given to.
  assert.equal(
    await usageError(["registry", "save", "--max-pull-procs=0"]),
    '--max-pull-procs: expected a positive whole number, got "0"',
  );
});

Deno.test("--help, help COMMAND and a bare group show help; --version the version", async () => {
  for (
    const args of [
      ["registry", "save", "--help"],
      ["registry", "save", "-h", "--bogus"],
      ["registry", "-h", "save"],
      ["help", "registry", "save"],
      ["registry", "help", "save"],
    ]
  ) {
    const { root, runs, written } = program();
    await root.parseAsync(args);
    assert.match(written.out, /^Usage: ferry registry save \[options\] \[context\]\n/, `${args}`);
    assert.equal(written.err, "");
    assert.deepEqual(runs, [], "nothing runs");
  }
  const { root, runs, written } = program();
  await root.parseAsync(["registry"]);
  assert.match(written.err, /^Usage: ferry registry \[options\] \[command\]\n/);
  assert.equal(written.out, "");
  await root.parseAsync(["registry", "save", "--version"]);
  assert.equal(written.out, "1.2.3\n");
  assert.deepEqual(runs, []);
});

Deno.test("help lists operands, flags with choices and defaults, subcommands, text after", () => {
  const { root } = program();
  const save = root.commands[0].commands[0];
  save.addHelpText("after", "\nExamples:\n  ferry registry save ./ctx");
  assert.equal(
    save.helpText(80),
    `Usage: ferry registry save [options] [context]

save images

Arguments:
  context                   context

Options:
  --registry-dir <dir>      directory (default: "registry")
  --images <list>           images
  --max-pull-procs <n>      at once (default: 5)
  -p, --port <port>         port
  --all                     all
  --no-referrers            no referrers
  --disable-logging [bool]  no log
  --format <format>         format (choices: "oci", "docker", default: "oci")
  -h, --help                display help for command

Examples:
  ferry registry save ./ctx
`,
  );
  assert.equal(
    root.helpInformation(60).split("Commands:\n")[1],
    "  registry                            registry commands\n" +
      "  tag|t [options] <image> <names...>\n" +
      "  help [command]                      display help for command\n",
  );
});

Deno.test("option and operand types follow the flag text", () => {
  const cmd = new Command("x")
    .argument("<a>", "")
    .argument("[b]", "")
    .argument("[c]", "", "c")
    .argument("<d...>", "")
    .option("--plain <v>", "")
    .option("--with-default <v>", "", "x")
    .option("--count <n>", "", parsePositiveInt, 1)
    .option("--switch", "")
    .option("--no-cache", "")
    .option("--maybe [bool]", "", parseBool)
    .requiredOption("-o, --output <file>", "");
  type Opts = ReturnType<typeof cmd.opts>;
  const exact: {
    plain?: string;
    withDefault: string;
    count: number;
    switch?: boolean;
    cache: boolean;
    maybe?: boolean;
    output: string;
  } = {} as Opts;
  const back: Opts = exact;
  cmd.action((a: string, b: string | undefined, c: string, d: string[], opts) => {
    const o: typeof exact = opts;
    void [a, b, c, d, o];
  });
  void back;
});

Deno.test("a command tree rejects clashing names and flags", () => {
  const cmd: AnyCommand = new Command("x").option("--all", "");
  assert.throws(() => cmd.option("-a, --all", ""), /clashes/);
  const root = new Command("r").addCommand(new Command("a"));
  assert.throws(() => root.addCommand(new Command("b").alias("a")), /clashes/);
});
