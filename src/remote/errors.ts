/**
 * Errors of a registry's answers: the HTTP status and the distribution API's error list
 * (`{"errors": [{"code", "message", "detail"}]}`) kept as fields, so a program can tell
 * `MANIFEST_UNKNOWN` from `NAME_UNKNOWN` without reading the message.
 *
 * @module
 */
import { type ErrorCode, FerryError } from "../errors.ts";

/** One entry of a registry's error list, as the distribution API defines it. */
export interface RemoteErrorEntry {
  /** `MANIFEST_UNKNOWN`, `DENIED`, … (empty when the registry sent none). */
  code: string;
  /** The registry's text (empty when it sent none). */
  message: string;
  /** Whatever the registry attached, as it sent it. */
  detail?: unknown;
}

/** A registry's non-2xx answer, as a {@link FerryError} carrying its status and error list. */
export class RegistryError extends FerryError {
  /** The HTTP status the registry answered with. */
  readonly status: number;
  /** The registry's error list (empty when the body held none or was not the API's JSON). */
  readonly errors: readonly RemoteErrorEntry[];

  /** `options.errors` defaults to none. */
  constructor(
    code: ErrorCode,
    message: string,
    options: {
      status: number;
      errors?: readonly RemoteErrorEntry[];
      cause?: unknown;
      retryable?: boolean;
    },
  ) {
    super(code, message, options);
    this.name = "RegistryError";
    this.status = options.status;
    this.errors = options.errors ?? [];
  }
}

/**
 * The error list of a parsed error body: entries that are not objects are skipped, codes and
 * messages that are not strings read as empty.
 */
export function registryErrorEntries(body: unknown): RemoteErrorEntry[] {
  const list = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(list)) return [];
  const out: RemoteErrorEntry[] = [];
  for (const e of list) {
    if (typeof e !== "object" || e === null) continue;
    const { code, message, detail } = e as Record<string, unknown>;
    out.push({
      code: typeof code === "string" ? code : "",
      message: typeof message === "string" ? message : "",
      ...(detail !== undefined ? { detail } : {}),
    });
  }
  return out;
}
