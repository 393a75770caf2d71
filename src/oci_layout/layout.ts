/**
 * An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) as a ferry
 * {@link Store}: the format `skopeo copy oci:DIR:REF`, `umoci` and `buildah` read and write, and
 * the format of ferry's local image store.
 *
 * Names: see ref_name.ts. `repository("")` is the whole layout and its tags are the ref names
 * (`localhost/app:1.0`); `repository("localhost/app")` maps tag `1.0` to that same ref name.
 *
 * Files ferry adds, all under `<root>/.ferry/` (skopeo and umoci ignore unknown entries there):
 *
 * - `tmp/`: staging files; a blob is verified and fsynced there, then renamed into `blobs/`;
 * - `index.lock`: held exclusively around every read-modify-write of `index.json`, so concurrent
 *   ferry processes never lose each other's tags;
 * - `lock`: held shared by every instance that writes (from its first write until `close()`), and
 *   exclusively by `gc()`, so garbage collection never deletes a blob another process has just
 *   pushed but not yet tagged.
 *
 * No symlink below the root is followed (the root itself may be one): see ../store_root.ts. A
 * symlinked `index.json`, blob, `.ferry` or lock file is refused with an error naming it; cleanup
 * removes only regular files ferry names.
 *
 * @module
 */
import { type Digest, digestHex, parseDigest } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { createFileOnce, openFileRange, syncDir, writeFileAtomic } from "../fs_util.ts";
import { StoreRoot } from "../store_root.ts";
import type { Descriptor } from "../manifest.ts";
import { SingleFlight } from "../limit.ts";
import type { ContentSource, FetchOptions, Store, Target } from "../store.ts";
import { writeBlobFile } from "./blob_file.ts";
import {
  checkLayoutFile,
  EMPTY_INDEX,
  indexEntry,
  type LayoutIndex,
  MAX_INDEX_FILE_SIZE,
  OCI_LAYOUT_CONTENT,
  parseLayoutIndex,
  refNameOfEntry,
  refNames,
  repositoryNames,
  serializeLayoutIndex,
  withoutRef,
  withRef,
} from "./index_file.ts";
import {
  type LayoutBackend,
  referrersInLayout,
  resolveInLayout,
  type SubjectCache,
  subjectInLayout,
  tagsInLayout,
} from "./layout_view.ts";
import { layoutMarks } from "./reachable.ts";
import { refNameOf } from "./ref_name.ts";
import { MAX_MANIFEST_SIZE } from "../media_types.ts";

/** Largest `oci-layout` file read (it holds one short version string). */
const MAX_LAYOUT_FILE_SIZE = 4096;

/** Options for {@link OciLayout.open}. */
export interface OciLayoutOptions {
  /** Create the directory and an empty layout when there is none (default true). */
  create?: boolean;
}

/** What {@link OciLayout.gc} removed. */
export interface GcResult {
  /** Blobs deleted. */
  removed: Digest[];
  /** Bytes freed (blobs and stale staging files). */
  freedBytes: number;
}

/** One repository (see the module doc for names) of an {@link OciLayout}. */
export interface OciLayoutTarget extends Target {
  /** Removes the tag; true when it existed. Blobs stay until {@link OciLayout.gc}. */
  untag(tag: string): Promise<boolean>;
}

/** An OCI image layout directory. */
export class OciLayout implements Store {
  /** The layout's directory. */
  readonly root: string;
  /** `oci:<root>`. */
  readonly location: string;
  #blobDir: string;
  #ferryDir: string;
  #tmpDir: string;
  #flight = new SingleFlight<void>();
  #indexQueue: Promise<unknown> = Promise.resolve();
  #session?: Promise<Deno.FsFile | undefined>;
  #closed = false;
  #backend: LayoutBackend;
  #root!: StoreRoot;
  #subjects: SubjectCache = new Map();

  private constructor(root: string) {
    this.root = root;
    this.location = `oci:${root}`;
    this.#blobDir = `${root}/blobs/sha256`;
    this.#ferryDir = `${root}/.ferry`;
    this.#tmpDir = `${root}/.ferry/tmp`;
    this.#backend = {
      location: this.location,
      readIndex: () => this.#readIndex(),
      blobSize: (digest) => this.#root.fileSize(this.#blobPath(digest)),
      openBlob: (digest, offset, signal) => this.#openBlob(digest, offset, signal),
    };
  }

  /**
   * Opens the layout at `root`, creating it (unless `create: false`) when the directory holds no
   * `oci-layout` file.
   *
   * @throws {FerryError} `not_found` without a layout and `create: false`; `unsupported` for an
   * unknown layout version.
   */
  static async open(root: string, options: OciLayoutOptions = {}): Promise<OciLayout> {
    const layout = new OciLayout(root.replace(/(?<=.)\/+$/, ""));
    await layout.#init(options.create ?? true);
    return layout;
  }

  async #init(create: boolean): Promise<void> {
    const layoutFile = `${this.root}/oci-layout`;
    const notLayout = () =>
      new FerryError("not_found", `${this.root}: not an OCI image layout (no oci-layout file)`);
    try {
      this.#root = await StoreRoot.open(this.root);
    } catch (err) {
      if (!isFerryError(err, "not_found")) throw err;
      if (!create) throw notLayout();
      await Deno.mkdir(this.root, { recursive: true });
      this.#root = await StoreRoot.open(this.root);
    }
    const bytes = await this.#readSmall(layoutFile, MAX_LAYOUT_FILE_SIZE);
    if (bytes) {
      checkLayoutFile(bytes, this.root);
      return;
    }
    if (!create) throw notLayout();
    await this.#root.ensureDir(this.#blobDir);
    await this.#root.ensureDir(this.#tmpDir);
    const enc = new TextEncoder();
    // index.json first: a reader that sees oci-layout must also find an index.
    await createFileOnce(
      `${this.root}/index.json`,
      serializeLayoutIndex(EMPTY_INDEX),
      { tmpDir: this.#tmpDir },
    );
    await createFileOnce(layoutFile, enc.encode(OCI_LAYOUT_CONTENT), { tmpDir: this.#tmpDir });
    await syncDir(this.root);
  }

  /** The repository `name` (see the module doc). */
  repository(name: string): OciLayoutTarget {
    return new LayoutTarget(name, name === "" ? this.location : `${this.location}:${name}`, {
      backend: this.#backend,
      hasBlob: (desc) => this.#hasBlob(desc),
      pushBlob: (desc, content) => this.#pushBlob(desc, content),
      setRef: (desc, refName) => this.#setRef(desc, refName),
      untag: (refName) => this.untag(refName),
      referrers: (subject) => referrersInLayout(this.#backend, subject, this.#subjects),
      addReferrers: (referrers) => this.#addEntries(referrers),
    });
  }

  /** Repository parts of the ref names (`localhost/app` for `localhost/app:1.0`), sorted. */
  async repositories(): Promise<string[]> {
    return repositoryNames(await this.#readIndex());
  }

  /** The subject `entry` (a manifest of the layout) names as an OCI 1.1 referrer, if any. */
  async subjectOf(entry: Descriptor): Promise<Digest | undefined> {
    return (await subjectInLayout(this.#backend, entry, this.#subjects))?.subject;
  }

  /** The entries of `index.json`, in file order. */
  async entries(): Promise<readonly Descriptor[]> {
    return (await this.#readIndex()).manifests;
  }

  /**
   * The staging directory (`.ferry/tmp`), created, for a caller that writes a blob before its
   * digest is known and then hands it to {@link publishBlob}. Take the write session first (any
   * write-side call, such as `exists`), so that `gc` leaves the staging file alone.
   */
  async stagingDir(): Promise<string> {
    await this.#root.ensureDir(this.#tmpDir);
    return this.#tmpDir;
  }

  /**
   * Makes `tmp`, a verified and fsynced file of {@link stagingDir}, the blob `digest` (removing it
   * when the blob is already there with `size` bytes).
   */
  async publishBlob(tmp: string, digest: Digest, size: number): Promise<void> {
    const path = this.#blobPath(digest);
    await this.#root.ensureDir(this.#blobDir);
    if (await this.#root.fileSize(path) === size) {
      await Deno.remove(tmp);
    } else {
      await Deno.rename(tmp, path);
      await syncDir(this.#blobDir);
    }
  }

  /** Every ref name in `index.json`, sorted. */
  async refNames(): Promise<string[]> {
    return refNames(await this.#readIndex());
  }

  /** Removes the entries named `refName`; true when there were any. */
  async untag(refName: string): Promise<boolean> {
    await this.#writeSession();
    let found = false;
    await this.#updateIndex((index) => {
      const next = withoutRef(index, refName);
      found = next.manifests.length !== index.manifests.length;
      return found ? next : undefined;
    });
    return found;
  }

  /**
   * Every blob stored in `blobs/sha256`, with its size: regular files named by a digest (a symlink
   * there, or a symlinked `blobs/`, holds nothing of the layout's).
   */
  async storedBlobs(): Promise<{ digest: Digest; size: number }[]> {
    const root = this.#root;
    const out: { digest: Digest; size: number }[] = [];
    for await (const entry of readDirIfAny(root, this.#blobDir)) {
      if (!entry.isFile || !/^[a-f0-9]{64}$/.test(entry.name)) continue;
      const digest: Digest = `sha256:${entry.name}`;
      out.push({ digest, size: (await Deno.lstat(this.#blobPath(digest))).size });
    }
    return out;
  }

  /**
   * Deletes every blob in `blobs/sha256` that no `index.json` entry reaches (through indexes,
   * manifests, configs and layers: see ./reachable.ts), the unnamed referrer entries whose
   * subject went, and stale staging files.
   *
   * @throws {FerryError} `conflict` while another instance (in this or another process) holds the
   * layout open for writing.
   */
  async gc(): Promise<GcResult> {
    if (this.#closed) throw new FerryError("usage", `${this.location}: store is closed`);
    await this.#releaseSession();
    const root = this.#root;
    await root.ensureDir(this.#ferryDir);
    const lock = await root.openOrCreate(`${this.#ferryDir}/lock`);
    try {
      if (!(await lock.tryLock(true))) {
        throw new FerryError(
          "conflict",
          `${this.root}: another ferry process is writing to this layout; retry when it is done`,
        );
      }
      const index = await this.#readIndex();
      const { keep, orphans } = await layoutMarks(index.manifests, async (digest) => {
        // Absent, no regular file, a symlink or too large: not a manifest to mark from.
        return await root.readSmallFile(this.#blobPath(digest), MAX_MANIFEST_SIZE)
          .catch(() => undefined);
      });
      if (orphans.size > 0) {
        // Referrers of images no longer here go with them: their entries first, then their blobs.
        await this.#updateIndex((current) => ({
          extra: current.extra,
          manifests: current.manifests.filter((m) =>
            refNameOfEntry(m) !== undefined || !orphans.has(m.digest)
          ),
        }));
      }
      const result: GcResult = { removed: [], freedBytes: 0 };
      // Regular files only, one by one: a symlink in blobs/ (or a symlinked blobs/) is left alone.
      for (const { digest, size } of await this.storedBlobs()) {
        if (keep.has(digest)) continue;
        result.freedBytes += size;
        await Deno.remove(this.#blobPath(digest));
        result.removed.push(digest);
      }
      // No writer holds the layout now, so every staging file is left over from a crash. Only
      // regular files named as ferry names them go; nothing is removed recursively.
      // A symlinked `.ferry/tmp` is not ferry's to clean: left alone.
      const tmpEntries = await root.checkDir(this.#tmpDir).then(
        () => readDirIfAny(root, this.#tmpDir),
        (err) => {
          if (isFerryError(err, "invalid_input")) return [];
          throw err;
        },
      );
      for await (const entry of tmpEntries) {
        if (!entry.isFile || !STAGING_NAME_RE.test(entry.name)) continue;
        const path = `${this.#tmpDir}/${entry.name}`;
        const info = await Deno.lstat(path).catch(() => undefined);
        if (!info?.isFile) continue;
        result.freedBytes += info.size;
        await Deno.remove(path).catch(() => {});
      }
      if (result.removed.length > 0) await syncDir(this.#blobDir);
      result.removed.sort();
      return result;
    } finally {
      lock.close();
    }
  }

  /** Releases the write-session lock. Reads still work afterwards; writes are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#releaseSession();
  }

  /** Whether the blob is present with the descriptor's size. */
  async #hasBlob(desc: Descriptor): Promise<boolean> {
    await this.#writeSession();
    return (await this.#root.fileSize(this.#blobPath(desc.digest))) === desc.size;
  }

  async #pushBlob(desc: Descriptor, content: ContentSource): Promise<void> {
    const digest = parseDigest(desc.digest, this.location);
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
      throw new FerryError("invalid_input", `${this.location}: invalid size for ${digest}`);
    }
    if (await this.#hasBlob(desc)) return;
    await this.#flight.do(digest, async () => {
      await this.#root.ensureDir(this.#tmpDir);
      await this.#root.ensureDir(this.#blobDir);
      await writeBlobFile(
        {
          root: this.#root,
          path: this.#blobPath(digest),
          dir: this.#blobDir,
          staging: `${this.#tmpDir}/${digestHex(digest)}.partial`,
        },
        { digest, size: desc.size },
        content,
        `${this.location}@${digest}`,
      );
    });
  }

  async #setRef(desc: Descriptor, refName: string): Promise<void> {
    parseDigest(desc.digest, this.location);
    if (!(await this.#hasBlob(desc))) {
      throw new FerryError(
        "not_found",
        `${this.location}: cannot tag ${refName}: manifest ${desc.digest} is not in the layout`,
      );
    }
    await this.#updateIndex((index) => withRef(index, desc, refName));
  }

  /**
   * Lists manifests already in the layout in `index.json` without a name (how a layout keeps
   * OCI 1.1 referrers), unless an entry already lists them.
   */
  async #addEntries(manifests: Descriptor[]): Promise<void> {
    for (const m of manifests) {
      if (!(await this.#hasBlob(m))) {
        throw new FerryError(
          "not_found",
          `${this.location}: cannot list manifest ${m.digest}: it is not in the layout`,
        );
      }
    }
    await this.#updateIndex((index) => {
      const listed = new Set(index.manifests.map((e) => e.digest));
      const added = manifests.filter((m) => !listed.has(m.digest));
      if (added.length === 0) return undefined;
      return {
        extra: index.extra,
        manifests: [...index.manifests, ...added.map((m) => indexEntry(m))],
      };
    });
  }

  async #readIndex(): Promise<LayoutIndex> {
    const path = `${this.root}/index.json`;
    const bytes = await this.#readSmall(path, MAX_INDEX_FILE_SIZE);
    return bytes === undefined ? EMPTY_INDEX : parseLayoutIndex(bytes, path);
  }

  /**
   * A small file of the layout, read whole within `limit`; undefined when absent. A layout off a
   * USB stick may hold anything under these names: a FIFO (whose open would wait forever for a
   * writer), a directory or a device is refused, and a huge file is refused before it is read.
   */
  async #readSmall(path: string, limit: number): Promise<Uint8Array | undefined> {
    const bytes = await this.#root.readSmallFile(path, limit);
    if (bytes !== undefined) return bytes;
    const info = await Deno.lstat(path).catch(() => undefined);
    if (info !== undefined && !info.isFile) {
      throw new FerryError("invalid_input", `${path}: not a regular file`);
    }
    return undefined;
  }

  /**
   * Applies `edit` to `index.json` under the index lock (in-process queue + file lock) and
   * replaces the file atomically; `edit` returning undefined means "no change".
   */
  #updateIndex(edit: (index: LayoutIndex) => LayoutIndex | undefined): Promise<void> {
    const run = async () => {
      if (this.#closed) throw new FerryError("usage", `${this.location}: store is closed`);
      await this.#root.ensureDir(this.#tmpDir);
      const lock = await this.#root.openOrCreate(`${this.#ferryDir}/index.lock`);
      try {
        await lock.lock(true);
        const next = edit(await this.#readIndex());
        if (next) {
          await writeFileAtomic(
            `${this.root}/index.json`,
            serializeLayoutIndex(next),
            { tmpDir: this.#tmpDir },
          );
        }
      } finally {
        lock.close();
      }
    };
    const result = this.#indexQueue.then(run, run);
    this.#indexQueue = result.catch(() => {});
    return result;
  }

  /** Takes the shared write-session lock once per instance (skipped on read-only media). */
  #writeSession(): Promise<Deno.FsFile | undefined> {
    if (this.#closed) {
      return Promise.reject(new FerryError("usage", `${this.location}: store is closed`));
    }
    this.#session ??= (async () => {
      let file: Deno.FsFile;
      try {
        await this.#root.ensureDir(this.#ferryDir);
        file = await this.#root.openOrCreate(`${this.#ferryDir}/lock`);
      } catch (err) {
        if (err instanceof Deno.errors.PermissionDenied || isReadOnlyError(err)) return undefined;
        throw err;
      }
      await file.lock(false);
      return file;
    })();
    return this.#session;
  }

  async #releaseSession(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    const file = await session?.catch(() => undefined);
    file?.close();
  }

  #blobPath(digest: Digest): string {
    return `${this.#blobDir}/${digestHex(parseDigest(digest, this.location))}`;
  }

  async #openBlob(
    digest: Digest,
    offset: number,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> {
    const path = this.#blobPath(digest);
    const size = await this.#root.fileSize(path);
    if (size === undefined) {
      throw new FerryError("not_found", `${this.location}: blob ${digest} not found`);
    }
    if (offset < 0 || offset > size) {
      throw new FerryError(
        "invalid_input",
        `${this.location}@${digest}: offset ${offset} out of range`,
      );
    }
    return await openFileRange(path, offset, size - offset, { signal, where: path });
  }
}

/** What a {@link LayoutTarget} may do to its layout. */
interface LayoutOps {
  backend: LayoutBackend;
  hasBlob(desc: Descriptor): Promise<boolean>;
  pushBlob(desc: Descriptor, content: ContentSource): Promise<void>;
  setRef(desc: Descriptor, refName: string): Promise<void>;
  untag(refName: string): Promise<boolean>;
  referrers(subject: Descriptor): Promise<Descriptor[]>;
  addReferrers(referrers: Descriptor[]): Promise<void>;
}

/** A repository view of an {@link OciLayout}. */
class LayoutTarget implements OciLayoutTarget {
  readonly name: string;
  readonly location: string;
  /** On local disk. */
  readonly local = true;
  #ops: LayoutOps;

  constructor(name: string, location: string, ops: LayoutOps) {
    this.name = name;
    this.location = location;
    this.#ops = ops;
  }

  resolve(reference: string): Promise<Descriptor> {
    return resolveInLayout(this.#ops.backend, this.name, reference);
  }

  fetch(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return this.#ops.backend.openBlob(desc.digest, options.offset ?? 0, options.signal);
  }

  exists(desc: Descriptor): Promise<boolean> {
    return this.#ops.hasBlob(desc);
  }

  push(desc: Descriptor, content: ContentSource): Promise<void> {
    return this.#ops.pushBlob(desc, content);
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    await this.#ops.setRef(desc, refNameOf(this.name, tag, this.location));
  }

  async untag(tag: string): Promise<boolean> {
    return await this.#ops.untag(refNameOf(this.name, tag, this.location));
  }

  tags(): Promise<string[]> {
    return tagsInLayout(this.#ops.backend, this.name);
  }

  /** The manifests `index.json` lists whose subject is `subject`. */
  referrers(subject: Descriptor): Promise<Descriptor[]> {
    return this.#ops.referrers(subject);
  }

  /** Lists `referrers` in `index.json`, unnamed (where {@link referrers} finds them). */
  async addReferrers(_subject: Descriptor, referrers: Descriptor[]): Promise<boolean> {
    await this.#ops.addReferrers(referrers);
    return true;
  }
}

/** Staging files ferry writes in `.ferry/tmp` (blob partials; temp files of writers and builds). */
const STAGING_NAME_RE =
  /^([a-f0-9]{64}\.partial|[a-z]+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The entries of `dir`, a directory of the store checked to be reached through no symlink. */
async function* readDirIfAny(root: StoreRoot, dir: string): AsyncIterable<Deno.DirEntry> {
  try {
    if (!await root.checkDir(dir)) return;
    yield* Deno.readDir(dir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

function isReadOnlyError(err: unknown): boolean {
  return err instanceof Error && /read-only file system|EROFS/i.test(err.message);
}
