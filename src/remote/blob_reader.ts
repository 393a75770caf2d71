/**
 * A blob download that survives cut connections: when the body fails mid-way, it asks again with
 * `Range: bytes=N-` and continues where it stopped. A resumed response is accepted only when it is
 * a 206 whose `Content-Range` starts exactly at N (or a 200 whose first N bytes are skipped), so a
 * server that ignores ranges cannot splice wrong bytes into the stream. A body longer than the
 * descriptor's size fails before any byte past the size is passed on.
 *
 * @module
 */
import { FerryError, printable } from "../errors.ts";
import { retryDelay, type RetryPolicy, sleep } from "./retry.ts";
import { shortError } from "./http.ts";
import { RegistryError } from "./errors.ts";
import { fillingStream, type ViewReader, viewReader } from "../streams.ts";

/** Opens the blob from a byte offset; resolves to the raw response. */
export type RangeOpener = (offset: number) => Promise<Response>;

/** Options of {@link resumableBody}. */
export interface ResumableOptions {
  /** Total size of the blob (from its descriptor). */
  size: number;
  /** First byte wanted. */
  offset: number;
  /** Names the blob in errors. */
  what: string;
  retry: RetryPolicy;
  /** Called once when the body ends, fails or is cancelled (frees a transfer slot). */
  onEnd?: () => void;
  /** Abort when no byte arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
  trace?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Checks that `res` delivers the blob from `offset` and returns how many leading bytes of its body
 * must be skipped (non-zero only when a server answered a range request with the whole blob).
 */
export function checkRangeResponse(
  res: Response,
  offset: number,
  size: number,
  what: string,
): number {
  if (res.status === 200) {
    const length = res.headers.get("content-length");
    if (length !== null && Number(length) !== size) {
      throw new FerryError(
        "size_mismatch",
        `${what}: registry sent ${printable(length)} bytes, expected ${size}`,
      );
    }
    return offset;
  }
  if (res.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
    if (
      !m || Number(m[1]) !== offset || Number(m[2]) !== size - 1 ||
      (m[3] !== "*" && Number(m[3]) !== size)
    ) {
      throw new FerryError(
        "registry",
        `${what}: registry answered a resume from byte ${offset} with range ${
          printable(res.headers.get("content-range") ?? "none")
        }`,
        { retryable: true },
      );
    }
    return 0;
  }
  throw new RegistryError("registry", `${what}: unexpected status ${res.status}`, {
    status: res.status,
    retryable: true,
  });
}

/**
 * A stream of the blob's bytes from `offset` to its end, re-opening on failure. The first response
 * may be passed in (already checked by the caller).
 */
export function resumableBody(
  open: RangeOpener,
  first: Response,
  options: ResumableOptions,
): ReadableStream<Uint8Array> {
  let position = options.offset;
  /** The error a download gives up with: where it stopped, and why. */
  const failedAt = (err: unknown) =>
    new FerryError(
      "network",
      `${options.what}: download failed at byte ${position} of ${options.size}: ${shortError(err)}`,
      { cause: err, retryable: true },
    );
  let skip = checkRangeResponse(first, position, options.size, options.what);
  let reader: ViewReader | undefined = viewReader(first.body!);
  let failures = 0;
  const idleMs = options.idleTimeoutMs ?? 60_000;

  // One watchdog per body, not a timer per chunk: it cancels a reader that stalls, which ends
  // the read and sends the loop below into a resume.
  let lastData = Date.now();
  let stalled = false;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const watch = () => {
    const idle = Date.now() - lastData;
    if (idle >= idleMs) {
      stalled = true;
      reader?.cancel(new Error("stalled")).catch(() => {});
      lastData = Date.now();
    }
    watchdog = setTimeout(watch, Math.max(10, idleMs - (Date.now() - lastData)));
    Deno.unrefTimer(watchdog as unknown as number);
  };
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearTimeout(watchdog);
    options.onEnd?.();
  };

  watchdog = setTimeout(watch, idleMs);
  Deno.unrefTimer(watchdog as unknown as number);
  return fillingStream({
    async fill(view) {
      try {
        return await fillView(view);
      } catch (err) {
        end();
        throw err;
      }
    },
    cancel(reason) {
      end();
      return reader?.cancel(reason);
    },
  });

  /**
   * Reads the next bytes into `view` (the consumer's buffer), re-opening on failure; an empty
   * result at the blob's end. A read of the body moves the buffer into it and loses it when the
   * read fails: a new buffer of the same size then takes its place (nothing had been read into
   * it), unless the consumer kept bytes before `view`'s offset, which cannot be restored, and the
   * stream fails.
   */
  async function fillView(view: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
    const start = view.byteOffset;
    const length = view.byteLength;
    const bufferLength = view.buffer.byteLength;
    for (;;) {
      try {
        if (!reader) {
          const res = await open(position);
          skip = checkRangeResponse(res, position, options.size, options.what);
          reader = viewReader(res.body!);
        }
        let got = await reader.read(view);
        // The read moved the buffer: a further read (after a skip) uses the one it returned.
        view = new Uint8Array(got.buffer, start, length);
        if (got.byteLength === 0) {
          if (position < options.size) throw new Error(`connection closed at byte ${position}`);
          end();
          return got;
        }
        lastData = Date.now();
        if (skip > 0) {
          // A 200 to a range request: drop the bytes before the offset.
          const drop = Math.min(skip, got.byteLength);
          skip -= drop;
          if (drop === got.byteLength) continue;
          got.copyWithin(0, drop);
          got = got.subarray(0, got.byteLength - drop);
        }
        if (position + got.byteLength > options.size) {
          // Never pass on a byte past the descriptor's size: the stream may be feeding another
          // registry's upload, which must not receive more than the blob before it fails.
          throw new FerryError(
            "size_mismatch",
            `${options.what}: registry sent more than the blob's ${options.size} bytes`,
          );
        }
        position += got.byteLength;
        failures = 0;
        return got;
      } catch (caught) {
        let err = caught;
        reader?.cancel().catch(() => {});
        reader = undefined;
        if (options.signal?.aborted) throw options.signal.reason;
        if (err instanceof FerryError && !err.retryable) throw err;
        if (stalled) {
          // The watchdog cancelled the read.
          stalled = false;
          err = new Error(`no data for ${idleMs / 1000} s`);
        }
        if (view.buffer.detached) {
          if (start > 0) throw failedAt(err);
          // The failed read took the buffer (nothing had been read into it): use a new one.
          view = new Uint8Array(new ArrayBuffer(bufferLength), start, length);
        }
        failures++;
        if (failures > options.retry.retries) throw failedAt(err);
        const wait = retryDelay(options.retry, failures);
        options.trace?.(
          `${options.what}: ${shortError(err)} at byte ${position}; resuming in ${wait} ms`,
        );
        await sleep(wait, options.signal);
      }
    }
  }
}
