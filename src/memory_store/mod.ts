/**
 * An in-memory store: repositories, manifests, blobs and tags held by the process. What
 * `ferry registry serve inmem` serves.
 *
 * ```ts
 * const store = new MemoryStore();
 * const repo = store.repository("library/app");
 * await repo.push(configDesc, bytesSource(configBytes));
 * ```
 *
 * @module
 */
export { MemoryRepository, MemoryStore } from "./memory_store.ts";
