/**
 * `/v2/<name>/blobs/<digest>`: `GET` (whole or one byte range, streamed from the store) and
 * `HEAD` of a blob the repository links, and `DELETE` of its link.
 *
 * @module
 */
import { isFerryError } from "../../errors.ts";
import { httpError } from "../errors.ts";
import { parseRange, takeBytes } from "../range.ts";
import type { RouteOf } from "../routes.ts";
import {
  allow,
  blobUnknown,
  deletable,
  empty,
  type HandlerContext,
  parseDigestParam,
  type ResourceRequest,
} from "./context.ts";

/** Answers the blob endpoint. */
export function handleBlob(
  ctx: HandlerContext,
  { route, request }: ResourceRequest<RouteOf<"blob">>,
): Promise<Response> {
  allow(request.method, ["GET", "HEAD", "DELETE"]);
  if (request.method === "DELETE") return deleteBlob(ctx, route.name, route.digest);
  return getBlob(ctx, route.name, route.digest, request);
}

async function getBlob(
  ctx: HandlerContext,
  name: string,
  digestText: string,
  request: Request,
): Promise<Response> {
  const digest = parseDigestParam(digestText);
  const size = await ctx.backend.blobSize(name, digest);
  if (size === undefined) throw blobUnknown(digest);
  const headers = new Headers({
    "Content-Type": "application/octet-stream",
    "Docker-Content-Digest": digest,
    "ETag": `"${digest}"`,
    "Accept-Ranges": "bytes",
    "Cache-Control": "max-age=31536000",
  });
  if (request.method === "HEAD") {
    headers.set("Content-Length", String(size));
    return new Response(null, { status: 200, headers });
  }
  const range = parseRange(request.headers.get("range"), size);
  if (range === "unsatisfiable") {
    throw httpError(416, "RANGE_INVALID", `requested range is outside the ${size}-byte blob`, {
      headers: { "Content-Range": `bytes */${size}` },
    });
  }
  const start = range?.start ?? 0;
  const length = range ? range.end - range.start + 1 : size;
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = await ctx.backend.openBlob(name, digest, start);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || isFerryError(err, "not_found")) {
      throw blobUnknown(digest);
    }
    throw err;
  }
  // Only a range that stops short of the end needs cutting (which costs the direct file path).
  if (start + length < size) stream = takeBytes(stream, length);
  headers.set("Content-Length", String(length));
  if (!range) return new Response(stream, { status: 200, headers });
  headers.set("Content-Range", `bytes ${range.start}-${range.end}/${size}`);
  return new Response(stream, { status: 206, headers });
}

async function deleteBlob(
  ctx: HandlerContext,
  name: string,
  digestText: string,
): Promise<Response> {
  deletable(ctx);
  const digest = parseDigestParam(digestText);
  if (!await ctx.backend.deleteBlob(name, digest)) throw blobUnknown(digest);
  return empty(202);
}
