/**
 * Error responses of the distribution API: a status and a JSON body
 * `{"errors":[{"code":…,"message":…,"detail":…}]}` with the codes of the OCI distribution spec
 * (plus distribution's `RANGE_INVALID`, `TAG_INVALID`, `PAGINATION_NUMBER_INVALID` and `UNKNOWN`,
 * which Docker clients know too).
 *
 * @module
 */
import { type ErrorCode, FerryError } from "../errors.ts";

/** Error codes a response may carry. */
export type RegistryErrorCode =
  | "BLOB_UNKNOWN"
  | "BLOB_UPLOAD_INVALID"
  | "BLOB_UPLOAD_UNKNOWN"
  | "DIGEST_INVALID"
  | "MANIFEST_BLOB_UNKNOWN"
  | "MANIFEST_INVALID"
  | "MANIFEST_UNKNOWN"
  | "NAME_INVALID"
  | "NAME_UNKNOWN"
  | "SIZE_INVALID"
  | "UNAUTHORIZED"
  | "DENIED"
  | "UNSUPPORTED"
  | "TOOMANYREQUESTS"
  | "RANGE_INVALID"
  | "TAG_INVALID"
  | "PAGINATION_NUMBER_INVALID"
  | "UNKNOWN";

/** One entry of an error body. */
export interface RegistryErrorEntry {
  code: RegistryErrorCode;
  message: string;
  detail?: unknown;
}

/** A failed request: thrown inside the handler, turned into the response by {@link errorResponse}. */
export class HttpError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Entries of the JSON body (at least one). */
  readonly errors: RegistryErrorEntry[];
  /** Extra response headers (`WWW-Authenticate`, `Range`, `Content-Range`…). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    errors: RegistryErrorEntry | RegistryErrorEntry[],
    headers: Record<string, string> = {},
  ) {
    const list = Array.isArray(errors) ? errors : [errors];
    super(list.map((e) => `${e.code}: ${e.message}`).join("; "));
    this.name = "HttpError";
    this.status = status;
    this.errors = list;
    this.headers = headers;
  }
}

/** Shorthand for a one-entry {@link HttpError}. */
export function httpError(
  status: number,
  code: RegistryErrorCode,
  message: string,
  options: { detail?: unknown; headers?: Record<string, string> } = {},
): HttpError {
  const entry: RegistryErrorEntry = { code, message };
  if (options.detail !== undefined) entry.detail = options.detail;
  return new HttpError(status, entry, options.headers);
}

/** Status, code and message for each FerryError class, when the handler has no better context. */
const FERRY_ERRORS: Partial<Record<ErrorCode, [number, RegistryErrorCode, string]>> = {
  not_found: [404, "NAME_UNKNOWN", "not found"],
  denied: [403, "DENIED", "the registry's storage refused the operation"],
  digest_mismatch: [400, "DIGEST_INVALID", "content does not match its digest"],
  size_mismatch: [400, "SIZE_INVALID", "content does not match its size"],
  too_large: [413, "SIZE_INVALID", "content too large"],
  unsupported: [400, "UNSUPPORTED", "unsupported operation"],
};

/**
 * The HTTP form of any thrown value: an {@link HttpError} as is, a FerryError by its code, anything
 * else as a 500. Bodies made here carry generic messages: the error's own message names server
 * paths, which the caller logs instead.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof FerryError) {
    const mapped = FERRY_ERRORS[err.code];
    if (mapped) return httpError(mapped[0], mapped[1], mapped[2]);
  }
  return httpError(500, "UNKNOWN", "internal server error");
}

/** The response for `err`; HEAD responses carry the status and headers only. */
export function errorResponse(err: HttpError, head: boolean): Response {
  const body = JSON.stringify({ errors: err.errors });
  const headers = new Headers(err.headers);
  headers.set("Content-Type", "application/json; charset=utf-8");
  headers.set("Content-Length", String(new TextEncoder().encode(body).byteLength));
  return new Response(head ? null : body, { status: err.status, headers });
}
