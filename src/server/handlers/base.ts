/**
 * `GET /v2/`: the API version check clients start with (the version header itself is set on every
 * response by the handler).
 *
 * @module
 */
import type { RouteOf } from "../routes.ts";
import { allow, json, type ResourceRequest } from "./context.ts";

/** Answers the base endpoint: 200 and an empty JSON object. */
export function handleBase({ request }: ResourceRequest<RouteOf<"base">>): Response {
  allow(request.method, ["GET", "HEAD"]);
  return json(200, {}, request.method === "HEAD");
}
