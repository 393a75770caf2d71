/**
 * Finding and reading the instruction files and the ignore file of a build context.
 *
 * @module
 */
import { isAbsolute, join, relative } from "../path.ts";
import { FerryError } from "../errors.ts";
import type { InstructionSource } from "./parse.ts";

/** File names looked for in a context without `-f`, in the order Sealos passes them to buildah. */
export const INSTRUCTION_FILE_NAMES: readonly string[] = [
  "Sealfile",
  "Kubefile",
  "Dockerfile",
  "Containerfile",
];

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new FerryError("io", `${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The instruction files of a build.
 *
 * Without `explicit`, every existing one of Sealfile, Kubefile, Dockerfile and Containerfile in
 * `contextDir`, in that order (they are concatenated). With `explicit` (`-f`, repeatable), each path
 * as given, or joined to `contextDir` when it does not exist as given, as buildah resolves them.
 *
 * @returns paths to read, in order.
 * @throws {FerryError} `not_found` when no file exists, `invalid_input` for a directory.
 */
export async function findInstructionFiles(
  contextDir: string,
  explicit?: string[],
): Promise<string[]> {
  if (explicit && explicit.length > 0) {
    const out: string[] = [];
    for (const given of explicit) {
      let path = given;
      let info = await statOrUndefined(path);
      if (!info && !isAbsolute(given)) {
        path = join(contextDir, given);
        info = await statOrUndefined(path);
      }
      if (!info) throw new FerryError("not_found", `instruction file ${given} not found`);
      if (info.isDirectory) {
        throw new FerryError("invalid_input", `instruction file ${given} is a directory`);
      }
      out.push(path);
    }
    return out;
  }
  const out: string[] = [];
  for (const name of INSTRUCTION_FILE_NAMES) {
    const path = join(contextDir, name);
    const info = await statOrUndefined(path);
    if (info && !info.isDirectory) out.push(path);
  }
  if (out.length === 0) {
    throw new FerryError(
      "not_found",
      `${contextDir}: no ${INSTRUCTION_FILE_NAMES.join(", ")} found (use -f to name one)`,
    );
  }
  return out;
}

/**
 * Reads instruction files for {@link parseInstructions}; each is named relative to `contextDir`
 * when inside it, so messages say `Kubefile:3` rather than a long absolute path.
 */
export async function readInstructionFiles(
  paths: string[],
  contextDir?: string,
): Promise<InstructionSource[]> {
  const out: InstructionSource[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      throw new FerryError("io", `${path}: ${(err as Error).message}`, { cause: err });
    }
    let name = path;
    if (contextDir !== undefined) {
      const rel = relative(contextDir, path);
      if (rel !== "" && !rel.startsWith("..") && !isAbsolute(rel)) name = rel;
    }
    out.push({ name, text });
  }
  return out;
}

/**
 * Reads the context's ignore file: `.containerignore` if present, else `.dockerignore`, as buildah
 * looks for them.
 *
 * @returns the file's lines and its name, or `undefined` when there is none.
 */
export async function readIgnoreFile(
  contextDir: string,
): Promise<{ name: string; lines: string[] } | undefined> {
  for (const name of [".containerignore", ".dockerignore"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(join(contextDir, name));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw new FerryError("io", `${join(contextDir, name)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return { name, lines: text.split(/\r?\n/) };
  }
  return undefined;
}
