/**
 * The registry-access flags (`--authfile`, `--creds`, `--tls-verify`, `--cert-dir`), declared
 * once for every command that reaches registries, with the source/destination pairs of the
 * copying commands; and the options of the registry client a command builds from them.
 *
 * Like every command-definition module this one stays light: the client itself comes from
 * `src/remote/`, imported by the actions.
 *
 * @module
 */
import type { Command } from "./command/mod.ts";
import type { AccessOptions, DefaultClientOptions } from "../remote/mod.ts";
import type { Output } from "./output.ts";
import { parseBool } from "./parse.ts";
import { VERSION } from "./version.ts";

export type { AccessOptions };

/** The access flags of the copying commands: both sides, and each side on its own. */
export interface SideAccessOptions {
  /** Credentials file for both sides. */
  authfile?: string;
  srcAuthfile?: string;
  destAuthfile?: string;
  srcCreds?: string;
  destCreds?: string;
  /** TLS verification on both sides. */
  tlsVerify?: boolean;
  srcTlsVerify?: boolean;
  destTlsVerify?: boolean;
  certDir?: string;
}

/** Which access flags a command takes, and how they read in its help. */
export interface AccessFlags {
  /** Also take `--creds USER:PASSWORD`. */
  creds?: boolean;
  /** Show `--tls-verify`'s default (true) in the help. */
  showTlsDefault?: boolean;
  /** `--authfile`'s help where the command writes the file (`login`). */
  authfileHelp?: string;
  /** `--tls-verify`'s help where the command says less than the others (`login`). */
  tlsVerifyHelp?: string;
}

/** The `--no-referrers` flag of every command that moves images (it sets `referrers`). */
export interface ReferrersFlag {
  /** False with `--no-referrers`. */
  referrers?: boolean;
}

const NO_REFERRERS_HELP =
  "leave out signatures, SBOMs and attestations (OCI referrers, cosign sha256-….sig/.att/.sbom tags)";

/**
 * Adds `--no-referrers` to `cmd` (declared once here for every command that moves images); its
 * options then include {@link ReferrersFlag}.
 */
export function withReferrers<A extends unknown[], O extends object>(
  cmd: Command<A, O>,
): Command<A, O & ReferrersFlag> {
  return cmd.option("--no-referrers", NO_REFERRERS_HELP);
}

const AUTHFILE_HELP = "credentials file (default: the containers and docker auth files)";
const TLS_VERIFY_HELP = "verify TLS and require HTTPS (false also allows plain HTTP)";
const CERT_DIR_HELP = "extra CA certificates (*.crt) to trust";

/** Adds the registry-access flags to `cmd`; its options then include {@link AccessOptions}. */
export function withAccess<A extends unknown[], O extends object>(
  cmd: Command<A, O>,
  flags: AccessFlags = {},
): Command<A, O & AccessOptions> {
  cmd.option("--authfile <file>", flags.authfileHelp ?? AUTHFILE_HELP);
  if (flags.creds) cmd.option("--creds <user:password>", "credentials for the registry");
  const tlsHelp = flags.tlsVerifyHelp ?? TLS_VERIFY_HELP;
  if (flags.showTlsDefault) cmd.option("--tls-verify <bool>", tlsHelp, parseBool, true);
  else cmd.option("--tls-verify <bool>", tlsHelp, parseBool);
  // The flags depend on `flags`, so their types are given here rather than built up.
  return cmd.option("--cert-dir <dir>", CERT_DIR_HELP) as Command<A, O & AccessOptions>;
}

/**
 * Adds the access flags of a copy to `cmd`: each of `--authfile` and `--tls-verify` for both
 * sides and for either, credentials for either; its options then include
 * {@link SideAccessOptions}.
 */
export function withSideAccess<A extends unknown[], O extends object>(
  cmd: Command<A, O>,
): Command<A, O & SideAccessOptions> {
  return cmd
    .option("--authfile <file>", "credentials file for both sides")
    .option("--src-authfile <file>", "credentials file for the source")
    .option("--dest-authfile <file>", "credentials file for the destination")
    .option("--src-creds <user:password>", "credentials for the source")
    .option("--dest-creds <user:password>", "credentials for the destination")
    .option(
      "--tls-verify <bool>",
      "verify TLS on both sides (false also allows plain HTTP)",
      parseBool,
    )
    .option("--src-tls-verify <bool>", "verify TLS at the source", parseBool)
    .option("--dest-tls-verify <bool>", "verify TLS at the destination", parseBool)
    .option("--cert-dir <dir>", CERT_DIR_HELP);
}

/**
 * The access of one side of a copy: its own flags, else those for both sides. Each side gets
 * only its own credentials (Sealos issue 4802: the destination was sent the source's).
 */
export function sideAccess(opts: SideAccessOptions, side: "src" | "dest"): AccessOptions {
  return side === "src"
    ? {
      authfile: opts.srcAuthfile ?? opts.authfile,
      creds: opts.srcCreds,
      tlsVerify: opts.srcTlsVerify ?? opts.tlsVerify,
      certDir: opts.certDir,
    }
    : {
      authfile: opts.destAuthfile ?? opts.authfile,
      creds: opts.destCreds,
      tlsVerify: opts.destTlsVerify ?? opts.tlsVerify,
      certDir: opts.certDir,
    };
}

/**
 * The options of a command's registry client (`defaultRegistryClient` of `src/remote/`): the
 * access flags, ferry's `User-Agent`, the HTTP trace under `--debug` and warnings on `out`.
 */
export function clientOptions(opts: AccessOptions, out: Output): DefaultClientOptions {
  return {
    authfile: opts.authfile,
    creds: opts.creds,
    tlsVerify: opts.tlsVerify,
    certDir: opts.certDir,
    userAgent: `ferry/${VERSION}`,
    debug: (line) => out.debug(line),
    warn: (line) => out.warn(line),
  };
}
