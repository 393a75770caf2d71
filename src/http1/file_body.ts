/**
 * Response bodies that are whole files from an offset on. A server that owns its sockets copies
 * such a body straight from the file through one reused buffer instead of pulling the stream
 * chunk by chunk (./server.ts); anything else reads the stream as usual.
 *
 * @module
 */

const files = new WeakMap<ReadableStream<Uint8Array>, Deno.FsFile>();

/** `file.readable`, remembered as coming from `file` (positioned where the body starts). */
export function fileBody(file: Deno.FsFile): ReadableStream<Uint8Array> {
  const stream = file.readable;
  files.set(stream, file);
  return stream;
}

/**
 * The file behind a body made by {@link fileBody}, handed over once: the caller reads it to the end
 * and closes it, and must not touch the stream. Undefined for any other body, or one already read.
 */
export function takeFileBody(body: ReadableStream<Uint8Array>): Deno.FsFile | undefined {
  const file = files.get(body);
  if (file === undefined || body.locked) return undefined;
  files.delete(body);
  return file;
}
