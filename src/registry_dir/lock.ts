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
 * marks and sweeps. Neither side waits: whichever comes second is refused at once with one line
 * (`conflict`), and can be run again when the other is done. Readers (`verify`, `ls-blobs`, a
 * read-only `serve`, a directory read as a copy's source) take no lock. Other programs writing
 * into the directory (docker-registry taking pushes) do not see it.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

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
  // Still a promise (callers await it, its refusals are rejections), made of synchronous calls.
  // deno-lint-ignore require-await
  static async take(path: string, location: string, exclusive = false): Promise<DirLock> {
    // Synchronous: a directory's open and a flock that never waits take microseconds, less than
    // a hand-off to the runtime's blocking pool (every save opens its directory at start-up).
    const file = Deno.openSync(path, { read: true });
    try {
      if (!file.tryLockSync(exclusive)) throw refusal(location, exclusive);
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
