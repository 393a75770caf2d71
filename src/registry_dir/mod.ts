/**
 * Registry directories: the CNCF distribution registry's filesystem storage, read and written
 * directly. What `ferry registry save` writes, `ferry registry serve` serves and
 * `ferry registry sync` reads; docker-registry serves the same directory unchanged.
 *
 * ```ts
 * const dir = await RegistryDir.open("ctx/registry");
 * const repo = dir.repository("library/nginx");
 * await repo.push(configDesc, bytesSource(configBytes));
 * await dir.close();
 * ```
 *
 * @module
 */
export { RegistryDir, type RegistryDirOptions, RegistryDirRepository } from "./registry_dir.ts";
export { type StoredUploadSession, UploadArea } from "./uploads.ts";
export {
  checkRepositoryName,
  checkTag,
  isRepositoryName,
  isTag,
  Layout,
  MAX_NAME_LENGTH,
} from "./layout.ts";
export {
  DEFAULT_MAX_PROBLEMS,
  DEFAULT_VERIFY_WIDTH,
  ProblemList,
  type VerifyOptions,
  type VerifyProblem,
  type VerifyProblemKind,
  type VerifyProgress,
  verifyRegistryDir,
  type VerifyReport,
} from "./verify.ts";
export { MAX_LINK_SIZE } from "./fs.ts";
export {
  collectGarbage,
  type GcBlob,
  type GcEvent,
  type GcManifest,
  type GcOptions,
  type GcReport,
} from "./gc.ts";
