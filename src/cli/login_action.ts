/**
 * What `ferry login` and `ferry logout` do once their command lines are parsed. Loaded by the
 * commands only when one runs, so that defining them (for parsing, `--help` and completions)
 * stays cheap.
 *
 * @module
 */
import { authFileForWriting, removeCredential, storeCredential } from "../auth/mod.ts";
import { FerryError } from "../errors.ts";
import { defaultRegistryClient } from "../remote/mod.ts";
import { clientOptions } from "./access.ts";
import type { LoginOptions, LogoutOptions } from "./login.ts";
import type { Output } from "./output.ts";

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The registry part of what the user typed (`https://ghcr.io/v2/` → `ghcr.io`). */
function registryOf(text: string): string {
  const host = text.replace(/^[a-z]+:\/\//i, "").split("/")[0];
  if (!host) throw new FerryError("usage", `invalid registry ${JSON.stringify(text)}`);
  return host;
}

async function readPasswordFromStdin(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.replace(/\r?\n$/, "");
}

/** Reads a line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  Deno.stderr.writeSync(new TextEncoder().encode(question));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null || buf[0] === 13 || buf[0] === 10) break;
      if (buf[0] === 3) throw new FerryError("usage", "login cancelled");
      if (buf[0] === 127) bytes.pop();
      else bytes.push(buf[0]);
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Checks credentials against a registry and stores them (`ferry login`). */
export async function runLogin(
  registryText: string,
  opts: LoginOptions,
  out: Output,
): Promise<void> {
  const registry = registryOf(registryText);
  const interactive = Deno.stdin.isTerminal();
  let username = opts.username;
  if (!username && interactive) username = prompt("Username:") ?? undefined;
  if (!username) throw new FerryError("usage", "give a user name with -u/--username");
  if (opts.password !== undefined && opts.passwordStdin) {
    throw new FerryError("usage", "--password and --password-stdin exclude each other");
  }
  let password = opts.password;
  if (opts.passwordStdin) password = await readPasswordFromStdin();
  else if (password === undefined && interactive) password = await promptHidden("Password: ");
  if (!password) throw new FerryError("usage", "give a password with --password-stdin or -p");
  const client = await defaultRegistryClient(clientOptions({
    creds: `${username}:${password}`,
    tlsVerify: opts.tlsVerify,
    certDir: opts.certDir,
  }, out));
  try {
    await client.registry(registry).ping();
  } finally {
    await client.close();
  }
  const path = authFileForWriting(opts.authfile, env);
  await storeCredential(path, registry, username, password);
  out.print(`Login Succeeded (${registry}, saved to ${path})`);
}

/** Removes stored credentials (`ferry logout`). */
export async function runLogout(
  registryText: string | undefined,
  opts: LogoutOptions,
  out: Output,
): Promise<void> {
  if (!registryText && !opts.all) {
    throw new FerryError("usage", "name a registry or give --all");
  }
  const path = authFileForWriting(opts.authfile, env);
  const removed = await removeCredential(path, opts.all ? "all" : registryOf(registryText!));
  if (removed === 0 && !opts.all) {
    throw new FerryError("not_found", `not logged in to ${registryText} (in ${path})`);
  }
  out.print(
    opts.all
      ? `Removed login credentials for all registries (${path})`
      : `Removed login credentials for ${registryText}`,
  );
}
