/**
 * Serving a registry directory. Every path and file operation is the directory's own
 * ({@link RegistryDir}, its repositories and its {@link RegistryDir.uploadSessions}): blobs are
 * read straight from `blobs/`, uploads kept where distribution keeps them and committed by renaming
 * them into `blobs/`, and no planted symlink is ever followed. What this adds is what a server
 * needs: remembering which repository links which blob, so that a blob request reads no link file.
 *
 * @module
 */
import type { Digest, Expected } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import { fileBody } from "../http1/mod.ts";
import type { RegistryDir } from "../registry_dir/mod.ts";
import type { Target } from "../store.ts";
import type { ServerBackend, StoredUpload } from "./backend.ts";

/** Remembered repository links; past this many the memory is dropped and rebuilt. */
const LINK_CACHE_LIMIT = 100_000;

/** A {@link ServerBackend} over a {@link RegistryDir}. */
export class DirBackend implements ServerBackend {
  /** The directory served. */
  readonly store: RegistryDir;
  /** Whether the directory was opened read-only. */
  readonly readOnly: boolean;
  /**
   * `name@digest` pairs known to be linked. Links only disappear through this server's deletes
   * (which forget them), so a hit saves reading a link file on every blob request.
   */
  #linked = new Set<string>();

  constructor(dir: RegistryDir) {
    this.store = dir;
    this.readOnly = dir.readOnly;
  }

  repository(name: string): Target {
    return this.store.repository(name);
  }

  /** Whether the repository holds manifests (what `repositories()` lists). */
  hasRepository(name: string): Promise<boolean> {
    return this.store.repository(name).hasManifests();
  }

  async blobSize(name: string, digest: Digest): Promise<number | undefined> {
    const key = `${name}@${digest}`;
    if (this.#linked.has(key)) {
      const size = await this.store.blobSize(digest);
      if (size !== undefined) return size;
      this.#linked.delete(key);
    }
    const size = await this.store.repository(name).blobSize(digest);
    if (size !== undefined) {
      if (this.#linked.size >= LINK_CACHE_LIMIT) this.#linked.clear();
      this.#linked.add(key);
    }
    return size;
  }

  /** Opens the blob's data file; call after {@link blobSize} found it linked. */
  async openBlob(
    _name: string,
    digest: Digest,
    offset: number,
  ): Promise<ReadableStream<Uint8Array>> {
    return fileBody(await this.store.openBlob(digest, offset));
  }

  manifestDigests(name: string): Promise<Digest[]> {
    return this.store.repository(name).manifests();
  }

  createUpload(name: string, id: string): Promise<void> {
    return this.store.uploadSessions.create(name, id);
  }

  findUpload(name: string, id: string): Promise<number | undefined> {
    return this.store.uploadSessions.size(name, id);
  }

  openUpload(name: string, id: string, options?: { write?: boolean }): Promise<Deno.FsFile> {
    return this.store.uploadSessions.open(name, id, options);
  }

  storedUploads(): Promise<StoredUpload[]> {
    return this.store.uploadSessions.list();
  }

  uploadStartedAt(name: string, id: string): Promise<number | undefined> {
    return this.store.uploadSessions.startedAt(name, id);
  }

  removeUpload(name: string, id: string): Promise<void> {
    return this.store.uploadSessions.remove(name, id);
  }

  commitUpload(name: string, id: string, expected: Expected): Promise<void> {
    return this.store.uploadSessions.commit(name, id, expected);
  }

  async mountBlob(name: string, from: string, digest: Digest): Promise<boolean> {
    const size = await this.blobSize(from, digest);
    if (size === undefined) return false;
    await this.store.repository(name).linkBlob({ digest, size });
    return true;
  }

  async deleteManifest(name: string, digest: Digest): Promise<boolean> {
    if (!await this.store.repository(name).deleteManifest(digest)) return false;
    this.#linked.delete(`${name}@${digest}`);
    return true;
  }

  async deleteTag(name: string, tag: string): Promise<boolean> {
    try {
      await this.store.repository(name).deleteTag(tag);
      return true;
    } catch (err) {
      if (isFerryError(err, "not_found")) return false;
      throw err;
    }
  }

  async deleteBlob(name: string, digest: Digest): Promise<boolean> {
    if (!await this.store.repository(name).deleteBlob(digest)) return false;
    this.#linked.delete(`${name}@${digest}`);
    return true;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
