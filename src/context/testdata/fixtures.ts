/**
 * Helpers for tests of context discovery: the fixture context and chart archives built on the fly.
 *
 * @module
 */

import { join } from "../../path.ts";
import { packWithGnuTar } from "../../tar/_test_tar.ts";
import { listFiles } from "../fs_util.ts";

/** The fixture build context. */
export const FIXTURE_CONTEXT = new URL("./ctx", import.meta.url).pathname;

/** Files of `dir`, recursively, keyed by `/`-separated relative path. */
export async function readTree(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const rel of await listFiles(dir)) files.set(rel, await Deno.readFile(join(dir, rel)));
  return files;
}

/** A gzip-compressed tar of `files`, each under `top/`, as `helm package` lays charts out. */
export async function packChart(
  files: Map<string, Uint8Array | string>,
  top: string,
): Promise<Uint8Array> {
  return await packWithGnuTar(
    [...files].map(([path, data]) => ({ name: `${top}/${path}`, data })),
    { gzip: true },
  );
}

/** Copies directory `from` into `to` (created). */
export async function copyTree(from: string, to: string): Promise<void> {
  for (const [rel, data] of await readTree(from)) {
    const target = join(to, rel);
    await Deno.mkdir(join(target, ".."), { recursive: true });
    await Deno.writeFile(target, data);
  }
}

/** Writes an executable shell script. */
export async function writeScript(path: string, body: string): Promise<void> {
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
}
