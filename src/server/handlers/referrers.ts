/**
 * `GET /v2/<name>/referrers/<digest>`: the manifests of a repository naming `digest` as their
 * subject, as an OCI index, optionally filtered by `artifactType`.
 *
 * @module
 */
import { OCI_INDEX } from "../../media_types.ts";
import type { RouteOf } from "../routes.ts";
import {
  allow,
  type HandlerContext,
  json,
  parseDigestParam,
  type ResourceRequest,
} from "./context.ts";

/** Answers the referrers endpoint. */
export async function handleReferrers(
  ctx: HandlerContext,
  { route, request, query }: ResourceRequest<RouteOf<"referrers">>,
): Promise<Response> {
  allow(request.method, ["GET"]);
  const subject = parseDigestParam(route.digest);
  let manifests = await ctx.referrers.referrers(route.name, subject);
  const artifactType = query.get("artifactType");
  const headers: Record<string, string> = {};
  if (artifactType !== null) {
    manifests = manifests.filter((d) => d.artifactType === artifactType);
    headers["OCI-Filters-Applied"] = "artifactType";
  }
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests };
  return json(200, index, false, { ...headers, "Content-Type": OCI_INDEX });
}
