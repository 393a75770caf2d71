/**
 * `deno task bundle`: ferry as one self-contained `.js` file (`deno bundle`), made runnable from a
 * URL as well as from a file.
 *
 * `deno bundle` gives CommonJS code inside the bundle (the yaml package's `require("node:process")`)
 * a `require` made with `createRequire(import.meta.url)`, which throws when the bundle runs from an
 * `https://` URL: `createRequire` wants a file. The bundle requires nothing but `node:` built-ins,
 * which resolve from any base, so a remote bundle gets a file URL as its base instead.
 *
 * Usage: `deno run -A scripts/bundle.ts [-o OUT]` (default `dist/ferry.js`).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
const CREATE_REQUIRE = /__deno_internal_createRequire\(import\.meta\.url\)/g;
const URL_SAFE =
  '__deno_internal_createRequire(import.meta.url.startsWith("file:") ? import.meta.url : "file:///ferry.js")';

/** Bundles main.ts into `output` and makes its `require` work from a remote URL. */
export async function bundle(output: string): Promise<void> {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", output, "main.ts"],
    cwd: REPO,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!run.success) throw new Error(`deno bundle failed (exit ${run.code})`);
  const text = await Deno.readTextFile(output);
  await Deno.writeTextFile(output, text.replace(CREATE_REQUIRE, URL_SAFE));
}

if (import.meta.main) {
  const o = Deno.args.indexOf("-o");
  const output = o >= 0 ? Deno.args[o + 1] : join(REPO, "dist", "ferry.js");
  try {
    await bundle(output);
  } catch (err) {
    console.error(`ferry: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
