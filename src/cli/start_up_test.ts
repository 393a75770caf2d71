import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO, staticGraph } from "../../tests/support/module_graph.ts";

Deno.test("the whole command tree loads no command's implementation", async () => {
  // Help, completions and parsing need only the definitions; each action imports its own code.
  const graph = await staticGraph("src/cli/mod.ts");
  const heavy = graph.filter((m) =>
    m.startsWith("npm:") || m.startsWith("node:")
      ? true
      : m.startsWith("src/cli/")
      ? m.endsWith("_action.ts")
      : ![
        "deno.json",
        "src/errors.ts",
        "src/platform.ts",
        "src/byte_size.ts",
        "src/edit_distance.ts",
        "src/terminal_text.ts",
      ].includes(m)
  );
  assert.deepEqual(heavy, [], `src/cli/mod.ts loads, besides definitions:\n${heavy.join("\n")}`);
  // The test sees the graph: the command modules and what they share are in it.
  assert.ok(graph.includes("src/cli/registry_save.ts") && graph.includes("src/cli/parse.ts"));
});

Deno.test("ferry's start-up path loads no Node module and no npm package", async () => {
  // Node's compatibility layer (which commander's `require`s pulled in) and npm packages cost
  // tens of milliseconds of every run; `--version`, help and parsing need neither. The test below
  // checks that a run loads nothing beyond this static graph.
  const graph = await staticGraph("main.ts");
  assert.ok(graph.includes("src/cli/program.ts") && graph.includes("src/cli/command/command.ts"));
  const foreign = graph.filter((m) => m.startsWith("node:") || m.startsWith("npm:"));
  assert.deepEqual(foreign, [], `main.ts loads before any command runs:\n${foreign.join("\n")}`);
});

Deno.test("registry save --images loads no context discovery and no archive or layout code", async () => {
  // A rerun of a finished save is mostly start-up; the YAML parser is for CONTEXT only, archives
  // for `--tars` and tar.txt only.
  const graph = await staticGraph("src/cli/registry_save_action.ts");
  assert.ok(graph.includes("src/transfer/save.ts") && graph.includes("src/transfer/location.ts"));
  const unneeded = graph.filter((m) =>
    ["src/context/", "src/archive/", "src/oci_layout/", "src/signature/"].some((dir) =>
      m.startsWith(dir)
    ) ||
    // Other commands' code, reached through the directories' `mod.ts` barrels.
    [
      "src/registry_dir/gc.ts",
      "src/registry_dir/verify.ts",
      "src/transfer/copy.ts",
      "src/transfer/transport.ts",
      "src/auth/auth_file_writer.ts",
    ].includes(m) ||
    m.startsWith("npm:")
  );
  assert.deepEqual(unneeded, []);
});

Deno.test("deno run loads a dynamic import when it runs, not the whole tree up front", async () => {
  // Otherwise `deno run main.ts` reads and parses every module a dynamic import can reach (all of
  // src/, yaml, bcryptjs) before its first line runs: a fifth of `--version`'s time.
  const config = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  assert.ok(config.unstable?.includes("lazy-dynamic-imports"), JSON.stringify(config.unstable));
  // Seen, not trusted: the files Deno's debug log says a `--version` run fetched.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "main.ts", "--version"],
    cwd: REPO,
    env: { DENO_LOG: "debug", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, log);
  const fetched = [...log.matchAll(/fetch\S* - specifier: (file:\S+)/g)]
    .map((m) => relative(REPO, fileURLToPath(m[1])));
  // The log names what it fetches (the static graph is there), and nothing beyond it.
  assert.ok(fetched.includes("src/cli/program.ts"), fetched.join("\n"));
  const expected = await staticGraph("main.ts");
  assert.deepEqual(fetched.filter((f) => !expected.includes(f)), []);
});
