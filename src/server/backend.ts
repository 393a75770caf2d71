/**
 * What the server needs from a store beyond the {@link Store}/{@link Target} interface: blobs by
 * digest alone (a client asks for `/blobs/<digest>` without saying what it is), a place for upload
 * sessions next to the store's data, committing a verified upload without copying it, mounts,
 * listing manifests (referrers) and deletes.
 *
 * @module
 */
import type { Digest, Expected } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { MemoryStore } from "../memory_store/mod.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import type { Store, Target } from "../store.ts";
import { DirBackend } from "./dir_backend.ts";
import { MemoryBackend } from "./memory_backend.ts";

/** An upload session left on disk (by an earlier run or by docker-registry). */
export interface StoredUpload {
  readonly name: string;
  readonly id: string;
}

/** A store as the server sees it. Names and upload ids are validated by the caller. */
export interface ServerBackend {
  /** The store served. */
  readonly store: Store;
  /** Whether the store refuses writes. */
  readonly readOnly: boolean;
  /** The repository `name`. */
  repository(name: string): Target;
  /** Whether the repository holds anything (for `NAME_UNKNOWN`). */
  hasRepository(name: string): Promise<boolean>;
  /** Size of a blob or manifest the repository links, or undefined. */
  blobSize(name: string, digest: Digest): Promise<number | undefined>;
  /** Opens a blob or manifest the repository links, from `offset` on (streaming). */
  openBlob(name: string, digest: Digest, offset: number): Promise<ReadableStream<Uint8Array>>;
  /** Digests of the manifests the repository holds. */
  manifestDigests(name: string): Promise<Digest[]>;
  /**
   * Opens the new upload session `id` of `name`: an empty data file, kept where
   * {@link commitUpload} can take it without copying.
   */
  createUpload(name: string, id: string): Promise<void>;
  /**
   * The size of the data of session `id` of `name` left on disk by an earlier run (or by
   * docker-registry), a regular file reached through no symlink. Undefined when there is none,
   * and always for a store whose sessions live only as long as the server.
   */
  findUpload(name: string, id: string): Promise<number | undefined>;
  /** Opens the data file of a session this backend created or found, to read or to write. */
  openUpload(name: string, id: string, options?: { write?: boolean }): Promise<Deno.FsFile>;
  /**
   * Upload sessions found on disk, including those of earlier runs or of docker-registry (a store
   * whose sessions live only as long as the server returns none).
   */
  storedUploads(): Promise<StoredUpload[]>;
  /** When a listed session started (ms since the epoch), or undefined when unknown. */
  uploadStartedAt(name: string, id: string): Promise<number | undefined>;
  /** Removes a session (one this backend created, found or listed) and its data. */
  removeUpload(name: string, id: string): Promise<void>;
  /**
   * Makes the session's data, whose bytes were already verified to match `expected`, the blob
   * `expected.digest` linked into `name`. The data is consumed (moved or read and removed); the
   * session stays for {@link removeUpload}.
   */
  commitUpload(name: string, id: string, expected: Expected): Promise<void>;
  /** Links a blob `from` links into `name`; false when `from` does not link it. */
  mountBlob(name: string, from: string, digest: Digest): Promise<boolean>;
  /** Removes a manifest and the tags pointing at it; false when unknown. */
  deleteManifest(name: string, digest: Digest): Promise<boolean>;
  /** Removes a tag; false when unknown. */
  deleteTag(name: string, tag: string): Promise<boolean>;
  /** Unlinks a blob from the repository (the data stays for garbage collection); false when unknown. */
  deleteBlob(name: string, digest: Digest): Promise<boolean>;
  /** Removes the backend's own temp files (not the store's content). */
  close(): Promise<void>;
}

/**
 * The backend for a store ferry can serve: a registry directory or a memory store.
 *
 * @throws {FerryError} `unsupported` for other stores.
 */
export function backendFor(store: Store): ServerBackend {
  if (store instanceof RegistryDir) return new DirBackend(store);
  if (store instanceof MemoryStore) return new MemoryBackend(store);
  throw new FerryError("unsupported", `${store.location}: cannot be served as a registry`);
}
