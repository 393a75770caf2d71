import assert from "node:assert/strict";
import type { AnyCommand as Command } from "./command/mod.ts";
import {
  assembleProgram,
  COMMAND_PATHS,
  type CommandModuleName,
  loadCommandModules,
  modulesFor,
} from "./program.ts";

const ALL = Object.keys(COMMAND_PATHS) as CommandModuleName[];

/** Every command below `cmd` with its path of names. */
function commands(cmd: Command, path: string[] = []): [string[], Command][] {
  return cmd.commands.flatMap((
    c,
  ) => [[[...path, c.name()], c], ...commands(c, [...path, c.name()])]);
}

/**
 * The paths, aliases included, that pick modules: the top-level commands and, for `registry`
 * (the parent this module defines), its subcommands.
 */
function pickingPaths(program: Command): string[] {
  const named = (c: Command) => [c.name(), ...c.aliases()];
  return program.commands
    .flatMap((c) =>
      c.name() === "registry"
        ? c.commands.flatMap((s) => named(s).map((n) => `registry ${n}`))
        : named(c)
    )
    .sort();
}

function helpOf(cmd: Command): string {
  return cmd.helpText(100);
}

Deno.test("COMMAND_PATHS names exactly the commands each module defines", async () => {
  const all = await loadCommandModules(ALL);
  for (const name of ALL) {
    const program = assembleProgram({ [name]: all[name] });
    assert.deepEqual(
      pickingPaths(program),
      COMMAND_PATHS[name].map((p) => p.join(" ")).sort(),
      `module ${name}`,
    );
  }
});

Deno.test("a tree of some modules holds the same commands, flags and help as the whole", async () => {
  const all = await loadCommandModules(ALL);
  const whole = new Map(commands(assembleProgram(all)).map(([p, c]) => [p.join(" "), c]));
  for (const name of ALL) {
    for (const [path, cmd] of commands(assembleProgram({ [name]: all[name] }))) {
      if (path.join(" ") === "registry") continue; // lists only the subcommands it was given
      const full = whole.get(path.join(" "));
      assert.ok(full, `${path.join(" ")} is in the whole tree`);
      assert.equal(helpOf(cmd), helpOf(full), `help of ${path.join(" ")}`);
    }
  }
  // The whole tree has every module's commands, `registry` with all seven, and completions.
  assert.deepEqual(
    [...whole.keys()].filter((p) => !/ .* /.test(p) && (!p.includes(" ") || /^registry /.test(p))),
    [
      "context",
      "registry",
      "registry save",
      "registry serve",
      "registry verify",
      "registry ls-blobs",
      "registry gc",
      "registry copy",
      "registry sync",
      "copy",
      "verify",
      "login",
      "logout",
      "pull",
      "push",
      "tag",
      "rmi",
      "prune",
      "images",
      "inspect",
      "save",
      "load",
      "build",
      "merge",
      "completions",
    ],
  );
});

Deno.test("modulesFor loads the modules of the named command, all when it names none", () => {
  const cases: [string, CommandModuleName[]][] = [
    ["--version", []],
    ["-v", []],
    ["--debug -q --version", []],
    ["--version --help", ALL],
    ["--help --version", ALL],
    ["", ALL],
    ["--help", ALL],
    ["-q", ALL],
    ["help build", ALL],
    ["completions bash", ALL],
    ["cpy a b", ALL],
    ["-- build", ALL],
    ["context images .", ["context"]],
    ["--debug registry save --registry-dir r ctx", ["registrySave"]],
    ["registry save --help", ["registrySave"]],
    ["registry serve filesystem ./r", ["registryServe"]],
    ["registry verify ./r", ["registryVerify"]],
    ["registry ls-blobs ./r", ["registryLsBlobs"]],
    ["registry gc --dry-run ./r", ["registryGc"]],
    ["registry sync a b", ["copy"]],
    ["registry copy x y", ["copy"]],
    ["registry", [
      "registrySave",
      "registryServe",
      "registryVerify",
      "registryLsBlobs",
      "registryGc",
      "copy",
    ]],
    ["registry --help", [
      "registrySave",
      "registryServe",
      "registryVerify",
      "registryLsBlobs",
      "registryGc",
      "copy",
    ]],
    ["registry -h save", [
      "registrySave",
      "registryServe",
      "registryVerify",
      "registryLsBlobs",
      "registryGc",
      "copy",
    ]],
    ["registry bogus", [
      "registrySave",
      "registryServe",
      "registryVerify",
      "registryLsBlobs",
      "registryGc",
      "copy",
    ]],
    ["copy docker://a oci:b", ["copy"]],
    ["-q login r.example", ["login"]],
    ["logout --all", ["login"]],
    ["save -o x.tar nginx", ["images"]],
    ["images --json", ["images"]],
    ["bud .", ["build"]],
    ["merge a b", ["build"]],
    ["build --help", ["build"]],
  ];
  for (const [line, want] of cases) {
    const args = line === "" ? [] : line.split(" ");
    assert.deepEqual(modulesFor(args), want, `ferry ${line}`);
  }
});

Deno.test("every command's own modules build a tree that reaches it", async () => {
  for (const [name, paths] of Object.entries(COMMAND_PATHS)) {
    for (const path of paths) {
      const names = modulesFor([...path, "--help"]);
      assert.deepEqual(names, [name], path.join(" "));
      let cmd: Command | undefined = assembleProgram(await loadCommandModules(names));
      for (const word of path) {
        cmd = cmd?.commands.find((c) => c.name() === word || c.aliases().includes(word));
      }
      assert.ok(cmd, `${path.join(" ")} is in the tree of ${names}`);
    }
  }
});
