/**
 * Docker credential helpers: `docker-credential-<name> get` reads a server URL on stdin and prints
 * `{"ServerURL":…,"Username":…,"Secret":…}`.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/** What a credential helper answers. `Username` `<token>` means `Secret` is an identity token. */
export interface HelperCredential {
  Username: string;
  Secret: string;
}

/** Options for {@link runCredentialHelper}. */
export interface RunCredentialHelperOptions {
  /** Environment lookup; its `PATH` is used to find the helper. */
  env?: (name: string) => string | undefined;
  /** Receives a note when the helper cannot be run at all (missing, not permitted). */
  log?: (message: string) => void;
  /** How long the helper may take (default 60 s: some helpers log in to a cloud first). */
  timeoutMs?: number;
}

const NOT_FOUND_RE = /credentials not found/i;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Runs `docker-credential-<helper> get` for `serverUrl`.
 *
 * @returns the credential, or `undefined` when the helper has none for the server, is not
 *   installed, or may not be run (each noted through `log`).
 * @throws {FerryError} `io` when the helper fails otherwise or prints something unreadable.
 */
export async function runCredentialHelper(
  helper: string,
  serverUrl: string,
  options: RunCredentialHelperOptions = {},
): Promise<HelperCredential | undefined> {
  const program = `docker-credential-${helper}`;
  // The name comes from a config file; it must not smuggle in a path.
  if (!NAME_RE.test(helper)) {
    throw new FerryError(
      "invalid_input",
      `invalid credential helper name ${JSON.stringify(helper)}`,
    );
  }
  const path = options.env?.("PATH");
  const command = new Deno.Command(program, {
    args: ["get"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    ...(path !== undefined ? { env: { PATH: path } } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
  });
  let child: Deno.ChildProcess;
  try {
    child = command.spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      options.log?.(`credential helper ${program} is not installed; ignoring it`);
      return undefined;
    }
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      options.log?.(`not allowed to run credential helper ${program}; ignoring it`);
      return undefined;
    }
    throw new FerryError("io", `cannot run credential helper ${program}: ${errMsg(err)}`, {
      cause: err,
    });
  }
  const writer = child.stdin.getWriter();
  // A helper may exit without reading stdin; a broken pipe then is not our failure.
  await writer.write(new TextEncoder().encode(serverUrl)).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (out.signal !== null) {
    throw new FerryError(
      "io",
      `credential helper ${program} did not answer for ${serverUrl} (killed by ${out.signal})`,
      { retryable: true },
    );
  }
  if (!out.success) {
    if (NOT_FOUND_RE.test(stdout) || NOT_FOUND_RE.test(stderr)) return undefined;
    throw new FerryError(
      "io",
      `credential helper ${program} failed for ${serverUrl} (exit ${out.code}): ${
        firstLine(stderr || stdout) || "no message"
      }`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    // The output may hold a secret: describe it, never quote it.
    throw new FerryError("io", `credential helper ${program} printed something that is not JSON`);
  }
  if (
    typeof parsed !== "object" || parsed === null ||
    typeof (parsed as Record<string, unknown>).Username !== "string" ||
    typeof (parsed as Record<string, unknown>).Secret !== "string"
  ) {
    throw new FerryError(
      "io",
      `credential helper ${program} answered without string fields Username and Secret`,
    );
  }
  const { Username, Secret } = parsed as HelperCredential;
  if (Username === "" && Secret === "") return undefined;
  return { Username, Secret };
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0].trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
