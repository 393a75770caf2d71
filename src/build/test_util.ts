/**
 * Helpers shared by the build and merge tests (not part of the module's API).
 *
 * @module
 */
import { join } from "node:path";
import { sha256 } from "../digest.ts";
import { readConfig, readManifest } from "../image_store/describe.ts";
import type { ImageStore } from "../image_store/mod.ts";
import { readLayer } from "../layer/mod.ts";
import type { ImageManifest } from "../manifest.ts";

/** One path of an image's file system. */
export interface TreeEntry {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  /** sha256 of a file's content. */
  digest?: string;
  /** Symlink or hard-link target. */
  target?: string;
  mtime: number;
}

/** The stored single-platform image `name`: manifest and config. */
export async function readStored(
  store: ImageStore,
  name: string,
): Promise<{ manifest: ImageManifest; config: Record<string, unknown> }> {
  const found = await store.resolve(name);
  const target = store.target();
  const manifest = await readManifest(target, found.descriptor);
  if (manifest.kind !== "manifest") throw new Error(`${name} is an index`);
  return { manifest, config: await readConfig(target, manifest.config) };
}

/** The file system of a stored manifest's layers, whiteouts applied. */
export async function imageTree(
  store: ImageStore,
  manifest: ImageManifest,
): Promise<Record<string, TreeEntry>> {
  const tree = new Map<string, TreeEntry>();
  const dropUnder = (dir: string, self: boolean) => {
    for (const p of [...tree.keys()]) {
      if ((self && p === dir) || p.startsWith(`${dir}/`)) tree.delete(p);
    }
  };
  for (const layer of manifest.layers) {
    for await (const e of readLayer(await store.target().fetch(layer))) {
      if (e.kind === "whiteout") {
        dropUnder(e.path, true);
        continue;
      }
      if (e.kind === "opaque") {
        dropUnder(e.path, false);
        continue;
      }
      if (e.kind !== "dir" && tree.get(e.path)?.kind === "dir") dropUnder(e.path, false);
      const entry: TreeEntry = {
        kind: e.kind,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime: e.mtime,
      };
      if (e.kind === "file") {
        entry.digest = sha256(new Uint8Array(await new Response(e.body).arrayBuffer()));
      }
      if (e.kind === "symlink" || e.kind === "hardlink") entry.target = e.target;
      tree.set(e.path, entry);
    }
  }
  return Object.fromEntries([...tree].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Writes files (`path: content`, or `[content, mode]`) under `dir`. */
export async function writeTree(
  dir: string,
  files: Record<string, string | [string, number]>,
): Promise<void> {
  for (const [rel, spec] of Object.entries(files)) {
    const [content, mode] = typeof spec === "string" ? [spec, 0o644] : spec;
    const path = join(dir, rel);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, content);
    await Deno.chmod(path, mode);
  }
}

/** sha256 of a text, as {@link TreeEntry.digest} holds it. */
export function textDigest(text: string): string {
  return sha256(text);
}

/** What a ferry CLI run printed and how it ended. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const REPO = new URL("../../", import.meta.url);

/**
 * A script running `build` and `merge` (plus the image commands) the way `ferry` does, for use
 * until the commands are part of the main command tree.
 */
function localProgram(): string {
  const at = (p: string) => JSON.stringify(new URL(p, REPO).href);
  return `
import { Command, CommanderError } from "@commander-js/extra-typings";
import { buildCommands } from ${at("src/cli/build.ts")};
import { imageCommands } from ${at("src/cli/images.ts")};
import { Output } from ${at("src/cli/output.ts")};
import { FerryError } from ${at("src/errors.ts")};
const state = {};
const program = new Command("ferry").option("--debug").option("-q, --quiet").exitOverride();
const output = (json) => {
  const g = program.opts();
  state.output ??= new Output({ json, quiet: g.quiet, debug: g.debug });
  return state.output;
};
for (const c of [...buildCommands(output), ...imageCommands(output)]) program.addCommand(c.exitOverride());
try {
  await program.parseAsync(Deno.args, { from: "user" });
  state.output?.finish();
} catch (err) {
  state.output?.finish();
  if (err instanceof CommanderError) Deno.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof FerryError) {
    console.error("ferry: " + err.message);
    Deno.exit(err.exitCode);
  }
  console.error("ferry: " + (err instanceof Error ? err.message : String(err)));
  Deno.exit(1);
}
`;
}

let entry: Promise<string[]> | undefined;

/**
 * The `deno` arguments that start ferry: main.ts once it has `build`, else a generated program
 * with the same commands.
 */
export function ferryEntry(): Promise<string[]> {
  entry ??= (async () => {
    const { buildProgram } = await import("../cli/mod.ts");
    const registered = buildProgram().commands.some((c) => c.name() === "build");
    const config = new URL("deno.json", REPO).pathname;
    if (registered) return ["run", "--allow-all", "--quiet", new URL("main.ts", REPO).pathname];
    // A data: URL: nothing to write or clean up; the import map comes from --config.
    const script = `data:text/javascript;base64,${
      btoa(String.fromCharCode(...new TextEncoder().encode(localProgram())))
    }`;
    return ["run", "--allow-all", "--quiet", "--config", config, script];
  })();
  return entry;
}

/** Runs `ferry ARGS…` as a separate process. */
export async function ferryCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...await ferryEntry(), ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
