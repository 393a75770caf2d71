/**
 * The OCI distribution client: remote registries as a {@link Store}.
 *
 * @module
 */
export * from "./registry.ts";
export { type AuthProvider, type HttpOptions, isLoopback } from "./http.ts";
export { DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
