/**
 * Temporary directories that clean up after themselves, and free TCP ports on 127.0.0.1.
 *
 * @module
 */
import { join } from "node:path";

/** A directory under the system temp dir, removed with everything in it on dispose. */
export interface TempDir extends AsyncDisposable {
  /** Absolute path of the directory. */
  readonly path: string;
  /** `path` joined with `parts`. */
  join(...parts: string[]): string;
  /** Removes the directory tree. Safe to call more than once. */
  remove(): Promise<void>;
}

/**
 * Creates a fresh temp directory (`Deno.makeTempDir`, so parallel tests never share one).
 * Use with `await using dir = await tempDir("x-")` or call `remove()` in a `finally`.
 */
export async function tempDir(prefix = "ferry-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  let removed = false;
  async function remove(): Promise<void> {
    if (removed) return;
    removed = true;
    await removeTree(path);
  }
  return {
    path,
    join: (...parts) => join(path, ...parts),
    remove,
    [Symbol.asyncDispose]: remove,
  };
}

/** Removes a directory tree, ignoring one that is already gone. */
export async function removeTree(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. Another process may take it before the
 * caller binds it, so servers started on it should retry on "address in use".
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}
