/**
 * Test harness for ferry's interop tests: real peers (the CNCF distribution registry, skopeo,
 * umoci, buildah, helm) on 127.0.0.1, synthetic images, a token server, a fault-injecting proxy,
 * self-signed certificates, and a deliberately hostile registry scripted by each test. For tests
 * of the core without any peer: ferry's own registry over a memory store, in process, behind a
 * fault wrapper (`startMemoryRegistry`).
 *
 * ```ts
 * import { makeLayout, peerTest, pushToRegistry, startRegistry, tempDir } from "./mod.ts";
 *
 * peerTest("copies an index", ["docker-registry", "skopeo"], async () => {
 *   await using dir = await tempDir();
 *   await using registry = await startRegistry();
 *   const [index] = await makeLayout(dir.path, [{
 *     name: "app",
 *     children: [
 *       { platform: { os: "linux", architecture: "amd64" }, layers: [{ seed: "base", size: 4096 }] },
 *       { platform: { os: "linux", architecture: "arm64" }, layers: [{ seed: "base", size: 4096 }] },
 *     ],
 *   }]);
 *   await pushToRegistry(dir.path, "app", `${registry.host}/library/app:1.0`);
 *   // … run ferry against registry.url, compare with index.digest
 * });
 * ```
 *
 * Everything started here binds 127.0.0.1 on a random port and is stopped by `stop()` or
 * `await using`; temp dirs are removed the same way.
 *
 * @module
 */
export {
  garbageCollect,
  type GarbageCollectOptions,
  type HtpasswdAuth,
  htpasswdFile,
  type RegistryOptions,
  type RunningRegistry,
  startRegistry,
  type TokenAuth,
} from "./docker_registry.ts";
export {
  type FaultProxy,
  type FaultProxyOptions,
  type FaultRules,
  type ProxyLogEntry,
  startFaultProxy,
} from "./fault_proxy.ts";
export {
  blob,
  type BuiltImage,
  type BuiltIndex,
  type BuiltLayoutImage,
  drain,
  type ImageFormat,
  type ImageOptions,
  type ImageSpec,
  type IndexImageSpec,
  type LayerSpec,
  layerStream,
  layoutBlobPath,
  makeImage,
  makeIndex,
  makeLayout,
  makeTarImage,
  pseudoRandomChunks,
  pushImage,
  pushIndex,
  type PushOptions,
  pushToRegistry,
  randomBytes,
  type SingleImageSpec,
  type TarImageOptions,
  tarOf,
  type TestBlob,
  type TestImage,
  type TestIndex,
  type TestLayer,
} from "./images.ts";
export {
  ignoreUnless,
  inCI,
  missingPeers,
  peer,
  PEER_NAMES,
  type PeerName,
  peerTest,
  type PeerTestDefinition,
  REPO_ROOT,
  requirePeer,
} from "./peers.ts";
export { CommandError, run, type RunOptions, type RunResult } from "./process.ts";
export {
  copy,
  type CopyOptions,
  inspect,
  type InspectOptions,
  inspectRaw,
  type InspectResult,
  type ReadOptions,
  withTransport,
} from "./skopeo.ts";
export {
  type KeyKind,
  type KeyPair,
  makeKeyPair,
  pushReferrerSignature,
  pushSignature,
  SIGNATURE_ARTIFACT_TYPE,
  type SignatureLayer,
  signatureLayer,
  type SignOptions,
  signPayload,
  sigTag,
  simpleSigningPayload,
  tamper,
  writeSignatureImage,
} from "./cosign.ts";
export { digestOf } from "./digest.ts";
export { freePort, removeTree, type TempDir, tempDir } from "./tmp.ts";
export { type SelfSigned, selfSignedCert } from "./tls.ts";
export {
  BLOB_PATH,
  type Fault,
  type FaultRule,
  MANIFEST_PATH,
  type MemoryRegistry,
  type MemoryRegistryAuth,
  memoryRegistryClient,
  type MemoryRegistryClientOptions,
  type MemoryRegistryOptions,
  type MemoryRegistryRequest,
  startMemoryRegistry,
  UPLOAD_PATH,
} from "./memory_registry.ts";
export {
  type HostileRegistry,
  type HostileRegistryOptions,
  type SeenRequest,
  startHostileRegistry,
} from "./hostile_registry.ts";
export {
  type Access,
  type Acl,
  libtrustKeyId,
  type MintOptions,
  parseScope,
  type RegistryTokenAuth,
  startTokenIssuer,
  type TokenIssuer,
  type TokenIssuerOptions,
  type TokenRequest,
} from "./token_issuer.ts";
