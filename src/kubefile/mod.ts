/**
 * Instruction files of a build (Kubefile, Sealfile, Dockerfile, Containerfile) and the context's
 * ignore file.
 *
 * ```ts
 * const paths = await findInstructionFiles(ctx);
 * const parsed = parseInstructions(await readInstructionFiles(paths, ctx), { buildArgs });
 * const ignored = compileIgnore((await readIgnoreFile(ctx))?.lines ?? []);
 * ```
 *
 * @module
 */
export type * from "./types.ts";
export {
  type BaseImageInfo,
  type InstructionSource,
  parseInstructions,
  type ParseOptions,
} from "./parse.ts";
export {
  findInstructionFiles,
  INSTRUCTION_FILE_NAMES,
  readIgnoreFile,
  readInstructionFiles,
} from "./files.ts";
export { cleanPath, compileIgnore, type IgnoreFn, type IgnoreMatcher } from "./ignore.ts";
export { expandWord, expandWords, SubstitutionError, type VariableLookup } from "./expand.ts";
export { parseGoDuration } from "./duration.ts";
