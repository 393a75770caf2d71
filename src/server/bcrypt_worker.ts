/**
 * Worker thread of {@link ./bcrypt_pool.ts}: compares passwords with bcrypt hashes so that the
 * server's own thread never spends the tens of milliseconds one comparison takes.
 *
 * Message in: `{ id, password, hash }`; out: `{ id, ok }` (a malformed hash is a mismatch).
 *
 * @module
 */
import bcrypt from "bcryptjs";

interface Scope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as Scope;
scope.onmessage = (event: MessageEvent) => {
  const { id, password, hash } = event.data as { id: number; password: string; hash: string };
  let ok = false;
  try {
    ok = bcrypt.compareSync(password, hash);
  } catch {
    // a malformed hash matches nothing
  }
  scope.postMessage({ id, ok });
};
