/**
 * Blob upload sessions where distribution keeps them: `repositories/<name>/_uploads/<id>/`, holding
 * the bytes received so far in `data` and the opening time in `startedat` (which docker-registry's
 * purge job reads). A session's `data` is on the directory's filesystem, so a verified upload is
 * committed by renaming it into `blobs/`: never copied, never read again.
 *
 * Every path goes through the directory's {@link StoreRoot}: a symlink planted in the directory (a
 * session's `data`, the session, `_uploads`, a repository) is never followed, so no session reads,
 * appends to or removes anything outside it. What is written into a session, in which order, and
 * how it is checked is the server's business (src/server/uploads.ts); this module only knows where
 * sessions live.
 *
 * @module
 */
import type { Expected } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import type { StoreRoot } from "../store_root.ts";
import { DIR_MODE, FILE_MODE, listDirs } from "./fs.ts";
import { checkRepositoryName, type Layout } from "./layout.ts";

/** Largest `startedat` read: it holds one RFC 3339 date. */
const MAX_STARTEDAT_SIZE = 1024;

/** An upload session found on disk. */
export interface StoredUploadSession {
  /** Repository the session is for. */
  readonly name: string;
  /** Session id (the directory's name). */
  readonly id: string;
}

/** What the sessions need from their registry directory. */
export interface UploadAreaContext {
  readonly layout: Layout;
  readonly root: StoreRoot;
  /** Names of the repositories holding `_uploads`. */
  repositoriesWithUploads(): Promise<string[]>;
  /** Links the stored blob `expected` into repository `name`. */
  link(name: string, expected: Expected): Promise<void>;
}

/** The upload sessions of one registry directory (see {@link RegistryDir.uploadSessions}). */
export class UploadArea {
  #ctx: UploadAreaContext;

  /** Use {@link RegistryDir.uploadSessions}. */
  constructor(context: UploadAreaContext) {
    this.#ctx = context;
  }

  /**
   * Opens the new session `id` (a fresh, validated id) of `name`: its directory, created
   * exclusively, with `startedat` (now) and an empty `data`.
   */
  async create(name: string, id: string): Promise<void> {
    const { layout, root } = this.#ctx;
    const dir = this.#dir(name, id);
    await root.ensureDir(layout.uploads(name));
    // Exclusive: a fresh id never names an existing entry, and mkdir follows no symlink.
    await Deno.mkdir(dir, { mode: DIR_MODE });
    // distribution's purge job reads startedat; ferry writes it so docker-registry can clean up.
    await Deno.writeTextFile(`${dir}/startedat`, new Date().toISOString().replace(/\.\d+Z$/, "Z"), {
      mode: FILE_MODE,
      createNew: true,
    });
    const file = await Deno.open(`${dir}/data`, { write: true, createNew: true, mode: FILE_MODE });
    file.close();
  }

  /**
   * Size of the session's `data`, or undefined when there is no such session. A symlinked data
   * file, session directory or `_uploads` is no session: adopting it would append to, and commit,
   * a file outside the directory.
   */
  async size(name: string, id: string): Promise<number | undefined> {
    try {
      return await this.#ctx.root.fileSize(this.#data(name, id));
    } catch (err) {
      if (isFerryError(err, "invalid_input")) return undefined;
      throw err;
    }
  }

  /** Opens the session's `data` (checked to be inside the directory) for reading or writing. */
  async open(name: string, id: string, options: { write?: boolean } = {}): Promise<Deno.FsFile> {
    const path = this.#data(name, id);
    return await this.#ctx.root.open(path, options.write ? { write: true } : { read: true });
  }

  /**
   * When the session started: its `startedat` (a regular file of at most 1 KiB reached through no
   * symlink), else its directory's mtime; undefined when neither can be read.
   */
  async startedAt(name: string, id: string): Promise<number | undefined> {
    const dir = this.#dir(name, id);
    try {
      // A date is a few dozen bytes: a larger file (or a symlink, or no regular file) is not read.
      const bytes = await this.#ctx.root.readSmallFile(`${dir}/startedat`, MAX_STARTEDAT_SIZE);
      if (bytes === undefined) throw new Error("not a regular file");
      const time = Date.parse(new TextDecoder().decode(bytes).trim());
      if (!Number.isNaN(time)) return time;
    } catch {
      // No such file or unreadable: fall back to the directory's date.
    }
    try {
      return (await Deno.stat(dir)).mtime?.getTime();
    } catch {
      return undefined;
    }
  }

  /**
   * Every session on disk, of this run, of earlier ones and of docker-registry: the real
   * directories under each repository's `_uploads` (a symlinked one is not listed).
   */
  async list(): Promise<StoredUploadSession[]> {
    const { layout, root } = this.#ctx;
    const out: StoredUploadSession[] = [];
    for (const name of await this.#ctx.repositoriesWithUploads()) {
      for (const id of await listDirs(root, layout.uploads(name))) out.push({ name, id });
    }
    return out;
  }

  /** Removes the session's directory; nothing when it is gone or reached through a symlink. */
  async remove(name: string, id: string): Promise<void> {
    const dir = this.#dir(name, id);
    // Only a session directory that resolves to itself; the recursive remove follows no symlink
    // below it.
    if (await this.#ctx.root.check(dir).catch(() => false)) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    this.#ctx.root.forget(dir);
  }

  /**
   * Makes the session's `data`, whose bytes the caller verified to match `expected`, the blob
   * `expected.digest` and links it into `name`. The data file is consumed: renamed into `blobs/`,
   * or removed when the blob is stored already. The session directory stays for {@link remove}.
   */
  async commit(name: string, id: string, expected: Expected): Promise<void> {
    const { layout, root } = this.#ctx;
    const path = this.#data(name, id);
    const data = layout.blobData(expected.digest);
    if (await root.fileSize(data) === undefined) {
      await Deno.chmod(path, FILE_MODE);
      await root.ensureDir(layout.blobDir(expected.digest));
      // Atomic: readers see no blob or the whole verified blob. A concurrent commit of the same
      // digest renames identical bytes over it.
      await Deno.rename(path, data);
    } else {
      await Deno.remove(path);
    }
    await this.#ctx.link(name, expected);
  }

  /** The session's directory; the name and id must name a directory inside `_uploads`. */
  #dir(name: string, id: string): string {
    const uploads = this.#ctx.layout.uploads(checkRepositoryName(name, this.#ctx.layout.root));
    if (id === "" || id === "." || id === ".." || id.includes("/") || id.includes("\0")) {
      throw new FerryError(
        "invalid_input",
        `${uploads}: invalid upload session id ${JSON.stringify(id)}`,
      );
    }
    return `${uploads}/${id}`;
  }

  #data(name: string, id: string): string {
    return `${this.#dir(name, id)}/data`;
  }
}
