/**
 * The default registry client: credentials from the containers and docker auth files (or one
 * `USER:PASSWORD` for every registry), TLS settings and extra CA certificates, as the CLI's
 * registry-access flags give them and as a library user wants them without wiring
 * {@link Authenticator}, {@link CredentialStore} and {@link RegistryClient} together by hand.
 *
 * ```ts
 * const client = await defaultRegistryClient({ authfile: "auth.json" });
 * try {
 *   const desc = await client.registry("ghcr.io").repository("org/app").resolve("1.0");
 * } finally {
 *   await client.close();
 * }
 * ```
 *
 * @module
 */
import { join } from "../path.ts";
import { Authenticator } from "../auth/authenticator.ts";
import { CredentialStore } from "../auth/credentials.ts";
import { FerryError } from "../errors.ts";
import { RegistryClient } from "./registry.ts";

/** How to reach registries: the registry-access flags of every ferry command, one set. */
export interface AccessOptions {
  /** Credentials file to read (default: the containers and docker auth files). */
  authfile?: string;
  /** `USER:PASSWORD` used for every registry of the client instead of the auth files. */
  creds?: string;
  /** Verify TLS and require HTTPS (false also allows plain HTTP). Default true. */
  tlsVerify?: boolean;
  /** A directory whose `*.crt` and `*.pem` files are extra CA certificates to trust. */
  certDir?: string;
}

/** Options of {@link defaultRegistryClient}: access, and where its messages go. */
export interface DefaultClientOptions extends AccessOptions {
  /** `User-Agent` sent with every request. */
  userAgent?: string;
  /** Receives the HTTP trace and credential lookups (secrets removed). */
  debug?: (line: string) => void;
  /** Receives registry `Warning` headers and retry notices. */
  warn?: (line: string) => void;
}

/** Parses `USER:PASSWORD` (the password may contain `:`). */
function basicCredential(creds: string) {
  const colon = creds.indexOf(":");
  if (colon <= 0) throw new FerryError("usage", "credentials must be given as USER:PASSWORD");
  return {
    kind: "basic" as const,
    username: creds.slice(0, colon),
    password: creds.slice(colon + 1),
  };
}

/** Reads every `*.crt` / `*.pem` in a directory (skopeo's `--cert-dir`). */
async function readCaCerts(dir: string): Promise<string[]> {
  const certs: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && /\.(crt|pem)$/.test(entry.name)) {
        certs.push(await Deno.readTextFile(join(dir, entry.name)));
      }
    }
  } catch (err) {
    throw new FerryError("invalid_input", `--cert-dir ${dir}: ${(err as Error).message}`);
  }
  return certs;
}

/**
 * A registry client configured by `options`. With `certDir` the registries and their token
 * servers share the client's one connection pool, which the client's `close()` releases.
 *
 * @throws {FerryError} `usage` for `creds` without `USER:`; `invalid_input` for an unreadable
 * `certDir`.
 */
export async function defaultRegistryClient(
  options: DefaultClientOptions = {},
): Promise<RegistryClient> {
  const caCerts = options.certDir ? await readCaCerts(options.certDir) : [];
  const debug = options.debug ?? (() => {});
  const store = new CredentialStore({ authfile: options.authfile, log: debug });
  const auth = new Authenticator({
    credentials: options.creds
      ? ((credential) => () => Promise.resolve(credential))(basicCredential(options.creds))
      : (registry) => store.lookup(registry),
    // Token servers are reached through the client's pool (and so trust certDir too).
    fetch: (input, init) => client.fetch(input, init),
    log: debug,
  });
  const client: RegistryClient = new RegistryClient({
    auth,
    tlsVerify: options.tlsVerify ?? true,
    caCerts,
    userAgent: options.userAgent,
    trace: options.debug,
    warn: options.warn,
  });
  return client;
}
