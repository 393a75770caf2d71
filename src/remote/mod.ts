/**
 * The OCI distribution client: remote registries as a {@link Store}, and the default client a
 * command or a library user starts from.
 *
 * @module
 */
export * from "./registry.ts";
export {
  type AccessOptions,
  type DefaultClientOptions,
  defaultRegistryClient,
} from "./default_client.ts";
export { type AuthProvider, type HttpOptions, isLoopback } from "./http.ts";
export { DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
export { RegistryError, type RemoteErrorEntry } from "./errors.ts";
