/**
 * What loading a module evaluates before any dynamic import, as `deno info --json` sees it: for
 * tests that keep heavy code (command implementations, Node compatibility modules) off ferry's
 * start-up path.
 *
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root directory. */
export const REPO: string = fileURLToPath(new URL("../../", import.meta.url));

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; isDynamic?: boolean }[];
}

/**
 * What loading `entry` (relative to the repository) evaluates before any dynamic import: its
 * static imports, transitively, without type-only ones. Files relative to the repository, npm
 * packages as `npm:NAME`, built-in modules as their specifier (`node:crypto`).
 */
export async function staticGraph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info ${entry}: ${new TextDecoder().decode(out.stderr)}`);
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
    redirects: Record<string, string>;
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const pending = [...info.roots];
  while (pending.length > 0) {
    const specifier = info.redirects[pending[0]] ?? pending[0];
    pending.shift();
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of modules.get(specifier)?.dependencies ?? []) {
      if (!dep.isDynamic && dep.code?.specifier) pending.push(dep.code.specifier);
    }
  }
  return [...seen].map((s) =>
    s.startsWith("file:")
      ? relative(REPO, fileURLToPath(s))
      : s.startsWith("npm:/")
      ? `npm:${s.slice(5).replace(/@[^@/]*$/, "")}`
      : s
  ).sort();
}
