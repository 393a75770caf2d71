/**
 * A blob download that survives cut connections: when the body fails mid-way, it asks again with
 * `Range: bytes=N-` and continues where it stopped. A resumed response is accepted only when it is
 * a 206 whose `Content-Range` starts exactly at N (or a 200 whose first N bytes are skipped), so a
 * server that ignores ranges cannot splice wrong bytes into the stream. A body longer than the
 * descriptor's size fails before any byte past the size is passed on.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { retryDelay, type RetryPolicy, sleep } from "./retry.ts";
import { shortError } from "./http.ts";
import { RegistryError } from "./errors.ts";

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
        `${what}: registry sent ${length} bytes, expected ${size}`,
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
          res.headers.get("content-range")
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
  let skip = checkRangeResponse(first, position, options.size, options.what);
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined = first.body!.getReader();
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

  const body = new ReadableStream<Uint8Array>({
    start() {
      watchdog = setTimeout(watch, idleMs);
      Deno.unrefTimer(watchdog as unknown as number);
    },
    async pull(controller) {
      try {
        await pullChunk(controller);
      } catch (err) {
        end();
        throw err;
      }
    },
    cancel(reason) {
      end();
      return reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return body;

  async function pullChunk(controller: ReadableStreamDefaultController<Uint8Array>) {
    for (;;) {
      try {
        if (!reader) {
          const res = await open(position);
          skip = checkRangeResponse(res, position, options.size, options.what);
          reader = res.body!.getReader();
        }
        const { value, done } = await reader.read();
        if (done) {
          if (stalled) {
            stalled = false;
            throw new Error(`no data for ${idleMs / 1000} s`);
          }
          if (position < options.size) throw new Error(`connection closed at byte ${position}`);
          end();
          controller.close();
          return;
        }
        lastData = Date.now();
        let chunk = value;
        if (skip > 0) {
          const drop = Math.min(skip, chunk.byteLength);
          skip -= drop;
          chunk = chunk.subarray(drop);
          if (chunk.byteLength === 0) continue;
        }
        if (position + chunk.byteLength > options.size) {
          // Never pass on a byte past the descriptor's size: the stream may be feeding another
          // registry's upload, which must not receive more than the blob before it fails.
          throw new FerryError(
            "size_mismatch",
            `${options.what}: registry sent more than the blob's ${options.size} bytes`,
          );
        }
        position += chunk.byteLength;
        failures = 0;
        controller.enqueue(chunk);
        return;
      } catch (err) {
        reader?.cancel().catch(() => {});
        reader = undefined;
        if (options.signal?.aborted) throw options.signal.reason;
        if (err instanceof FerryError && !err.retryable) throw err;
        failures++;
        if (failures > options.retry.retries) {
          throw new FerryError(
            "network",
            `${options.what}: download failed at byte ${position} of ${options.size}: ${
              shortError(err)
            }`,
            { cause: err, retryable: true },
          );
        }
        const wait = retryDelay(options.retry, failures);
        options.trace?.(
          `${options.what}: ${shortError(err)} at byte ${position}; resuming in ${wait} ms`,
        );
        await sleep(wait, options.signal);
      }
    }
  }
}
