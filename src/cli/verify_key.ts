/**
 * `--verify-key FILE`, the signature policy flag every command that moves images takes (`copy`,
 * `registry copy`, `registry sync`, `registry save`, `pull`, `push`, `load`, `build`), declared
 * once; and the check it becomes.
 *
 * Like every command-definition module this one stays light: the keys are read and the policy
 * built by code loaded only when the flag is given.
 *
 * @module
 */
import type { Command } from "./command/mod.ts";
import type { ImageCheck } from "../transfer/signature_policy.ts";

/** The parsed `--verify-key` option. */
export interface VerifyKeyOptions {
  /** Public key files; an image must carry a cosign signature one of them verifies. */
  verifyKey?: string[];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds `--verify-key FILE` (repeatable) to `cmd`. */
export function withVerifyKey<A extends unknown[], O extends object>(
  cmd: Command<A, O>,
): Command<A, O & VerifyKeyOptions> {
  return cmd.option(
    "--verify-key <file>",
    "copy only images with a cosign signature this public key (PEM) verifies, checked at the " +
      "source before anything is written (repeatable: any of the keys)",
    collect,
  );
}

/** The signature policy `opts` ask for, its keys read; undefined without `--verify-key`. */
export async function imageCheck(opts: VerifyKeyOptions): Promise<ImageCheck | undefined> {
  if (!opts.verifyKey?.length) return undefined;
  const [{ readPublicKey }, { signaturePolicy }] = await Promise.all([
    import("../signature/keys.ts"),
    import("../transfer/signature_policy.ts"),
  ]);
  return signaturePolicy(await Promise.all(opts.verifyKey.map(readPublicKey)));
}
