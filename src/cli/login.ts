/**
 * `ferry login` and `ferry logout`: the containers auth file that podman, skopeo and sealos share.
 *
 * This module defines the commands; what they do is in `./login_action.ts`, loaded when one runs
 * (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command } from "./command/mod.ts";
import { withAccess } from "./access.ts";
import type { Output } from "./output.ts";

/** `ferry login` and `ferry logout`. */
export function loginCommands(output: (json?: boolean) => Output) {
  return [loginCommand(output), logoutCommand(output)] as const;
}

function loginCommand(output: (json?: boolean) => Output) {
  const login = new Command("login")
    .description("check credentials against a registry and store them in the containers auth file")
    .argument("<registry>", "registry host, e.g. ghcr.io or registry.local:5000")
    .option("-u, --username <user>", "user name")
    .option(
      "-p, --password <password>",
      "password (visible to other local users: prefer --password-stdin)",
    )
    .option("--password-stdin", "read the password from standard input");
  return withAccess(login, {
    showTlsDefault: true,
    authfileHelp:
      "auth file to write (default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json or ~/.config/containers/auth.json)",
    tlsVerifyHelp: "verify TLS and require HTTPS",
  })
    .addHelpText(
      "after",
      `
Examples:
  echo "$TOKEN" | ferry login ghcr.io -u me --password-stdin
  ferry login --tls-verify=false -u admin registry.local:5000`,
    )
    .action(async (registryText, opts) => {
      const out = output();
      const { runLogin } = await import("./login_action.ts");
      await runLogin(registryText, opts, out);
    });
}

function logoutCommand(output: (json?: boolean) => Output) {
  return new Command("logout")
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
      const { runLogout } = await import("./login_action.ts");
      await runLogout(registryText, opts, out);
    });
}

/** The parsed options of `login`. */
export type LoginOptions = ReturnType<ReturnType<typeof loginCommand>["opts"]>;

/** The parsed options of `logout`. */
export type LogoutOptions = ReturnType<ReturnType<typeof logoutCommand>["opts"]>;
