/**
 * Moving images between locations: location strings (`docker://`, `registry-dir:`, `oci:`,
 * `oci-archive:`, `docker-archive:`) parsed and printed, opened as stores, and the operations over
 * the copy engine that ferry's commands run — copy, sync, and `registry save` into a registry
 * directory.
 *
 * ```ts
 * import { copy } from "./mod.ts";
 * await copy("docker://quay.io/org/app:1.0", "oci-archive:app.tar:org/app:1.0");
 * ```
 *
 * @module
 */
export * from "./location.ts";
export * from "./transport.ts";
export * from "./copy.ts";
export * from "./save.ts";
export * from "./signature_policy.ts";
