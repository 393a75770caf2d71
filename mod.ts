/**
 * ferry as a library: the OCI distribution client, the stores images live in, the copy engine
 * that moves them, and build-context discovery. One call copies an image between two locations:
 *
 * ```ts
 * import { copy } from "./mod.ts";
 *
 * await copy("docker://quay.io/org/app:1.0", "oci:./layout:app:1.0");
 * ```
 *
 * Saving a build context's images into a registry directory:
 *
 * ```ts
 * import { Authenticator, CredentialStore, RegistryClient, saveImages, hostPlatform } from "./mod.ts";
 *
 * const credentials = new CredentialStore();
 * const client = new RegistryClient({
 *   auth: new Authenticator({ credentials: (r) => credentials.lookup(r) }),
 * });
 * await saveImages({
 *   registryDir: "registry",
 *   images: ["nginx:1.27"],
 *   platforms: [hostPlatform()],
 *   client,
 * });
 * ```
 *
 * Each part also has a subpath of its own (see `deno.json`'s `exports`): `./stores`, `./copy`,
 * `./context`, `./build`, `./server`, `./remote`, `./auth`, `./registry-dir`, `./oci-layout`,
 * `./archive`, `./memory-store`, `./image-store`, `./kubefile`, `./layer`, `./merge`,
 * `./signature`.
 *
 * @module
 */
export * from "./src/errors.ts";
export * from "./src/digest.ts";
export * from "./src/media_types.ts";
export * from "./src/platform.ts";
export * from "./src/manifest.ts";
export * from "./src/store.ts";
export * from "./src/reference.ts";
export {
  Authenticator,
  type Credential,
  CredentialStore,
  parseChallenges,
} from "./src/auth/mod.ts";
export {
  type AccessOptions,
  type DefaultClientOptions,
  defaultRegistryClient,
  RegistryClient,
  RegistryError,
  type RemoteErrorEntry,
  RemoteRegistry,
  RemoteRepository,
} from "./src/remote/mod.ts";
export { RegistryDir, RegistryDirRepository } from "./src/registry_dir/mod.ts";
export { CopyEngine, type CopyEvent, type CopyOptions, type CopyResult } from "./src/copy/mod.ts";
export { discoverImages } from "./src/context/mod.ts";
export type { DiscoveredImage, DiscoveryResult } from "./src/context/mod.ts";
export { type SavedImage, saveImages, type SaveOptions } from "./src/transfer/save.ts";
export {
  copy,
  copyImage,
  type LocationCopyOptions,
  type TransferOptions,
  type TransferResult,
} from "./src/transfer/copy.ts";
export { formatLocation, type Location, parseLocation } from "./src/transfer/location.ts";
