/**
 * `ferry login` and `ferry logout`: the containers auth file that podman, skopeo and sealos share.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { authFileForWriting, removeCredential, storeCredential } from "../auth/mod.ts";
import { FerryError } from "../errors.ts";
import { registryClient } from "./client.ts";
import type { Output } from "./output.ts";
import { parseBool } from "./parse.ts";

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

/** `ferry login` and `ferry logout`. */
export function loginCommands(output: (json?: boolean) => Output) {
  const login = new Command("login")
    .description("check credentials against a registry and store them in the containers auth file")
    .argument("<registry>", "registry host, e.g. ghcr.io or registry.local:5000")
    .option("-u, --username <user>", "user name")
    .option(
      "-p, --password <password>",
      "password (visible to other local users: prefer --password-stdin)",
    )
    .option("--password-stdin", "read the password from standard input")
    .option(
      "--authfile <file>",
      "auth file to write (default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json or ~/.config/containers/auth.json)",
    )
    .option("--tls-verify <bool>", "verify TLS and require HTTPS", parseBool, true)
    .option("--cert-dir <dir>", "extra CA certificates (*.crt) to trust")
    .addHelpText(
      "after",
      `
Examples:
  echo "$TOKEN" | ferry login ghcr.io -u me --password-stdin
  ferry login --tls-verify=false -u admin registry.local:5000`,
    )
    .action(async (registryText, opts) => {
      const out = output();
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
      const client = await registryClient({
        creds: `${username}:${password}`,
        tlsVerify: opts.tlsVerify,
        certDir: opts.certDir,
      }, out);
      try {
        await client.registry(registry).ping();
      } finally {
        await client.close();
      }
      const path = authFileForWriting(opts.authfile, env);
      await storeCredential(path, registry, username, password);
      out.print(`Login Succeeded (${registry}, saved to ${path})`);
    });

  const logout = new Command("logout")
    .description("remove stored credentials for a registry (or all of them)")
    .argument("[registry]", "registry host")
    .option("--all", "remove the credentials of every registry")
    .option("--authfile <file>", "auth file to edit")
    .addHelpText(
      "after",
      `
Examples:
  ferry logout ghcr.io
  ferry logout --all`,
    )
    .action(async (registryText, opts) => {
      const out = output();
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
    });
  return [login, logout] as const;
}
