/**
 * HTTP ranges: `Range: bytes=…` on blob reads (RFC 9110 §14) and `Content-Range: <start>-<end>` on
 * chunked uploads (the distribution spec's own, prefix-less form).
 *
 * @module
 */

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What a `Range` header asks of a resource of `size` bytes: a satisfiable range, `"unsatisfiable"`
 * (416), or undefined when the whole resource should be sent — no header, a syntax this server
 * ignores (RFC 9110 lets servers ignore Range), or several ranges.
 */
export function parseRange(
  header: string | null,
  size: number,
): ByteRange | "unsatisfiable" | undefined {
  if (header === null) return undefined;
  const m = header.trim().match(/^bytes=(\d*)-(\d*)$/i);
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    // Suffix: the last N bytes.
    const n = Number(m[2]);
    if (!Number.isSafeInteger(n)) return undefined;
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined;
  if (m[2] !== "" && end < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}

/**
 * Parses an upload's `Content-Range` (`<start>-<end>`, also with a `bytes ` prefix and an optional
 * `/<total>` as some clients send). Undefined when malformed.
 */
export function parseContentRange(header: string): ByteRange | undefined {
  const m = header.trim().match(/^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/i);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

/** Passes the first `length` bytes of a stream, then cancels the source. */
export function takeBytes(
  source: ReadableStream<Uint8Array>,
  length: number,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let left = length;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (left <= 0) {
        controller.close();
        await reader.cancel().catch(() => {});
        return;
      }
      const { done, value } = await reader.read();
      if (done) {
        controller.error(new Error(`stream ended ${left} bytes short`));
        return;
      }
      const chunk = value.byteLength > left ? value.subarray(0, left) : value;
      left -= chunk.byteLength;
      controller.enqueue(chunk);
      if (left <= 0) {
        controller.close();
        await reader.cancel().catch(() => {});
      }
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
    },
  });
}
