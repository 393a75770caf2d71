/**
 * Builds the registry client from command-line options (auth file, TLS settings, debug trace).
 *
 * @module
 */
import { join } from "node:path";
import { Authenticator, CredentialStore } from "../auth/mod.ts";
import { FerryError } from "../errors.ts";
import { RegistryClient } from "../remote/mod.ts";
import { registryHost } from "../reference.ts";
import type { Output } from "./output.ts";
import { VERSION } from "./version.ts";

/** Registry-access options shared by commands. */
export interface RegistryAccessOptions {
  authfile?: string;
  tlsVerify?: boolean;
  certDir?: string;
  /** `USER:PASSWORD` used for every registry of this client instead of the auth files. */
  creds?: string;
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
 * A registry client configured from the command line. With `--cert-dir` the registries and their
 * token servers share the client's one connection pool, which the client's `close()` releases.
 */
export async function registryClient(
  options: RegistryAccessOptions,
  output: Output,
): Promise<RegistryClient> {
  const caCerts = options.certDir ? await readCaCerts(options.certDir) : [];
  const log = (line: string) => output.debug(line);
  const store = new CredentialStore({ authfile: options.authfile, log });
  const auth = new Authenticator({
    credentials: options.creds
      ? ((credential) => () => Promise.resolve(credential))(basicCredential(options.creds))
      : (registry) => store.lookup(registry),
    // Token servers are reached through the client's pool (and so trust --cert-dir too).
    fetch: (input, init) => client.fetch(input, init),
    log,
  });
  const client: RegistryClient = new RegistryClient({
    auth,
    apiHost: registryHost,
    tlsVerify: options.tlsVerify ?? true,
    caCerts,
    userAgent: `ferry/${VERSION}`,
    trace: (line) => output.debug(line),
    warn: (line) => output.warn(line),
  });
  return client;
}
