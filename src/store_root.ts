/**
 * File access confined to one store directory (a registry directory, an OCI layout, the image
 * store). Stores come from git repositories and USB sticks, so a symlink planted inside one
 * (`.ferry-tmp -> ../victim`, a blob `data -> /etc/passwd`) must never make ferry read, write or
 * delete outside it.
 *
 * Policy:
 *
 * - The root itself may be a symlink (storage is often mounted that way): it is resolved once,
 *   when the store is opened, and is the only symlink ferry follows.
 * - Below the root, a path ferry uses must resolve to exactly itself under the root's real path:
 *   any symlink on the way, even one pointing elsewhere inside the store, makes it foreign and the
 *   operation is refused with an `invalid_input` error naming the path.
 * - Cleanup never follows: it removes only regular files it names, or directories that resolve to
 *   themselves (`Deno.remove` with `recursive` does not follow symlinks inside the tree it removes).
 *
 * A path is checked with one `realpath` before it is used, and verified directories are remembered,
 * so the cost is one call per file opened and none per chunk. The checks defend against entries
 * planted before ferry runs; a process swapping entries for symlinks while ferry runs can race them.
 *
 * @module
 */
import { dirname, resolve as resolvePath } from "./path.ts";
import { FerryError } from "./errors.ts";
import { isMissing } from "./fs_util.ts";

/** Verified directories remembered per store; past this many the memory is dropped. */
const DIR_CACHE_LIMIT = 100_000;

/** Options for {@link StoreRoot.open}. */
export interface StoreRootOptions {
  /**
   * Exact mode of the directories {@link StoreRoot.ensureDir} creates (set with chmod when the
   * umask narrows it). Without it directories get 0777 less the umask.
   */
  dirMode?: number;
}

/** One store directory and the checks that keep ferry inside it. */
export class StoreRoot {
  /** The root as named (absolute); every path handed to the methods starts with it. */
  readonly root: string;
  /** The root with its symlinks resolved. */
  readonly real: string;
  #dirMode?: number;
  /** Whether `mkdir` alone gives `dirMode` (learned from the first directory created). */
  #umaskGivesMode?: boolean;
  #dirs = new Set<string>();
  /** Directories being created, so that concurrent calls for one make it once. */
  #creating = new Map<string, Promise<void>>();

  private constructor(root: string, real: string, options: StoreRootOptions) {
    this.root = root;
    this.real = real;
    this.#dirMode = options.dirMode;
  }

  /**
   * The store rooted at `root`, which must exist (a symlink to a directory is fine).
   *
   * @throws {FerryError} `not_found` when it does not exist, `invalid_input` when it is no directory.
   */
  // Still a promise (callers await it, its refusals are rejections), made of synchronous calls.
  // deno-lint-ignore require-await
  static async open(root: string, options: StoreRootOptions = {}): Promise<StoreRoot> {
    const abs = resolvePath(root);
    let real: string;
    try {
      // Synchronous, as the store's other checks are: local metadata, faster than a hand-off.
      real = Deno.realPathSync(abs);
      if (!Deno.statSync(real).isDirectory) {
        throw new FerryError("invalid_input", `${abs}: not a directory`);
      }
    } catch (err) {
      if (isMissing(err)) throw new FerryError("not_found", `${abs}: no such directory`);
      throw err;
    }
    const store = new StoreRoot(abs, real, options);
    store.#dirs.add(abs);
    return store;
  }

  /**
   * Whether something is at `path`, checked to be inside the store through no symlink. False when
   * nothing is there (or a dangling symlink is, which nothing reads through).
   *
   * @throws {FerryError} `invalid_input` when `path` is or passes through a symlink below the root.
   */
  async check(path: string): Promise<boolean> {
    return await this.#lstat(absolute(path)) !== undefined;
  }

  /**
   * `lstat` of `path` once it is known to be inside the store through no symlink; undefined when
   * nothing is there. Each directory on the way is verified once, by one `lstat` in its verified
   * parent (an entry that is no symlink is the parent's own), and remembered: a path in a known
   * directory costs one `lstat`. A symlink is resolved whole, where a dangling one counts as
   * missing and any other is refused.
   */
  async #lstat(path: string): Promise<Deno.FileInfo | undefined> {
    const parent = dirname(path);
    if (parent !== path && (parent === this.root || parent.startsWith(this.root + "/"))) {
      if (!this.#dirs.has(parent)) {
        const dir = await this.#lstat(parent);
        if (!dir?.isDirectory) return undefined;
        this.#remember(parent);
      }
      let info: Deno.FileInfo;
      try {
        // Synchronous: an lstat of a local path takes microseconds, less than handing it to the
        // runtime's blocking pool and back (a rerun makes hundreds of them).
        info = Deno.lstatSync(path);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
      if (!info.isSymlink) return info;
    }
    let real: string;
    try {
      real = Deno.realPathSync(path);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    if (real !== this.#expected(path)) throw this.foreign(path);
    try {
      return Deno.lstatSync(path);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /**
   * Like {@link check} for a directory, remembered once verified (no call the next time).
   *
   * @throws {FerryError} `invalid_input` also when something other than a directory is there.
   */
  async checkDir(path: string): Promise<boolean> {
    path = absolute(path);
    if (this.#dirs.has(path)) return true;
    const info = await this.#lstat(path);
    if (info === undefined) return false;
    if (!info.isDirectory) throw new FerryError("invalid_input", `${path}: not a directory`);
    this.#remember(path);
    return true;
  }

  /**
   * The size of the regular file at `path`, or undefined when there is none (or a directory is).
   *
   * @throws {FerryError} `invalid_input` when `path` is or passes through a symlink below the root.
   */
  async fileSize(path: string): Promise<number | undefined> {
    const info = await this.#lstat(absolute(path));
    return info?.isFile ? info.size : undefined;
  }

  /**
   * The bytes of the regular file at `path` (checked as {@link check} does), or undefined when
   * there is none (or a directory is there). For small files read whole (links, manifests): the
   * size its `lstat` tells is checked against `limit` before the file is opened, and it is read
   * into one buffer of that size plus one byte, so no more than that is ever read, whatever the
   * file became meanwhile. The caller verifies the content (a digest, a parse).
   *
   * With `sync`, the open and the read are synchronous: for files of a few bytes on local disk (a
   * registry directory's links), whose read takes less than a hand-off to the runtime's blocking
   * pool and back; never for blob data.
   *
   * @throws {FerryError} `too_large` when the file holds more than `limit` bytes (or grew past
   *   its size while read); `invalid_input` when a symlink is on its way.
   */
  async readSmallFile(
    path: string,
    limit: number,
    options: { sync?: boolean } = {},
  ): Promise<Uint8Array | undefined> {
    const info = await this.#lstat(absolute(path));
    if (!info?.isFile) return undefined;
    const size = info.size;
    if (size > limit) {
      throw new FerryError(
        "too_large",
        `${path}: ${size} bytes, more than the ${limit}-byte limit`,
      );
    }
    const sync = options.sync === true;
    let file: Deno.FsFile;
    try {
      file = sync ? Deno.openSync(path) : await Deno.open(path);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    const buf = new Uint8Array(size + 1);
    let length = 0;
    try {
      for (;;) {
        const view = buf.subarray(length);
        const n = sync ? file.readSync(view) : await file.read(view);
        if (n === null) break;
        length += n;
        // Every byte the size promised is here: no further read to wait for the end.
        if (length === size) break;
        if (length > size) {
          throw new FerryError("too_large", `${path}: grew past its ${size} bytes while read`);
        }
      }
    } finally {
      file.close();
    }
    return buf.subarray(0, length);
  }

  /** Opens the file at `path` after checking it (see {@link check}); `NotFound` when absent. */
  async open(path: string, options: Deno.OpenOptions = { read: true }): Promise<Deno.FsFile> {
    if (!await this.check(path)) throw new Deno.errors.NotFound(`${path}: no such file`);
    return await Deno.open(path, options);
  }

  /** The file's bytes, or undefined when it does not exist (checked as {@link check} does). */
  async readFileIfExists(path: string): Promise<Uint8Array | undefined> {
    if (!await this.check(path)) return undefined;
    try {
      return await Deno.readFile(path);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /**
   * Opens the regular file at `path` for writing, creating it when absent. A new file is created
   * exclusively (which follows no symlink, not even a dangling one); an existing entry must be a
   * regular file reached through no symlink. For lock files and the like.
   */
  async openOrCreate(path: string, mode = 0o644): Promise<Deno.FsFile> {
    for (let attempt = 0;; attempt++) {
      try {
        return await Deno.open(path, { read: true, write: true, createNew: true, mode });
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      }
      if (await this.check(path)) {
        // Another process may publish (rename away) the file between the two looks: then create
        // it afresh, as when it was never there.
        let isFile: boolean;
        try {
          isFile = (await Deno.lstat(path)).isFile;
        } catch (err) {
          if (!isMissing(err) || attempt >= 3) throw err;
          continue;
        }
        if (!isFile) throw this.foreign(path);
        try {
          return await Deno.open(path, { read: true, write: true });
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound) || attempt >= 3) throw err;
        }
      } else if (attempt >= 3) {
        // Still there and yet missing to realpath: a dangling symlink.
        throw this.foreign(path);
      }
    }
  }

  /**
   * Creates the directory `path` and its missing parents inside the store, each parent verified
   * before anything is created in it, so a symlinked component is refused instead of followed.
   * Concurrent calls for one directory share one creation, and a directory whose parent is
   * verified is simply made (one `mkdir`, no lookup first): what `mkdir` created is a directory of
   * ferry's, no symlink.
   */
  ensureDir(path: string): Promise<void> {
    path = absolute(path);
    if (this.#dirs.has(path)) return Promise.resolve();
    let pending = this.#creating.get(path);
    if (!pending) {
      pending = this.#ensureDir(path).finally(() => this.#creating.delete(path));
      this.#creating.set(path, pending);
    }
    return pending;
  }

  async #ensureDir(path: string): Promise<void> {
    const parent = dirname(path);
    if (!this.#dirs.has(parent)) {
      if (parent === path || !path.startsWith(this.root + "/")) {
        const info = await this.#lstat(path);
        if (info) return this.#adopt(path, info);
        throw this.foreign(path);
      }
      // The parent first (verified, or made), then this one is made as in a known parent: a new
      // tree (a tag's five directories) costs no lookup before each mkdir, which fails (a
      // `NotFound` thrown and caught) for every directory that is new; one already there is
      // verified after its mkdir fails.
      await this.ensureDir(parent);
    }
    try {
      await Deno.mkdir(path, { mode: this.#dirMode ?? 0o777 });
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      // There already, created meanwhile by another writer, or a dangling symlink (which check
      // calls missing).
      const info = await this.#lstat(path);
      if (!info) throw this.foreign(path);
      return this.#adopt(path, info);
    }
    if (this.#dirMode !== undefined) {
      this.#umaskGivesMode ??= ((await Deno.stat(path)).mode! & 0o777) === this.#dirMode;
      if (!this.#umaskGivesMode) await Deno.chmod(path, this.#dirMode);
    }
    this.#remember(path);
  }

  /** Remembers the verified `path` (`info` its `lstat`) when it is a directory. */
  #adopt(path: string, info: Deno.FileInfo): void {
    if (!info.isDirectory) throw new FerryError("invalid_input", `${path}: not a directory`);
    this.#remember(path);
  }

  /** Forgets verified directories at or under `path` (call after removing it). */
  forget(path: string): void {
    path = absolute(path);
    for (const dir of this.#dirs) {
      if (dir === path || dir.startsWith(path + "/")) this.#dirs.delete(dir);
    }
  }

  /** The error for a path that is or passes through a symlink below the root. */
  foreign(path: string): FerryError {
    return new FerryError(
      "invalid_input",
      `${path}: is or passes through a symbolic link inside ${this.root} (ferry follows no symlink inside a store)`,
    );
  }

  #expected(path: string): string {
    if (path === this.root) return this.real;
    if (!path.startsWith(this.root + "/")) throw this.foreign(path);
    return this.real === "/"
      ? path.slice(this.root.length)
      : this.real + path.slice(this.root.length);
  }

  #remember(path: string): void {
    if (this.#dirs.size >= DIR_CACHE_LIMIT) {
      this.#dirs.clear();
      this.#dirs.add(this.root);
    }
    this.#dirs.add(path);
  }
}

/**
 * `path` absolute and normalised (`//` and `.` folded), as the root is: stores may be opened by a
 * relative or untidy path, and build theirs from it.
 */
function absolute(path: string): string {
  // The paths stores build from their layouts are already so: no resolve (and no cwd lookup) for
  // each of the hundreds of checks of a rerun.
  return isNormalAbsolute(path) ? path : resolvePath(path);
}

/** Absolute, without empty, `.` or `..` segments or a trailing `/`: what `resolvePath` returns. */
function isNormalAbsolute(path: string): boolean {
  return path.startsWith("/") && !path.includes("//") && !path.includes("/./") &&
    !path.includes("/../") && !path.endsWith("/.") && !path.endsWith("/..") &&
    (path === "/" || !path.endsWith("/"));
}
