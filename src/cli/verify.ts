/**
 * `ferry verify --key cosign.pub LOCATION…`: check images' cosign signatures offline with a public
 * key, wherever the images lie.
 *
 * This module defines the command; what it does is in `./verify_action.ts`, loaded when it runs
 * (see `./program.ts` on start-up time).
 *
 * @module
 */
import { Command } from "./command/mod.ts";
import { withAccess } from "./access.ts";
import type { Output } from "./output.ts";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The `verify` command. */
export function verifyCommand(output: (json?: boolean) => Output) {
  const cmd = new Command("verify")
    .description(
      "check the cosign signatures of images with a public key, offline: each image needs a " +
        "signature the key verifies that names its digest; exits 1 when any image has none",
    )
    .argument(
      "<location...>",
      "docker://…, registry-dir:PATH:NAME[:TAG], oci:PATH[:REF], oci-archive:FILE[:REF] " +
        "(a plain reference is a registry image)",
    )
    .requiredOption(
      "--key <file>",
      "public key (PEM, as cosign.pub; repeatable: any of the keys)",
      collect,
    )
    .option(
      "--platform <list>",
      "os/arch[/variant][,…]: check these platforms' manifests of a multi-platform image " +
        "(a signature on the index covers them); default: the digest the location names",
    );
  return withAccess(cmd, { creds: true })
    .option("--json", "print the result as one JSON object")
    .addHelpText(
      "after",
      `
Examples:
  ferry verify --key cosign.pub ghcr.io/org/app:1.0
  ferry verify --key cosign.pub registry-dir:./registry:org/app:1.0 oci:./layout:app:1.0
  ferry verify --key cosign.pub --platform linux/arm64 docker://127.0.0.1:5000/org/app:1.0`,
    )
    .action(async (locations, opts) => {
      const out = output(opts.json);
      const { runVerify } = await import("./verify_action.ts");
      await runVerify(locations, opts, out);
    });
}

/** The parsed options of `verify`. */
export type VerifyOptions = ReturnType<ReturnType<typeof verifyCommand>["opts"]>;
