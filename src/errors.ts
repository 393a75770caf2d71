/**
 * Error types shared by every ferry module.
 *
 * A {@link FerryError} is an expected failure: bad input, a registry that says no, a digest that does
 * not match. The CLI prints its message as one line and exits with its `exitCode`; anything else is a
 * bug and gets a stack trace under `--debug`.
 *
 * @module
 */
import { terminalSafe } from "./terminal_text.ts";

/** Machine-readable classes of failure, stable for `--json` consumers. */
export type ErrorCode =
  | "usage"
  | "invalid_reference"
  | "invalid_input"
  | "not_found"
  | "unauthorized"
  | "denied"
  /** An image without a signature a trusted key verifies (`--verify-key`, `ferry verify`). */
  | "untrusted"
  | "digest_mismatch"
  | "size_mismatch"
  | "too_large"
  | "unsupported"
  | "network"
  | "registry"
  | "conflict"
  | "io";

/** An expected, user-facing failure. `message` is one line that says what and where. */
export class FerryError extends Error {
  /** Class of failure. */
  readonly code: ErrorCode;
  /** Process exit code the CLI uses for this error (2 for usage errors, otherwise 1). */
  readonly exitCode: number;
  /** Whether retrying the same operation may succeed (network faults, 5xx, 429). */
  readonly retryable: boolean;
  /** Lines that follow the one-line message (a list of what is missing), each one line. */
  readonly details: readonly string[];

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      cause?: unknown;
      retryable?: boolean;
      exitCode?: number;
      details?: readonly string[];
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "FerryError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.exitCode = options.exitCode ?? (code === "usage" ? 2 : 1);
    this.details = options.details ?? [];
  }
}

/** True when `err` is a {@link FerryError} of one of `codes` (any code when none given). */
export function isFerryError(err: unknown, ...codes: ErrorCode[]): err is FerryError {
  return err instanceof FerryError && (codes.length === 0 || codes.includes(err.code));
}

/** The message of any thrown value, for one-line reports. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Characters of outside text {@link printable} keeps by default. */
export const MAX_QUOTED_CHARS = 200;

/**
 * Outside text (a registry's header or error message, a media type or digest it sent) made fit
 * for a one-line message: cut at `max` characters with `…`, and its control characters written as
 * the visible escapes the CLI prints them as (`terminalSafe`: `\x1b`, `\n`, `\u202e`), so that a
 * library caller's message is one inert line too, and the CLI's printing leaves it as it is.
 */
export function printable(text: string, max = MAX_QUOTED_CHARS): string {
  return terminalSafe(text.length > max ? `${text.slice(0, max)}…` : text);
}
