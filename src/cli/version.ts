/**
 * ferry's version, taken from deno.json at build time (bundles and binaries embed it).
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };

/** The version of this ferry build. */
export const VERSION: string = config.version;
