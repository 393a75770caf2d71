/**
 * Running ferry as it ships: `deno run -A` in the checkout with the V8 flags of main.ts's shebang,
 * so that every benchmark measures what users run.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The ferry checkout (holds main.ts and bench/). */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** The `--v8-flags=…` of main.ts's shebang in `repoRoot`: ferry's shipped runtime flags. */
export async function shippedV8Flags(repoRoot: string): Promise<string[]> {
  const first = (await Deno.readTextFile(join(repoRoot, "main.ts"))).split("\n", 1)[0];
  return first.split(/\s+/).filter((a) => a.startsWith("--v8-flags="));
}

/** Options of {@link denoRunArgs}. */
export interface DenoRunOptions {
  /** What to run and its arguments, relative to the checkout (default `["main.ts"]`). */
  script?: string[];
  /** Flags of `deno run` before the shipped V8 flags (e.g. `--quiet`). */
  denoFlags?: string[];
}

/**
 * The arguments after `deno` that run `options.script` (main.ts by default) in `repoRoot` the way
 * ferry ships: `run -A [denoFlags] --v8-flags=… SCRIPT…`.
 */
export async function denoRunArgs(repoRoot: string, options: DenoRunOptions = {}) {
  return [
    "run",
    "-A",
    ...options.denoFlags ?? [],
    ...await shippedV8Flags(repoRoot),
    ...options.script ?? ["main.ts"],
  ];
}
