/**
 * `GET /v2/_catalog`: the repositories of the store, sorted, paginated by `n` and `last`.
 *
 * @module
 */
import type { RouteOf } from "../routes.ts";
import { allow, type HandlerContext, json, paginate, type ResourceRequest } from "./context.ts";

/** Answers the catalog endpoint. */
export async function handleCatalog(
  ctx: HandlerContext,
  { request, query }: ResourceRequest<RouteOf<"catalog">>,
): Promise<Response> {
  allow(request.method, ["GET"]);
  const { page, link } = paginate(
    await ctx.backend.store.repositories(),
    query,
    "/v2/_catalog",
  );
  return json(200, { repositories: page }, false, link ? { Link: link } : {});
}
