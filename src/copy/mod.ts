/**
 * The one copy engine every image-moving command uses.
 *
 * @module
 */
export * from "./engine.ts";
export { selectChildren } from "./select.ts";
