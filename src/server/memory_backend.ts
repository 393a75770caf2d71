/**
 * Serving a {@link MemoryStore}. Uploads still stream to temp files (a client may send a blob in
 * many requests, and a half-received blob should not sit in memory); a verified upload is then read
 * into the store.
 *
 * @module
 */
import type { Digest, Expected } from "../digest.ts";
import { FerryError } from "../errors.ts";
import type { MemoryRepository, MemoryStore } from "../memory_store/mod.ts";
import type { ContentSource } from "../store.ts";
import type { ServerBackend, StoredUpload } from "./backend.ts";

const BLOB_TYPE = "application/octet-stream";

/** A {@link ServerBackend} over a {@link MemoryStore}. */
export class MemoryBackend implements ServerBackend {
  /** The store served. */
  readonly store: MemoryStore;
  /** Memory stores always take writes. */
  readonly readOnly = false;
  #tempDir?: Promise<string>;

  constructor(store: MemoryStore) {
    this.store = store;
  }

  repository(name: string): MemoryRepository {
    return this.store.repository(name);
  }

  async hasRepository(name: string): Promise<boolean> {
    return (await this.store.repositories()).includes(name);
  }

  blobSize(name: string, digest: Digest): Promise<number | undefined> {
    return Promise.resolve(this.repository(name).blobSize(digest));
  }

  openBlob(name: string, digest: Digest, offset: number): Promise<ReadableStream<Uint8Array>> {
    return this.repository(name).fetch({ mediaType: BLOB_TYPE, digest, size: 0 }, { offset });
  }

  manifestDigests(name: string): Promise<Digest[]> {
    return Promise.resolve(this.repository(name).manifests());
  }

  async createUpload(_name: string, id: string): Promise<void> {
    this.#tempDir ??= Deno.makeTempDir({ prefix: "ferry-serve-uploads-" });
    const dir = `${await this.#tempDir}/${id}`;
    await Deno.mkdir(dir);
    const file = await Deno.open(`${dir}/data`, { write: true, createNew: true, mode: 0o600 });
    file.close();
  }

  findUpload(): Promise<undefined> {
    // Sessions live in a temp dir of this process only, and UploadSessions knows them all under
    // their repository: a session is never found on disk, so another repository's URL cannot
    // reach it.
    return Promise.resolve(undefined);
  }

  async openUpload(
    _name: string,
    id: string,
    options: { write?: boolean } = {},
  ): Promise<Deno.FsFile> {
    return await Deno.open(await this.#data(id), options.write ? { write: true } : { read: true });
  }

  storedUploads(): Promise<StoredUpload[]> {
    return Promise.resolve([]);
  }

  uploadStartedAt(): Promise<undefined> {
    // Never listed (see storedUploads): the server knows when its own sessions started.
    return Promise.resolve(undefined);
  }

  async removeUpload(_name: string, id: string): Promise<void> {
    if (!this.#tempDir) return;
    await Deno.remove(`${await this.#tempDir}/${id}`, { recursive: true }).catch(() => {});
  }

  async commitUpload(name: string, id: string, expected: Expected): Promise<void> {
    const path = await this.#data(id);
    const source: ContentSource = async (offset) => {
      const file = await Deno.open(path);
      if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
      return file.readable;
    };
    try {
      await this.repository(name).push({ mediaType: BLOB_TYPE, ...expected }, source);
    } finally {
      await Deno.remove(path).catch(() => {});
    }
  }

  async mountBlob(name: string, from: string, digest: Digest): Promise<boolean> {
    const size = this.repository(from).blobSize(digest);
    if (size === undefined) return false;
    await this.repository(name).push({ mediaType: BLOB_TYPE, digest, size }, () => {
      throw new FerryError("not_found", `${this.store.location}${from}@${digest}: blob vanished`);
    });
    return true;
  }

  deleteManifest(name: string, digest: Digest): Promise<boolean> {
    return Promise.resolve(this.repository(name).deleteManifest(digest));
  }

  deleteTag(name: string, tag: string): Promise<boolean> {
    return Promise.resolve(this.repository(name).deleteTag(tag));
  }

  deleteBlob(name: string, digest: Digest): Promise<boolean> {
    return Promise.resolve(this.repository(name).deleteBlob(digest));
  }

  /** Path of a session's data file (the session was created here). */
  async #data(id: string): Promise<string> {
    if (!this.#tempDir) throw new Deno.errors.NotFound(`upload ${id}: no such session`);
    return `${await this.#tempDir}/${id}/data`;
  }

  /** Removes the temp directory of uploads. */
  async close(): Promise<void> {
    if (!this.#tempDir) return;
    const dir = await this.#tempDir.catch(() => undefined);
    this.#tempDir = undefined;
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
