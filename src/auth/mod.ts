/**
 * Registry authentication: credentials from Docker and containers auth files and credential
 * helpers, `WWW-Authenticate` parsing, and the token flow. Independent of the HTTP client, which
 * passes its own `fetch`.
 *
 * @module
 */
export {
  type AuthFileLocation,
  type Credential,
  CredentialStore,
  type CredentialStoreOptions,
  encodeBasic,
  normalizeAuthKey,
  normalizeRegistry,
} from "./credentials.ts";
export {
  type HelperCredential,
  runCredentialHelper,
  type RunCredentialHelperOptions,
} from "./helper.ts";
export { type Challenge, parseChallenges } from "./challenge.ts";
export {
  Authenticator,
  type AuthenticatorOptions,
  MIN_TOKEN_LIFETIME_S,
  repositoryScope,
  type ScopeAction,
  TOKEN_REQUEST_TIMEOUT_MS,
  TOKEN_RESPONSE_LIMIT,
} from "./authenticator.ts";
export { authFileForWriting, removeCredential, storeCredential } from "./auth_file_writer.ts";
