/**
 * A general-purpose HTTP/1.1 server for fetch-style handlers (`(Request, info) => Response`) over
 * `Deno.listen` / `Deno.listenTls`, with bounded heads, bodies, times and connections, and file
 * response bodies copied straight from the file. It knows nothing of registries: ferry's
 * `registry serve` (../server/) runs its handler on it.
 *
 * ```ts
 * const server = serveHttp1({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   handler: async () => new Response(fileBody(await Deno.open("big.bin"))),
 * });
 * await server.shutdown();
 * ```
 *
 * @module
 */
export {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_MAX_CLIENT_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS,
  type Http1Handler,
  type Http1LimitEvent,
  type Http1RequestInfo,
  type Http1Server,
  type Http1ServerOptions,
  type Http1Stats,
  serveHttp1,
} from "./server.ts";
export { fileBody, takeFileBody } from "./file_body.ts";
