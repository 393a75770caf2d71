/**
 * `/v2/<name>/blobs/uploads/`: `POST` opens a session (or mounts a blob from another repository,
 * or takes a whole blob at once with `?digest=`), and `/v2/<name>/blobs/uploads/<id>` reports
 * (`GET`), appends a chunk (`PATCH`), finishes (`PUT ?digest=`) or cancels (`DELETE`) it. The
 * sessions themselves are ../uploads.ts.
 *
 * @module
 */
import { isDigest } from "../../digest.ts";
import { isRepositoryName } from "../../reference.ts";
import { HttpError, httpError } from "../errors.ts";
import { parseContentRange } from "../range.ts";
import type { RouteOf } from "../routes.ts";
import { rangeHeader, type UploadSession } from "../uploads.ts";
import {
  allow,
  blobCreated,
  empty,
  type HandlerContext,
  parseDigestParam,
  type ResourceRequest,
} from "./context.ts";

/** Answers `POST /v2/<name>/blobs/uploads/`. */
export async function handleUploads(
  ctx: HandlerContext,
  { route, request, query }: ResourceRequest<RouteOf<"uploads">>,
): Promise<Response> {
  allow(request.method, ["POST"]);
  const name = route.name;
  const mount = query.get("mount");
  const from = query.get("from");
  if (mount !== null && isDigest(mount) && from !== null && isRepositoryName(from)) {
    if (await ctx.backend.mountBlob(name, from, mount)) {
      await request.body?.cancel().catch(() => {});
      return blobCreated(name, mount);
    }
  }
  const digests = query.getAll("digest");
  if (digests.length > 0) {
    // Monolithic upload in one POST.
    const digest = parseDigestParam(digests[0]);
    const session = await ctx.uploads.create(name);
    try {
      await ctx.uploads.finish(session, digest, request.body);
    } catch (err) {
      await ctx.uploads.cancel(session).catch(() => {});
      throw err;
    }
    return blobCreated(name, digest);
  }
  await request.body?.cancel().catch(() => {});
  const session = await ctx.uploads.create(name);
  return uploadStatus(202, session);
}

/** Answers `/v2/<name>/blobs/uploads/<id>`. */
export async function handleUpload(
  ctx: HandlerContext,
  { route, request, query }: ResourceRequest<RouteOf<"upload">>,
): Promise<Response> {
  allow(request.method, ["GET", "PATCH", "PUT", "DELETE"]);
  const { name, id } = route;
  const session = await ctx.uploads.get(name, id);
  if (!session) {
    throw httpError(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", {
      detail: { uuid: id },
    });
  }
  try {
    switch (request.method) {
      case "GET":
        return uploadStatus(204, session);
      case "DELETE":
        await ctx.uploads.cancel(session);
        return empty(204);
      case "PATCH": {
        const range = chunkRange(request, session);
        return uploadStatus(202, await ctx.uploads.append(session, request.body, range));
      }
      default: {
        const digests = query.getAll("digest");
        if (digests.length === 0) {
          throw httpError(400, "DIGEST_INVALID", "the digest parameter is missing");
        }
        const digest = parseDigestParam(digests[0]);
        const range = chunkRange(request, session);
        await ctx.uploads.finish(session, digest, request.body, range);
        return blobCreated(name, digest);
      }
    }
  } catch (err) {
    if (err instanceof HttpError && err.status === 416) {
      Object.assign(err.headers, uploadHeaders(session));
    }
    throw err;
  }
}

/** The `Content-Range` of a chunk, checked against its `Content-Length`. */
function chunkRange(request: Request, session: UploadSession) {
  const header = request.headers.get("content-range");
  if (header === null) return undefined;
  const range = parseContentRange(header);
  if (!range) {
    throw httpError(416, "RANGE_INVALID", `malformed Content-Range ${JSON.stringify(header)}`, {
      headers: { Range: rangeHeader(session.size) },
    });
  }
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) !== range.end - range.start + 1) {
    throw httpError(
      400,
      "SIZE_INVALID",
      `Content-Length ${length} does not match Content-Range ${header}`,
    );
  }
  return range;
}

function uploadHeaders(session: UploadSession): Record<string, string> {
  return {
    "Location": `/v2/${session.name}/blobs/uploads/${session.id}`,
    "Range": rangeHeader(session.size),
    "Docker-Upload-UUID": session.id,
  };
}

function uploadStatus(status: 202 | 204, session: UploadSession): Response {
  return new Response(null, {
    status,
    headers: { ...uploadHeaders(session), "Content-Length": "0" },
  });
}
