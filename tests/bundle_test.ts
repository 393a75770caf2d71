/**
 * ferry as users get it: `deno task bundle` makes one `.js` file that runs with no network, no
 * npm cache and no source tree (copy one file, run it), and `deno run` with too few permissions
 * fails with one line naming the flag to add.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { MemoryStore } from "../src/memory_store/mod.ts";
import { serveRegistry } from "../src/server/mod.ts";
import { generateImage } from "../scripts/demo.ts";
import { REPO_ROOT, tempDir } from "./support/mod.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs the `bundle` task of deno.json with its output redirected to `output`. */
async function bundleTask(output: string): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json")));
  const task: string = config.tasks.bundle;
  const words = task.split(/\s+/);
  assert.equal(words[0], "deno", `the bundle task should run deno: ${task}`);
  const o = words.indexOf("-o");
  assert.ok(o > 0, `the bundle task should name its output with -o: ${task}`);
  words[o + 1] = output;
  const run = await exec(words.slice(1), { cwd: REPO_ROOT });
  assert.equal(run.code, 0, run.stderr);
}

/** A place with nothing cached: an empty DENO_DIR and HOME, and an npm registry that is not there. */
async function cleanEnv(dir: string): Promise<Record<string, string>> {
  await Deno.mkdir(join(dir, "deno_dir"));
  await Deno.mkdir(join(dir, "home"));
  return {
    DENO_DIR: join(dir, "deno_dir"),
    HOME: join(dir, "home"),
    XDG_CACHE_HOME: join(dir, "home", ".cache"),
    NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
  };
}

/** `deno run` of a bundle as the offline install path does it: no config, no remote modules. */
function runBundle(bundle: string, flags: string[], args: string[]): string[] {
  return [
    "run",
    "--no-config",
    "--no-remote",
    "--cached-only",
    "--no-prompt",
    "--quiet",
    ...flags,
    bundle,
    ...args,
  ];
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string) {
    for await (const e of Deno.readDir(join(dir, rel))) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(path);
      else out.push(path);
    }
  }
  await walk("");
  return out.sort();
}

/** A ferry registry server on 127.0.0.1 holding one generated image, demo/hello:1.0. */
async function seededRegistry(text: string) {
  const store = new MemoryStore();
  const image = await generateImage(store, "demo/hello", "1.0", text);
  const server = await serveRegistry({ store, port: 0 });
  return {
    host: new URL(server.url).host,
    image,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await store.close();
    },
  };
}

Deno.test("deno task bundle: one file that runs offline with an empty DENO_DIR", async (t) => {
  await using dir = await tempDir("ferry-bundle-");
  const bundle = dir.join("ferry.js");
  await bundleTask(bundle);
  const env = await cleanEnv(dir.path);
  const work = dir.join("work");
  await Deno.mkdir(work);
  const flags = [
    "--allow-net=127.0.0.1",
    `--allow-read=${dir.path}`,
    `--allow-write=${dir.path}`,
    "--allow-env",
  ];

  await t.step("the npm packages are inlined, nothing is imported from outside", async () => {
    const text = await Deno.readTextFile(bundle);
    const imports = [...text.matchAll(/(?:^|\s)(?:import|export)\s[^;]*?from\s*["']([^"']+)["']/gm)]
      .map((m) => m[1])
      .concat([...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]));
    const outside = imports.filter((s) => !s.startsWith("node:"));
    assert.deepEqual(outside, [], `the bundle imports ${outside.join(", ")}`);
    // yaml and bcryptjs are in the file itself (esbuild may number names)
    for (const marker of [/function parseAllDocuments\d*\(/, /function compareSync\d*\(/]) {
      assert.match(text, marker);
    }
  });

  await t.step("--version and --help", async () => {
    const config = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json")));
    const version = await exec(runBundle(bundle, flags, ["--version"]), { cwd: work, env });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), config.version);
    const help = await exec(runBundle(bundle, flags, ["--help"]), { cwd: work, env });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: ferry /);
    assert.match(help.stdout, /registry\s+work with registries/);
    const sub = await exec(runBundle(bundle, flags, ["registry", "save", "--help"]), {
      cwd: work,
      env,
    });
    assert.equal(sub.code, 0, sub.stderr);
    assert.match(sub.stdout, /--registry-dir <dir>/);
  });

  await t.step("registry save from a loopback registry", async () => {
    await using registry = await seededRegistry("hello from the bundle\n");
    const { host, image } = registry;
    const save = await exec(
      runBundle(bundle, flags, [
        "registry",
        "save",
        "--json",
        "--registry-dir",
        "registry",
        "--images",
        `${host}/demo/hello:1.0`,
      ]),
      { cwd: work, env },
    );
    assert.equal(save.code, 0, save.stderr);
    const events = save.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const result = events.at(-1);
    assert.equal(result.type, "result");
    assert.deepEqual(
      result.images.map((i: { repository: string; tag: string; digest: string }) => [
        i.repository,
        i.tag,
        i.digest,
      ]),
      [["demo/hello", "1.0", image.manifest.digest]],
    );
    const files = await listTree(join(work, "registry"));
    const hex = image.manifest.digest.slice(7);
    assert.ok(
      files.includes(`docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`),
      files.join("\n"),
    );
    assert.ok(
      files.includes(
        "docker/registry/v2/repositories/demo/hello/_manifests/tags/1.0/current/link",
      ),
    );
  });

  await t.step("nothing was downloaded or cached", async () => {
    const cached = await listTree(env.DENO_DIR);
    assert.ok(!cached.some((f) => f.startsWith("npm/") || f.startsWith("remote/")), cached.join());
  });

  await t.step("it runs from a URL, as docs/PERMISSIONS.md shows", async () => {
    // Served over HTTP and run with the narrow flags: Deno fetches the one file, nothing else.
    const bytes = await Deno.readFile(bundle);
    await using web = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response(bytes, { headers: { "Content-Type": "application/javascript" } }),
    );
    const url = `http://127.0.0.1:${web.addr.port}/ferry/ferry.js`;
    await Deno.mkdir(dir.join("url"));
    const urlEnv = await cleanEnv(dir.join("url"));
    await using registry = await seededRegistry("hello from a URL\n");
    const remote = (args: string[]) =>
      exec([
        "run",
        "--no-config",
        "--no-prompt",
        "--quiet",
        "--allow-net=127.0.0.1",
        `--allow-read=${work}`,
        `--allow-write=${join(work, "from-url")}`,
        "--allow-env",
        url,
        ...args,
      ], { cwd: work, env: urlEnv });
    const version = await remote(["--version"]);
    assert.equal(version.code, 0, version.stderr);
    const save = await remote([
      "registry",
      "save",
      "--registry-dir",
      "from-url",
      "--images",
      `${registry.host}/demo/hello:1.0`,
    ]);
    assert.equal(save.code, 0, save.stderr);
    const hex = registry.image.manifest.digest.slice(7);
    const files = await listTree(join(work, "from-url"));
    assert.ok(files.includes(`docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`));
  });

  await t.step("the quickstart runs on the bundle", async () => {
    const demo = await exec([
      "run",
      "--no-prompt",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      join(REPO_ROOT, "scripts", "demo.ts"),
      "--ferry",
      bundle,
    ], { cwd: work, env });
    assert.equal(demo.code, 0, `${demo.stdout}\n${demo.stderr}`);
    assert.match(demo.stdout, /\[3\/6\]/);
    assert.match(demo.stdout, /demo\/hello:1\.0\tmanifests\/hello\.yaml:\d+/);
  });
});

Deno.test("gzip worker threads run inside a bundle (blob-URL workers)", async () => {
  await using dir = await tempDir("ferry-bundle-gz-");
  const entry = dir.join("entry.ts");
  const gzip = new URL("../src/layer/gzip.ts", import.meta.url).href;
  await Deno.writeTextFile(
    entry,
    `import { GzipEncoder } from ${JSON.stringify(gzip)};
const input = new Uint8Array(3 * 1024 * 1024 + 123);
let x = 7;
for (let i = 0; i < input.length; i++) { x = (x * 1103515245 + 12345) >>> 0; input[i] = (x >>> 24) % 16 + 65; }
async function compress(threads: number): Promise<Uint8Array> {
  const enc = new GzipEncoder({ threads });
  enc.write(input);
  const parts = await enc.finish();
  enc.close();
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}
const [parallel, serial] = [await compress(4), await compress(0)];
await Deno.writeFile(Deno.args[0], parallel);
console.log(parallel.length === serial.length && parallel.every((b, i) => b === serial[i]) ? "same" : "different");
`,
  );
  const out = dir.join("entry.js");
  const built = await exec(["bundle", "--no-config", "--platform", "deno", "-o", out, entry], {
    cwd: dir.path,
  });
  assert.equal(built.code, 0, built.stderr);
  const env = await cleanEnv(dir.path);
  const gz = dir.join("out.gz");
  const run = await exec(
    ["run", "--no-config", "--no-remote", "--no-prompt", "--quiet", `--allow-write=${gz}`, out, gz],
    { cwd: dir.path, env },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), "same");
  const data = gunzipSync(await Deno.readFile(gz));
  assert.equal(data.length, 3 * 1024 * 1024 + 123);
});

/** One line on stderr naming the flag, no stack trace, exit code 1. */
function assertOneLine(run: Run, flag: string) {
  assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  const lines = run.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `want one line, got:\n${run.stderr}`);
  assert.match(lines[0], /^ferry: /);
  assert.ok(lines[0].includes(flag), `"${lines[0]}" does not name ${flag}`);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
}

Deno.test("deno run with a missing permission: one line naming the flag to add", async (t) => {
  await using dir = await tempDir("ferry-perm-");
  const main = join(REPO_ROOT, "main.ts");
  await using registry = await seededRegistry("hello\n");
  const image = `${registry.host}/demo/hello:1.0`;
  const run = (flags: string[], args: string[]) =>
    exec(["run", "--no-prompt", "--quiet", ...flags, main, ...args], {
      cwd: dir.path,
      env: { HOME: dir.path, PATH: Deno.env.get("PATH") ?? "" },
    });
  const save = ["registry", "save", "--registry-dir", "registry", "--images", image];

  await t.step("--allow-env", async () => {
    // the YAML parser reads LOG_TOKENS and LOG_STREAM; a flow sequence of args needs it
    await Deno.mkdir(dir.join("ctx", "manifests"), { recursive: true });
    await Deno.writeTextFile(
      dir.join("ctx", "manifests", "a.yaml"),
      `spec:\n  containers:\n  - image: ${image}\n    args: ["--image=${image}"]\n`,
    );
    assertOneLine(await run(["--allow-read"], ["context", "images", "ctx"]), "--allow-env");
  });
  await t.step("--allow-write", async () => {
    assertOneLine(await run(["--allow-read", "--allow-env"], save), "--allow-write");
  });
  await t.step("--allow-net", async () => {
    assertOneLine(
      await run(["--allow-read", "--allow-write", "--allow-env"], save),
      "--allow-net",
    );
  });
  await t.step("--allow-read", async () => {
    assertOneLine(await run(["--allow-env"], ["context", "images", dir.path]), "--allow-read");
  });
});

Deno.test("the narrow permissions of docs/PERMISSIONS.md are enough", async () => {
  await using dir = await tempDir("ferry-perm-");
  const doc = await Deno.readTextFile(join(REPO_ROOT, "docs", "PERMISSIONS.md"));
  const envList = /--allow-env=([A-Z_,]+)/.exec(doc)?.[1];
  assert.ok(envList, "docs/PERMISSIONS.md names the environment variables with --allow-env=…");
  await using registry = await seededRegistry("hello\n");
  const { host, image } = registry;
  const ctx = dir.join("ctx");
  await Deno.mkdir(join(ctx, "manifests"), { recursive: true });
  await Deno.writeTextFile(
    join(ctx, "manifests", "app.yaml"),
    `apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n    - name: app\n      image: ${host}/demo/hello:1.0\n`,
  );
  const main = join(REPO_ROOT, "main.ts");
  const home = dir.join("home");
  await Deno.mkdir(home);
  const env = { HOME: home, PATH: Deno.env.get("PATH") ?? "" };
  // From a checkout, ferry reads its own modules as a command needs them (PERMISSIONS.md).
  const withCheckout = (flags: string[]) => {
    const read = flags.findIndex((f) => f.startsWith("--allow-read="));
    if (read < 0) return [...flags, `--allow-read=${REPO_ROOT}`];
    return flags.map((f, i) => i === read ? `${f},${REPO_ROOT}` : f);
  };
  const ferry = (flags: string[], args: string[]) =>
    exec([
      "run",
      "--no-prompt",
      "--quiet",
      `--allow-env=${envList}`,
      ...withCheckout(flags),
      main,
      ...args,
    ], { cwd: dir.path, env });

  const help = await ferry([], ["--help"]);
  assert.equal(help.code, 0, help.stderr);
  const images = await ferry([`--allow-read=${ctx}`], ["context", "images", ctx]);
  assert.equal(images.code, 0, images.stderr);
  assert.match(images.stdout, /demo\/hello:1\.0\tmanifests\/app\.yaml:7/);
  const registryDir = join(ctx, "registry");
  const save = await ferry([
    `--allow-net=${host}`,
    `--allow-read=${ctx}`,
    `--allow-write=${registryDir}`,
  ], ["registry", "save", "--registry-dir", registryDir, ctx]);
  assert.equal(save.code, 0, save.stderr);
  assert.match(save.stderr, /1 image saved/);
  const root = join(home, ".local", "share", "ferry");
  const pull = await ferry(
    [`--allow-net=${host}`, `--allow-read=${home}`, `--allow-write=${root}`],
    ["pull", `${host}/demo/hello:1.0`],
  );
  assert.equal(pull.code, 0, pull.stderr);
  assert.equal(pull.stdout.trim(), image.manifest.digest);
  const archive = await ferry(
    [`--allow-read=${home},${dir.path}`, `--allow-write=${root},${dir.path}`],
    ["save", "-o", dir.join("hello.tar"), `${host}/demo/hello:1.0`],
  );
  assert.equal(archive.code, 0, archive.stderr);
  assert.ok((await Deno.stat(dir.join("hello.tar"))).size > 0);
});
