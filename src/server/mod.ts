/**
 * `ferry registry serve`: an OCI distribution (v1.1) server over ferry's stores — a registry
 * directory in distribution's layout (what `ferry registry save` and docker-registry write, and
 * where pushes land so that docker-registry can serve them afterwards) or a memory store.
 *
 * ```ts
 * const dir = await RegistryDir.open("registry");
 * const server = await serveRegistry({ store: dir, port: 0 });
 * console.log(server.url); // http://127.0.0.1:PORT
 * await server.shutdown();
 * await dir.close();
 * ```
 *
 * @module
 */
export {
  createRegistryHandler,
  type RegistryHandler,
  type RegistryHandlerOptions,
  type RequestInfo,
} from "./handler.ts";
export { type RunningRegistryServer, serveRegistry, type ServeRegistryOptions } from "./serve.ts";
export { Htpasswd } from "./htpasswd.ts";
export { type RegistryErrorCode, type RegistryErrorEntry } from "./errors.ts";
