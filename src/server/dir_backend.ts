/**
 * Serving a registry directory: blobs read straight from `blobs/`, uploads kept where
 * distribution keeps them (`repositories/<name>/_uploads/<id>/data`, same filesystem), and a
 * verified upload committed by renaming its file into `blobs/` — hashed once, while it arrived,
 * never copied — after which the directory's own `push` finds the data present and only writes
 * the repository's link.
 *
 * Every path goes through the directory's {@link StoreRoot}: a symlink planted in the served
 * directory (a blob's `data`, a session's `data`, `_uploads`, a repository) is never followed, so
 * no request reads, appends to or removes anything outside it.
 *
 * @module
 */
import { dirname } from "node:path";
import type { Digest, Expected } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { Layout, type RegistryDir } from "../registry_dir/mod.ts";
import { DIR_MODE, FILE_MODE, listDirs, readLink } from "../registry_dir/fs.ts";
import type { StoreRoot } from "../store_root.ts";
import type { ContentSource, Target } from "../store.ts";
import type { ServerBackend, StoredUpload } from "./backend.ts";
import { fileBody } from "../http1/mod.ts";

/** Media type under which committed uploads are pushed: anything that is not a manifest type. */
const BLOB_TYPE = "application/octet-stream";
/** Remembered repository links; past this many the memory is dropped and rebuilt. */
const LINK_CACHE_LIMIT = 100_000;
const HEX_RE = /^[a-f0-9]{64}$/;

/** A {@link ServerBackend} over a {@link RegistryDir}. */
export class DirBackend implements ServerBackend {
  /** The directory served. */
  readonly store: RegistryDir;
  /** Whether the directory was opened read-only. */
  readonly readOnly: boolean;
  #layout: Layout;
  #root: StoreRoot;
  /**
   * `name@digest` pairs known to be linked. Links only disappear through this server's deletes
   * (which forget them), so a hit saves reading a link file on every blob request.
   */
  #linked = new Set<string>();

  constructor(dir: RegistryDir) {
    this.store = dir;
    this.readOnly = dir.readOnly;
    this.#layout = new Layout(dir.root);
    this.#root = dir.storeRoot;
  }

  repository(name: string): Target {
    return this.store.repository(name);
  }

  /** Whether the repository holds manifests (what `repositories()` lists). */
  async hasRepository(name: string): Promise<boolean> {
    const dir = `${this.#layout.repository(name)}/_manifests`;
    return await this.#root.checkDir(dir) && (await Deno.lstat(dir)).isDirectory;
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
    const file = await this.#root.open(this.store.blobPath(digest));
    try {
      if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
    } catch (err) {
      file.close();
      throw err;
    }
    return fileBody(file);
  }

  async manifestDigests(name: string): Promise<Digest[]> {
    const dir = `${this.#layout.repository(name)}/_manifests/revisions/sha256`;
    const out: Digest[] = [];
    let entries: Deno.DirEntry[];
    try {
      if (!await this.#root.checkDir(dir)) return [];
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
    for (const entry of entries) {
      if (!entry.isDirectory || !HEX_RE.test(entry.name)) continue;
      const digest: Digest = `sha256:${entry.name}`;
      const link = `${dir}/${entry.name}/link`;
      if (await readLink(this.#root, link).catch(() => undefined) === digest) {
        out.push(digest);
      }
    }
    return out;
  }

  async createUploadDir(name: string, id: string): Promise<string> {
    const dir = `${this.#layout.uploads(name)}/${id}`;
    await this.#root.ensureDir(this.#layout.uploads(name));
    // Exclusive: a fresh id never names an existing entry, and mkdir follows no symlink.
    await Deno.mkdir(dir, { mode: DIR_MODE });
    return dir;
  }

  async findUpload(name: string, id: string): Promise<{ dir: string; size: number } | undefined> {
    const dir = `${this.#layout.uploads(name)}/${id}`;
    try {
      // A symlinked data file, session directory or `_uploads` is no session: adopting it would
      // append to, and commit, a file outside the directory.
      const size = await this.#root.fileSize(`${dir}/data`);
      return size === undefined ? undefined : { dir, size };
    } catch (err) {
      if (isFerryError(err, "invalid_input")) return undefined;
      throw err;
    }
  }

  async storedUploads(): Promise<StoredUpload[]> {
    const out: StoredUpload[] = [];
    for (const name of await this.store.repositoriesHolding("_uploads")) {
      const dir = this.#layout.uploads(name);
      for (const id of await listDirs(this.#root, dir)) out.push({ name, id, dir: `${dir}/${id}` });
    }
    return out;
  }

  async removeUpload(dir: string): Promise<void> {
    // Only a session directory that resolves to itself; the recursive remove follows no symlink
    // below it.
    if (await this.#root.check(dir).catch(() => false)) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    this.#root.forget(dir);
  }

  async commitUpload(name: string, path: string, expected: Expected): Promise<void> {
    const data = this.#layout.blobData(expected.digest);
    if (await this.#root.fileSize(data) === undefined) {
      await Deno.chmod(path, FILE_MODE);
      await this.#root.ensureDir(this.#layout.blobDir(expected.digest));
      // Atomic: readers see no blob or the whole verified blob. A concurrent commit of the same
      // digest renames identical bytes over it.
      await Deno.rename(path, data);
    } else {
      await Deno.remove(path);
    }
    await this.#link(name, expected);
  }

  async mountBlob(name: string, from: string, digest: Digest): Promise<boolean> {
    const size = await this.blobSize(from, digest);
    if (size === undefined) return false;
    await this.#link(name, { digest, size });
    return true;
  }

  async deleteManifest(name: string, digest: Digest): Promise<boolean> {
    const root = this.#root;
    const link = this.#layout.revisionLink(name, digest);
    // readLink checks the link's whole path: the directories removed below resolve to themselves.
    if (await readLink(root, link).catch(() => undefined) !== digest) return false;
    // Tags first: a tag never points at a manifest the repository no longer holds.
    const tagsDir = this.#layout.tagsDir(name);
    for (const tag of await listDirs(root, tagsDir)) {
      const current = await readLink(root, this.#layout.tagCurrentLink(name, tag))
        .catch(() => undefined);
      if (current === digest) {
        // listDirs named a real directory of a checked one.
        await Deno.remove(this.#layout.tagDir(name, tag), { recursive: true }).catch(() => {});
        root.forget(this.#layout.tagDir(name, tag));
      }
    }
    await Deno.remove(dirname(link), { recursive: true });
    root.forget(dirname(link));
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
    const link = this.#layout.layerLink(name, digest);
    if (await readLink(this.#root, link).catch(() => undefined) !== digest) return false;
    await Deno.remove(dirname(link), { recursive: true });
    this.#root.forget(dirname(link));
    this.#linked.delete(`${name}@${digest}`);
    return true;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Links a blob whose data is present; the directory's push writes only the link. */
  async #link(name: string, expected: Expected): Promise<void> {
    const data = this.#layout.blobData(expected.digest);
    const source: ContentSource = () => {
      // Only reached when the data vanished between the commit and the link.
      throw new FerryError("not_found", `${data}: blob data disappeared while linking`);
    };
    await this.store.repository(name).push({ mediaType: BLOB_TYPE, ...expected }, source);
  }
}
