/**
 * `GET /v2/<name>/tags/list`: a repository's tags, sorted, paginated by `n` and `last`; 404
 * `NAME_UNKNOWN` for a repository the store does not hold.
 *
 * @module
 */
import { httpError } from "../errors.ts";
import type { RouteOf } from "../routes.ts";
import { allow, type HandlerContext, json, paginate, type ResourceRequest } from "./context.ts";

/** Answers the tags endpoint. */
export async function handleTags(
  ctx: HandlerContext,
  { route, request, query }: ResourceRequest<RouteOf<"tags">>,
): Promise<Response> {
  allow(request.method, ["GET"]);
  const name = route.name;
  const tags = await ctx.backend.repository(name).tags();
  if (tags.length === 0 && !await ctx.backend.hasRepository(name)) {
    throw httpError(404, "NAME_UNKNOWN", `repository ${name} is not known to the registry`, {
      detail: { name },
    });
  }
  const { page, link } = paginate(tags, query, `/v2/${name}/tags/list`);
  return json(200, { name, tags: page }, false, link ? { Link: link } : {});
}
