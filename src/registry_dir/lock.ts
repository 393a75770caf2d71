/**
 * The lock between ferry's writers of a registry directory and `registry gc`, so that gc never
 * removes a blob a save has stored but not linked yet (its manifest not written, so nothing marks
 * it), and a save never starts into a directory being swept.
 *
 * It is an advisory `flock` on the registry's root directory itself, not a lock file: nothing is
 * added to the directory, so a build context's `registry/` (copied into cluster images) and what
 * docker-registry serves stay as they were. Every {@link RegistryDir} opened for writing holds it
 * shared until it is closed (`registry save`, `copy` and `sync` into a directory, the save of
 * `ferry build`, a `registry serve` taking pushes); `registry gc` holds it exclusively while it
 * marks and sweeps. Neither side waits (beyond a writer's retries for about 0.1 s, the moment a
 * closing writer holds it exclusively): whichever comes second is refused with one line
 * (`conflict`), and can be run again when the other is done. Readers (`verify`, `ls-blobs`, a
 * read-only `serve`, a directory read as a copy's source) take no lock. Other programs writing
 * into the directory (docker-registry taking pushes) do not see it.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/**
 * Further tries of a writer's (shared) take that finds the lock held exclusively, {@link
 * SHARED_RETRY_MS} apart: about 0.1 s, far longer than a closing writer holds it, far shorter than
 * a gc.
 */
export const SHARED_RETRIES = 5;
/** Milliseconds between a writer's tries of the lock. */
export const SHARED_RETRY_MS = 20;

/** One hold of a registry directory's lock (see the module doc). */
export class DirLock {
  #file: Deno.FsFile | undefined;
  #exclusive: boolean;
  readonly #location: string;

  private constructor(file: Deno.FsFile, exclusive: boolean, location: string) {
    this.#file = file;
    this.#exclusive = exclusive;
    this.#location = location;
  }

  /**
   * Takes the lock of the directory `path` (shared for a writer, exclusive for gc).
   *
   * @throws {FerryError} `conflict` when the other side holds it.
   */
  static async take(path: string, location: string, exclusive = false): Promise<DirLock> {
    // Synchronous: a directory's open and a flock that never waits take microseconds, less than
    // a hand-off to the runtime's blocking pool (every save opens its directory at start-up).
    const file = Deno.openSync(path, { read: true });
    try {
      // A writer finding the lock exclusive tries again a few times: besides gc (which holds it
      // for as long as it sweeps), a closing writer holds it so for a moment (see releaseAfter).
      for (let attempt = 0; !file.tryLockSync(exclusive); attempt++) {
        if (exclusive || attempt >= SHARED_RETRIES) throw refusal(location, exclusive);
        await new Promise((resolve) => setTimeout(resolve, SHARED_RETRY_MS));
      }
    } catch (err) {
      file.close();
      throw err;
    }
    return new DirLock(file, exclusive, location);
  }

  /** Whether it is held exclusively. */
  get exclusive(): boolean {
    return this.#exclusive;
  }

  /**
   * Makes a shared hold exclusive.
   *
   * @throws {FerryError} `conflict` while another writer (in this process or another) holds it;
   * the hold is then shared again.
   */
  async upgrade(): Promise<void> {
    const file = this.#file;
    if (!file) throw new FerryError("usage", `${this.#location}: registry directory is closed`);
    if (this.#exclusive) return;
    if (await file.tryLock(true)) {
      this.#exclusive = true;
      return;
    }
    // flock converts by dropping the old lock first: take the shared one back.
    await file.tryLock(false);
    throw refusal(this.#location, true);
  }

  /**
   * Lets go of a writer's hold, first telling `fn` whether it was the only hold on the directory:
   * no other writer, in this process or another, and no gc. The hold is made exclusive (without
   * waiting) for as long as `fn` runs, so that no writer starts meanwhile; `fn` is synchronous to
   * keep that moment short (a writer opening then retries, see {@link DirLock.take}). What a
   * closing writer finds in the staging directory while alone was left by runs that are over.
   */
  releaseAfter<T>(fn: (alone: boolean) => T): T {
    const file = this.#file;
    try {
      // A conversion that fails may drop the shared hold (flock(2)): it is let go of next anyway.
      return fn(file !== undefined && (this.#exclusive || file.tryLockSync(true)));
    } finally {
      this.release();
    }
  }

  /** Lets go of it (idempotent). */
  release(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}

function refusal(location: string, exclusive: boolean): FerryError {
  return new FerryError(
    "conflict",
    exclusive
      ? `${location}: another ferry process is writing to this registry directory (registry ` +
        `save, copy, sync, build, or registry serve taking pushes); retry when it is done`
      : `${location}: registry gc is running on this registry directory; retry when it is done`,
  );
}
