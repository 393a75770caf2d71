/**
 * A registry directory: the CNCF distribution registry's filesystem storage
 * (`<root>/docker/registry/v2`), read and written directly. docker-registry serves a directory
 * written here unchanged, and ferry reads what docker-registry wrote.
 *
 * Every blob (layers, configs, manifests, indexes) is stored once under `blobs/`; a repository sees
 * only what it links: `_layers` links for layers and configs, `_manifests/revisions` links for
 * manifests, `_manifests/tags` for tags.
 *
 * @module
 */
import { dirname, resolve as resolvePath } from "../path.ts";
import { type Digest, type Expected, parseDigest, sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { SingleFlight } from "../limit.ts";
import type { Descriptor } from "../manifest.ts";
import {
  DOCKER_SCHEMA1,
  DOCKER_SCHEMA1_SIGNED,
  isManifestType,
  MAX_MANIFEST_SIZE,
  OCI_INDEX,
  OCI_MANIFEST,
} from "../media_types.ts";
import type {
  ContentSource,
  FetchOptions,
  StagedTags,
  Store,
  StoreAddress,
  TagRequest,
  Target,
} from "../store.ts";
import { ManifestCache } from "../manifest_cache.ts";
import { StoreRoot } from "../store_root.ts";
import { asFerryError, DIR_MODE, listDirs, readLink, type StagedLinks, stageLinks } from "./fs.ts";
import { checkRepositoryName, checkTag, isRepositoryName, isTag, Layout } from "./layout.ts";
import { DirLock } from "./lock.ts";
import { stageBlob } from "./staging.ts";
import { UploadArea } from "./uploads.ts";

/** Options for {@link RegistryDir.open}. */
export interface RegistryDirOptions {
  /**
   * Refuse every write with `denied` (and create nothing on open). Otherwise the directory's
   * writer lock (./lock.ts) is held shared until {@link RegistryDir.close}: the open is refused
   * with `conflict` while `registry gc` runs on it.
   */
  readOnly?: boolean;
}

/** Temp files of other runs younger than this may still be in use and are left alone. */
const STALE_TEMP_MS = 10 * 60 * 1000;
/** Staging files of blobs being written (see staging.ts). */
const PARTIAL_RE = /^[a-f0-9]{64}\.partial$/;
/** A revision directory's name. */
const HEX_RE = /^[a-f0-9]{64}$/;
/** Media type under which a stored blob is linked when its kind is not known: not a manifest type. */
const BLOB_TYPE = "application/octet-stream";
/** Temp files of `writeFileAtomic` and `createFileOnce` (link files being written). */
const TEMP_RE = /^(write|create)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a repository needs from its directory (internal: not re-exported by `mod.ts`). */
export interface DirContext {
  readonly layout: Layout;
  /** Confines every path to the directory (no symlink below the root is followed). */
  readonly root: StoreRoot;
  readonly location: string;
  readonly readOnly: boolean;
  /**
   * Makes the blob's data exist (downloading it once per process), verified. `stored` is what
   * the caller's own look at the data found, if it looked.
   */
  ensureBlob(
    expected: Expected,
    source: ContentSource,
    where: string,
    stored?: boolean,
  ): Promise<void>;
  /** Creates `<name>/_uploads` once per repository. */
  ensureUploads(name: string): Promise<void>;
  /**
   * A stored manifest's bytes (whatever repository links it: the caller checks its own link),
   * verified against the digest; read once per process while they stay among those kept.
   */
  readManifest(digest: Digest, where: string): Promise<Uint8Array>;
}

/** Manifests (verified bytes) a registry directory keeps after reading them, at most. */
export const MANIFESTS_KEPT = 64;
/** Bytes of the manifests a registry directory keeps, at most. */
export const MANIFEST_BYTES_KEPT = 8 * 1024 * 1024;

/** A registry directory in distribution's filesystem layout. */
export class RegistryDir implements Store {
  /** The registry root (docker-registry's `storage.filesystem.rootdirectory`), absolute. */
  readonly root: string;
  /** `registry-dir:<root>`. */
  readonly location: string;
  /** `registry-dir` at {@link root}. */
  readonly address: StoreAddress;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  /**
   * The checks every path goes through. The root may be a symlink (storage mounted elsewhere);
   * no symlink below it is followed: see ../store_root.ts.
   */
  readonly storeRoot: StoreRoot;
  /** Blob upload sessions in `repositories/<name>/_uploads` (for servers). */
  readonly uploadSessions: UploadArea;
  #layout: Layout;
  #flight = new SingleFlight<void>();
  #uploads = new Map<string, Promise<void>>();
  /**
   * Manifests read and verified, oldest first: a save reads each image's manifest to resolve its
   * tag and again to plan it, and the second read costs no file access.
   */
  #manifests = new ManifestCache({ maxEntries: MANIFESTS_KEPT, maxBytes: MANIFEST_BYTES_KEPT });
  #context: DirContext;
  /** The writer lock (none when read-only). */
  #lock: DirLock | undefined;

  private constructor(storeRoot: StoreRoot, readOnly: boolean) {
    const root = storeRoot.root;
    this.root = root;
    this.location = `registry-dir:${root}`;
    this.address = { transport: "registry-dir", path: root };
    this.readOnly = readOnly;
    this.storeRoot = storeRoot;
    this.#layout = new Layout(root);
    this.#context = {
      layout: this.#layout,
      root: storeRoot,
      location: this.location,
      readOnly,
      ensureBlob: (expected, source, where, stored) =>
        this.#ensureBlob(expected, source, where, stored),
      ensureUploads: (name) => this.#ensureUploads(name),
      readManifest: (digest, where) => this.#readManifest(digest, where),
    };
    this.uploadSessions = new UploadArea({
      layout: this.#layout,
      root: storeRoot,
      repositoriesWithUploads: () => this.repositoriesHolding("_uploads"),
      link: (name, expected) => this.repository(name).linkBlob(expected),
    });
  }

  /**
   * Opens the registry directory at `root`, creating `docker/registry/v2/{blobs,repositories}`
   * unless read-only. A read-only open requires `root` to exist.
   */
  static async open(root: string, options: RegistryDirOptions = {}): Promise<RegistryDir> {
    const abs = resolvePath(root);
    const readOnly = options.readOnly ?? false;
    const location = `registry-dir:${abs}`;
    try {
      if (!readOnly) createRoot(abs);
      const storeRoot = await StoreRoot.open(abs, { dirMode: DIR_MODE }).catch((err) => {
        if (!isFerryError(err, "not_found")) throw err;
        throw new FerryError("not_found", `${location}: no such directory`);
      });
      const dir = new RegistryDir(storeRoot, readOnly);
      if (!readOnly) {
        const lock = dir.#lock = await DirLock.take(storeRoot.real, location);
        try {
          const layout = new Layout(abs);
          // Looked for first: they exist but in a new directory, and making one that exists
          // costs a failing `mkdir` through the blocking pool (the process's first hand-off).
          for (const path of [layout.blobs, layout.repositories]) {
            if (!await storeRoot.checkDir(path)) await storeRoot.ensureDir(path);
          }
        } catch (err) {
          lock.release();
          throw err;
        }
      }
      return dir;
    } catch (err) {
      throw asFerryError(err, location);
    }
  }

  /** The repository `name`; validates the name (distribution's grammar) and nothing else. */
  repository(name: string): RegistryDirRepository {
    checkRepositoryName(name, this.location);
    return new RegistryDirRepository(this.#context, name);
  }

  /**
   * Names of the repositories held, sorted: every directory under `repositories/` holding
   * `_manifests` (names may contain `/`, and `a` and `a/b` may both be repositories).
   */
  repositories(): Promise<string[]> {
    return this.repositoriesHolding("_manifests");
  }

  /**
   * Names of the repository directories holding `entry`, sorted: `_manifests` for the
   * repositories proper, `_uploads` for those with upload sessions (a push may not have got as far
   * as a manifest). A symlinked directory on the way is skipped, or with `strict` an error
   * (`invalid_input`).
   */
  async repositoriesHolding(
    entry: "_manifests" | "_uploads",
    options: { strict?: boolean } = {},
  ): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const children = await listDirs(this.storeRoot, dir, options);
      if (prefix !== "" && children.includes(entry) && isRepositoryName(prefix)) {
        out.push(prefix);
      }
      for (const child of children) {
        if (child.startsWith("_")) continue;
        await walk(`${dir}/${child}`, prefix === "" ? child : `${prefix}/${child}`);
      }
    };
    try {
      await walk(this.#layout.repositories, "");
    } catch (err) {
      throw asFerryError(err, this.location);
    }
    return out.sort();
  }

  /**
   * Removes the staging directory: partials no other process holds locked (a crashed run's
   * partials were resumable until now) and temp files of other runs: all of them when no other
   * writer holds the directory's lock (they belong to runs that are over, as a killed save's
   * staged tags), else those older than ten minutes. Pushes still running when this is called may
   * fail.
   *
   * Only regular files named as ferry names them are removed, one by one, and only from a staging
   * directory that is a real directory of the store: a symlinked `.ferry-tmp`, and any symlink or
   * directory in it, is left alone (the directory then stays).
   */
  async close(): Promise<void> {
    if (this.readOnly) return;
    try {
      // Temp files found while no other writer holds the directory belong to runs that are over
      // (a killed save's staged tags): removed whatever their age. New ones made once the lock is
      // let go have other names.
      const orphans = this.#lock?.releaseAfter((alone) => alone ? this.#stagedNames() : undefined);
      await this.#cleanStaging(orphans ?? new Set());
    } finally {
      this.#lock?.release();
    }
  }

  /** Names in the staging directory, when it is a directory (not a symlink), listed at once. */
  #stagedNames(): Set<string> {
    const staging = this.#layout.staging;
    try {
      if (!Deno.lstatSync(staging).isDirectory) return new Set();
      return new Set(Array.from(Deno.readDirSync(staging), (entry) => entry.name));
    } catch {
      return new Set();
    }
  }

  /**
   * Takes the writer lock exclusively (what `registry gc` needs before it removes anything): no
   * other {@link RegistryDir} may be open for writing on this directory, in this process or
   * another, until this one is closed.
   *
   * @throws {FerryError} `conflict` while one is; `denied` when opened read-only.
   */
  async lockExclusive(): Promise<void> {
    if (!this.#lock) {
      throw new FerryError("denied", `${this.location}: registry directory is opened read-only`);
    }
    await this.#lock.upgrade();
  }

  /** See {@link close}: `orphans` are temp files removed whatever their age. */
  async #cleanStaging(orphans: Set<string>): Promise<void> {
    const staging = this.#layout.staging;
    let entries: Deno.DirEntry[];
    try {
      if (!await this.storeRoot.checkDir(staging)) return;
      entries = await Array.fromAsync(Deno.readDir(staging));
    } catch (err) {
      // Foreign (a symlink) or not a directory: not ferry's to clean.
      if (isFerryError(err, "invalid_input") || err instanceof Deno.errors.NotADirectory) return;
      if (err instanceof Deno.errors.NotFound) return;
      throw asFerryError(err, staging);
    }
    for (const entry of entries) {
      if (!entry.isFile) continue;
      const path = `${staging}/${entry.name}`;
      if (PARTIAL_RE.test(entry.name)) {
        await removeUnlocked(path);
      } else if (TEMP_RE.test(entry.name)) {
        const info = await Deno.lstat(path).catch(() => undefined);
        const age = Date.now() - (info?.mtime?.getTime() ?? 0);
        if (info?.isFile && (orphans.has(entry.name) || age > STALE_TEMP_MS)) {
          await Deno.remove(path).catch(() => {});
        }
      }
    }
    // Non-recursive: stays when another run still has files in it.
    await Deno.remove(staging).catch(() => {});
    this.storeRoot.forget(staging);
  }

  /**
   * Every blob directory `blobs/sha256/<hh>/<hex>`, with the size of its data (undefined for a
   * directory without data: what a sweep killed between its two steps leaves). Names that are no
   * digest, or sit under another prefix, are not blobs and are left out; so is anything symlinked.
   *
   * @param options.onStray told of each such directory (`error` undefined) and of each directory or
   *   data file that cannot be read (a symlink where data should be, an I/O error), which is then
   *   passed over; without it, the first unreadable one throws.
   */
  async storedBlobs(
    options: { onStray?: (path: string, error?: unknown) => void } = {},
  ): Promise<{ digest: Digest; size: number | undefined }[]> {
    const { onStray } = options;
    const root = this.storeRoot;
    /** `fn`'s result; with `onStray`, undefined when it throws (and `path` is told of). */
    const read = async <T>(path: string, fn: () => Promise<T>): Promise<T | null> => {
      if (!onStray) return await fn();
      try {
        return await fn();
      } catch (error) {
        onStray(path, error);
        return null;
      }
    };
    const sha = `${this.#layout.blobs}/sha256`;
    const out: { digest: Digest; size: number | undefined }[] = [];
    for (const prefix of (await read(sha, () => listDirs(root, sha))) ?? []) {
      const prefixDir = `${sha}/${prefix}`;
      for (const hex of (await read(prefixDir, () => listDirs(root, prefixDir))) ?? []) {
        if (!HEX_RE.test(hex) || hex.slice(0, 2) !== prefix) {
          onStray?.(`${prefixDir}/${hex}`);
          continue;
        }
        const digest: Digest = `sha256:${hex}`;
        const path = this.#layout.blobData(digest);
        const size = await read(path, () => root.fileSize(path));
        if (size !== null) out.push({ digest, size });
      }
    }
    return out;
  }

  /** Whether the blob's data exists (in any repository). */
  async hasBlob(digest: Digest): Promise<boolean> {
    return await this.blobSize(digest) !== undefined;
  }

  /** Path of the blob's data file (validates the digest). */
  blobPath(digest: Digest): string {
    return this.#layout.blobData(parseDigest(digest, this.location));
  }

  /** Size of a stored blob, or undefined when it is not stored. */
  async blobSize(digest: Digest): Promise<number | undefined> {
    const path = this.blobPath(digest);
    try {
      return await this.storeRoot.fileSize(path);
    } catch (err) {
      throw asFerryError(err, path);
    }
  }

  /**
   * Opens a stored blob's data file (reached through no symlink) positioned at `offset`; the
   * caller checks first that the repository asking links it. `NotFound` when it is not stored.
   */
  async openBlob(digest: Digest, offset = 0): Promise<Deno.FsFile> {
    const file = await this.storeRoot.open(this.blobPath(digest));
    try {
      if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
    } catch (err) {
      file.close();
      throw err;
    }
    return file;
  }

  async #ensureBlob(
    expected: Expected,
    source: ContentSource,
    where: string,
    stored?: boolean,
  ): Promise<void> {
    const dataPath = this.#layout.blobData(expected.digest);
    const root = this.storeRoot;
    if (!(stored ?? await root.fileSize(dataPath) !== undefined)) {
      // One download per digest per process; a caller whose flight was someone else's failed
      // attempt tries once more with its own source.
      let ran = false;
      const run = () => {
        ran = true;
        return stageBlob({ layout: this.#layout, root, expected, source, where });
      };
      try {
        await this.#flight.do(expected.digest, run);
      } catch (err) {
        if (ran) throw err;
        await this.#flight.do(expected.digest, run);
      }
    }
    const size = await root.fileSize(dataPath);
    if (size !== expected.size) {
      throw new FerryError(
        "size_mismatch",
        `${where}: stored blob ${dataPath} has ${size ?? "no"} bytes, expected ${expected.size}`,
      );
    }
  }

  async #readManifest(digest: Digest, where: string): Promise<Uint8Array> {
    const path = this.#layout.blobData(digest);
    const kept = this.#manifests.get(digest);
    // The data must still be there (a kept copy answers only for what the directory holds).
    const size = kept ? await this.storeRoot.fileSize(path) : undefined;
    if (kept && size === kept.byteLength) return kept;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.storeRoot.readSmallFile(path, MAX_MANIFEST_SIZE);
    } catch (err) {
      if (!isFerryError(err, "too_large")) throw err;
      throw new FerryError(
        "too_large",
        `${where}: manifest is larger than ${MAX_MANIFEST_SIZE} bytes`,
      );
    }
    if (bytes === undefined) {
      throw new FerryError("not_found", `${where}: manifest ${digest} has no data at ${path}`);
    }
    if (await sha256(bytes) !== digest) {
      throw new FerryError("digest_mismatch", `${path}: content does not match ${digest}`);
    }
    this.#manifests.set(digest, bytes);
    return bytes;
  }

  #ensureUploads(name: string): Promise<void> {
    let done = this.#uploads.get(name);
    if (!done) {
      done = this.storeRoot.ensureDir(this.#layout.uploads(name));
      done.catch(() => this.#uploads.delete(name));
      this.#uploads.set(name, done);
    }
    return done;
  }
}

/**
 * Creates the registry root unless it exists (a symlink to a directory counts), with
 * docker-registry's mode whatever the umask. Its parents are the user's: created, not chmodded.
 */
function createRoot(root: string): void {
  // Synchronous, as are the root's checks and lock (StoreRoot.open, DirLock.take): a few local
  // metadata calls, which each cost 1–3 ms as the process's first hand-offs to the runtime's
  // blocking pool (its threads started on the way) and microseconds made directly.
  try {
    Deno.mkdirSync(root, { mode: DIR_MODE });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return;
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    Deno.mkdirSync(dirname(root), { recursive: true });
    try {
      Deno.mkdirSync(root, { mode: DIR_MODE });
    } catch (again) {
      if (again instanceof Deno.errors.AlreadyExists) return;
      throw again;
    }
  }
  Deno.chmodSync(root, DIR_MODE);
}

/** Removes a partial (a regular file) unless another process (or another push here) holds its lock. */
async function removeUnlocked(path: string): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
    const [mine, onDisk] = [await file.stat(), await Deno.lstat(path)];
    if (!onDisk.isFile || onDisk.ino !== mine.ino || onDisk.dev !== mine.dev) {
      file.close();
      return;
    }
  } catch {
    return;
  }
  try {
    if (await file.tryLock(true)) await Deno.remove(path).catch(() => {});
  } finally {
    file.close();
  }
}

/** One repository of a {@link RegistryDir}. */
export class RegistryDirRepository implements Target {
  /** Repository name (`library/nginx`). */
  readonly name: string;
  /** `registry-dir:<root>/<name>`. */
  readonly location: string;
  /** On local disk. */
  readonly local = true;
  #ctx: DirContext;

  /** Use {@link RegistryDir.repository}. */
  constructor(context: DirContext, name: string) {
    this.#ctx = context;
    this.name = checkRepositoryName(name, context.location);
    this.location = `${context.location}/${name}`;
  }

  /** Resolves a tag or digest to the descriptor of the manifest it names. */
  async resolve(reference: string): Promise<Descriptor> {
    const { layout, root } = this.#ctx;
    const byDigest = reference.includes(":");
    const where = `${this.location}${byDigest ? "@" : ":"}${reference}`;
    const unknown = () => new FerryError("not_found", `${where}: manifest unknown`);
    let digest: Digest | undefined;
    try {
      if (byDigest) {
        digest = parseDigest(reference, where);
        if (await readLink(root, layout.revisionLink(this.name, digest)) !== digest) {
          throw unknown();
        }
      } else {
        checkTag(reference, this.location);
        digest = await readLink(root, layout.tagCurrentLink(this.name, reference));
        if (digest === undefined) throw unknown();
      }
      const bytes = await this.#ctx.readManifest(digest, where);
      const path = layout.blobData(digest);
      return { mediaType: sniffMediaType(bytes, path), digest, size: bytes.byteLength };
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /**
   * The bytes of a manifest this repository links (either kind of link, as {@link fetch}), read
   * whole (at most `MAX_MANIFEST_SIZE`) and verified against its digest: what {@link fetch}
   * streams, without the stream. A manifest read by {@link resolve} is not read again.
   */
  async manifestBytes(desc: Descriptor): Promise<Uint8Array> {
    const where = `${this.location}@${desc.digest}`;
    try {
      const digest = parseDigest(desc.digest, where);
      if (!await this.#linked(digest, desc.mediaType, true)) {
        throw new FerryError("not_found", `${where}: blob unknown to repository`);
      }
      return await this.#ctx.readManifest(digest, where);
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /**
   * Opens a blob or manifest this repository links (like distribution, a repository reads only
   * what it links), from `options.offset` on.
   */
  async fetch(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const where = `${this.location}@${desc.digest}`;
    try {
      const digest = parseDigest(desc.digest, where);
      if (!await this.#linked(digest, desc.mediaType, true)) {
        throw new FerryError("not_found", `${where}: blob unknown to repository`);
      }
      const path = this.#ctx.layout.blobData(digest);
      const offset = options.offset ?? 0;
      const file = await this.#ctx.root.open(path);
      try {
        const { size } = await file.stat();
        if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
          throw new FerryError("invalid_input", `${where}: offset ${offset} outside 0..${size}`);
        }
        if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
        options.signal?.throwIfAborted();
      } catch (err) {
        file.close();
        throw err;
      }
      if (!options.signal) return file.readable;
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      file.readable.pipeTo(writable, { signal: options.signal }).catch(() => {});
      return readable;
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /** Whether the data exists and this repository links it (by media type: manifest or blob). */
  async exists(desc: Descriptor): Promise<boolean> {
    const where = `${this.location}@${desc.digest}`;
    try {
      const digest = parseDigest(desc.digest, where);
      return await this.#linked(digest, desc.mediaType, false) &&
        await this.#ctx.root.fileSize(this.#ctx.layout.blobData(digest)) !== undefined;
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /**
   * Stores content and links it into this repository. A blob already stored (by any repository)
   * is only linked, without calling `content`.
   */
  async push(desc: Descriptor, content: ContentSource): Promise<void> {
    const where = `${this.location}@${desc.digest}`;
    this.#writable(where);
    try {
      const digest = parseDigest(desc.digest, where);
      if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
        throw new FerryError("invalid_input", `${where}: invalid size ${desc.size}`);
      }
      const manifest = isManifestType(desc.mediaType);
      if (manifest && desc.size > MAX_MANIFEST_SIZE) {
        throw new FerryError(
          "too_large",
          `${where}: manifest is larger than ${MAX_MANIFEST_SIZE} bytes`,
        );
      }
      const { layout, root } = this.#ctx;
      const link = manifest
        ? layout.revisionLink(this.name, digest)
        : layout.layerLink(this.name, digest);
      // Content not stored yet is linked by nothing worth keeping: its link is written without
      // a lookup first (which fails for every new blob), and the data is not looked for again.
      const stored = await root.fileSize(layout.blobData(digest)) !== undefined;
      // The link's bytes reach the disk while the content is stored; it is renamed into place
      // only once the content is (children before parents), with no second wait for the disk.
      const staged = stageLinks(root, [{ path: link, digest }], layout.staging, {
        unread: !stored,
      });
      staged.catch(() => {});
      try {
        await this.#ctx.ensureBlob({ digest, size: desc.size }, content, where, stored);
        await this.#ctx.ensureUploads(this.name);
      } catch (err) {
        await staged.then((s) => s.discard(), () => {});
        throw err;
      }
      await (await staged).commit();
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /** Points `tag` at a manifest of this repository (its revision link must exist). */
  async tag(desc: Descriptor, tag: string): Promise<void> {
    await (await this.stageTags([{ desc, tag }])).commit();
  }

  /**
   * Stages tags as one batch of link files: every link's bytes reach the disk together (one wait
   * for the disk, not one per tag), while what they name may still be stored. The commit checks
   * that this repository holds each manifest, then renames the links into place in the order
   * given, each tag's index entry before its `current` link: a reader, or a crash, sees a tag
   * only once those before it are there (a signature's tag before the image's).
   */
  async stageTags(tags: readonly TagRequest[]): Promise<StagedTags> {
    const { layout, root } = this.#ctx;
    const whereOf = (tag: string) => `${this.location}:${tag}`;
    const where = tags.length === 1
      ? whereOf(tags[0].tag)
      : `${this.location}: tags ${tags.map((t) => t.tag).join(", ")}`;
    const named = tags.map(({ desc, tag }) => {
      this.#writable(whereOf(tag));
      checkTag(tag, this.location);
      return { tag, digest: parseDigest(desc.digest, whereOf(tag)) };
    });
    let staged: StagedLinks;
    try {
      // History first: a current link always has its index entry.
      staged = await stageLinks(
        root,
        named.flatMap(({ tag, digest }) => [
          { path: layout.tagIndexLink(this.name, tag, digest), digest },
          { path: layout.tagCurrentLink(this.name, tag), digest },
        ]),
        layout.staging,
      );
    } catch (err) {
      throw asFerryError(err, where);
    }
    return {
      commit: async (after?: Promise<void>) => {
        // Awaited below, after the checks: never an unhandled rejection meanwhile.
        after?.catch(() => {});
        try {
          const held = await Promise.all(
            named.map(({ digest }) => readLink(root, layout.revisionLink(this.name, digest))),
          );
          const missing = named.findIndex(({ digest }, i) => held[i] !== digest);
          if (missing >= 0) {
            const { tag, digest } = named[missing];
            throw new FerryError(
              "not_found",
              `${whereOf(tag)}: manifest ${digest} unknown to repository`,
            );
          }
          // The directories at once; the renames once those before have landed.
          await staged.commit(after);
        } catch (err) {
          await staged.discard();
          throw asFerryError(err, where);
        }
      },
      discard: () => staged.discard(),
    };
  }

  /** Tags that point somewhere (hold `current/link`), sorted. */
  async tags(): Promise<string[]> {
    const { layout, root } = this.#ctx;
    try {
      const out: string[] = [];
      for (const tag of await listDirs(root, layout.tagsDir(this.name))) {
        if (
          isTag(tag) && await root.fileSize(layout.tagCurrentLink(this.name, tag)) !== undefined
        ) {
          out.push(tag);
        }
      }
      return out.sort();
    } catch (err) {
      throw asFerryError(err, this.location);
    }
  }

  /** Whether the repository holds `_manifests` (a real directory): what `repositories()` lists. */
  async hasManifests(): Promise<boolean> {
    const dir = `${this.#ctx.layout.repository(this.name)}/_manifests`;
    return await this.#ctx.root.checkDir(dir) && (await Deno.lstat(dir)).isDirectory;
  }

  /**
   * Digests of the manifests this repository holds: every revision whose link names it (a
   * symlinked or damaged link does not count), unsorted.
   */
  async manifests(): Promise<Digest[]> {
    const { layout, root } = this.#ctx;
    const dir = `${layout.repository(this.name)}/_manifests/revisions/sha256`;
    const out: Digest[] = [];
    let entries: Deno.DirEntry[];
    try {
      if (!await root.checkDir(dir)) return [];
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
    for (const entry of entries) {
      if (!entry.isDirectory || !HEX_RE.test(entry.name)) continue;
      const digest: Digest = `sha256:${entry.name}`;
      const link = `${dir}/${entry.name}/link`;
      if (await readLink(root, link).catch(() => undefined) === digest) out.push(digest);
    }
    return out;
  }

  /**
   * Links a blob whose data is already stored into this repository (a committed upload, a
   * cross-repository mount); only the link is written.
   *
   * @throws {FerryError} `not_found` when the data is not stored.
   */
  async linkBlob(expected: Expected): Promise<void> {
    const data = this.#ctx.layout.blobData(expected.digest);
    const source: ContentSource = () => {
      // Only reached when the data vanished between the caller's check and the link.
      throw new FerryError("not_found", `${data}: blob data disappeared while linking`);
    };
    await this.push({ mediaType: BLOB_TYPE, ...expected }, source);
  }

  /**
   * Removes a manifest's revision and, first, every tag pointing at it (a tag never points at a
   * manifest the repository no longer holds); the data stays for garbage collection. False when
   * the repository does not hold the manifest.
   */
  async deleteManifest(digest: Digest): Promise<boolean> {
    this.#writable(`${this.location}@${digest}`);
    const { layout, root } = this.#ctx;
    const link = layout.revisionLink(this.name, parseDigest(digest, this.location));
    // readLink checks the link's whole path: the directories removed below resolve to themselves.
    if (await readLink(root, link).catch(() => undefined) !== digest) return false;
    for (const tag of await listDirs(root, layout.tagsDir(this.name))) {
      const current = await readLink(root, layout.tagCurrentLink(this.name, tag))
        .catch(() => undefined);
      if (current === digest) {
        // listDirs named a real directory of a checked one.
        await Deno.remove(layout.tagDir(this.name, tag), { recursive: true }).catch(() => {});
        root.forget(layout.tagDir(this.name, tag));
      }
    }
    await Deno.remove(dirname(link), { recursive: true });
    root.forget(dirname(link));
    return true;
  }

  /**
   * Unlinks a blob from this repository (its `_layers` link); the data stays for garbage
   * collection. False when the repository does not link it as a blob.
   */
  async deleteBlob(digest: Digest): Promise<boolean> {
    this.#writable(`${this.location}@${digest}`);
    const { layout, root } = this.#ctx;
    const link = layout.layerLink(this.name, parseDigest(digest, this.location));
    if (await readLink(root, link).catch(() => undefined) !== digest) return false;
    await Deno.remove(dirname(link), { recursive: true });
    root.forget(dirname(link));
    return true;
  }

  /** Removes a tag (its whole directory, as distribution does); the manifest stays. */
  async deleteTag(tag: string): Promise<void> {
    const where = `${this.location}:${tag}`;
    this.#writable(where);
    checkTag(tag, this.location);
    const dir = this.#ctx.layout.tagDir(this.name, tag);
    const root = this.#ctx.root;
    try {
      // The tag's directory resolves to itself (checked), and a recursive remove follows no
      // symlink below it: nothing outside the store can go.
      if (!await root.check(dir) || !(await Deno.lstat(dir)).isDirectory) {
        throw new FerryError("not_found", `${where}: tag unknown`);
      }
      await Deno.remove(dir, { recursive: true });
      root.forget(dir);
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /**
   * Size of a blob or manifest this repository links (either kind of link), or undefined. For
   * servers, which know a digest but not its media type.
   */
  async blobSize(digest: Digest): Promise<number | undefined> {
    const where = `${this.location}@${digest}`;
    try {
      const d = parseDigest(digest, where);
      if (!await this.#linked(d, undefined, true)) return undefined;
      return await this.#ctx.root.fileSize(this.#ctx.layout.blobData(d));
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /**
   * Whether this repository links `digest`: by revision link for manifest types, by layer link
   * otherwise; with `either`, any link will do (reading a manifest through the blob endpoint).
   */
  async #linked(digest: Digest, mediaType: string | undefined, either: boolean): Promise<boolean> {
    const { layout, root } = this.#ctx;
    const revision = layout.revisionLink(this.name, digest);
    const layer = layout.layerLink(this.name, digest);
    const [first, second] = mediaType !== undefined && isManifestType(mediaType)
      ? [revision, layer]
      : [layer, revision];
    if (await readLink(root, first) === digest) return true;
    return either && await readLink(root, second) === digest;
  }

  #writable(where: string): void {
    if (this.#ctx.readOnly) {
      throw new FerryError("denied", `${where}: registry directory is opened read-only`);
    }
  }
}

/**
 * The media type of stored manifest bytes: the document's `mediaType`, else by shape (OCI allows
 * leaving it out). Schema 1 is reported as such so that callers can explain why they refuse it.
 */
function sniffMediaType(bytes: Uint8Array, where: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new FerryError("invalid_input", `${where}: manifest is not valid JSON`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new FerryError("invalid_input", `${where}: manifest is not a JSON object`);
  }
  const d = doc as Record<string, unknown>;
  if (typeof d.mediaType === "string" && d.mediaType !== "") return d.mediaType;
  if (d.schemaVersion === 1) {
    return Array.isArray(d.signatures) ? DOCKER_SCHEMA1_SIGNED : DOCKER_SCHEMA1;
  }
  return Array.isArray(d.manifests) ? OCI_INDEX : OCI_MANIFEST;
}
