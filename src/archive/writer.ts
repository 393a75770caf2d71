/**
 * Writes `oci-archive` and `docker-archive` tar files as a ferry {@link Store}, streaming each blob
 * into the tar as it is pushed.
 *
 * Both formats share one layout, the one `docker save` writes since Docker 25: every blob at
 * `blobs/sha256/<hex>`, plus `oci-layout` and `index.json`. A docker-archive adds `manifest.json`
 * (`[{Config, RepoTags, Layers}]` with `blobs/sha256/<hex>` paths), so the same file is also an
 * OCI layout. Layers are stored as pushed (usually gzip): `docker load` and
 * `skopeo copy docker-archive:` decompress them.
 *
 * How writing works:
 *
 * - the output is written to `<file>.partial` (locked against a second writer) and renamed to
 *   `<file>` by `close()`; `abort()` deletes it;
 * - a blob's tar header needs its size first: the descriptor gives it, so the data streams straight
 *   through, hashed on the way; a digest or size mismatch truncates the file back to where the
 *   entry started, so a failed push leaves the archive as it was;
 * - only one entry can be written at a time: a push arriving while another streams is staged in a
 *   temp file next to the output (verified there) and appended when the tar is free, so parallel
 *   downloads stay parallel;
 * - blobs are written once (by digest); manifests are also kept in memory (≤ 4 MiB each) to build
 *   `index.json` and `manifest.json`.
 *
 * Names follow the OCI layout store (see ../oci_layout/ref_name.ts): `repository("")` tags are ref
 * names (`localhost/app:1.0`), `repository("localhost/app")` maps tag `1.0` to the same. A
 * docker-archive needs `name:tag` ref names (they become `RepoTags`).
 *
 * @module
 */
import { dirname } from "../path.ts";
import { type Digest, digestHex, parseDigest, verifyStream } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { SingleFlight } from "../limit.ts";
import { type Descriptor, type ImageManifest, type Manifest, parseManifest } from "../manifest.ts";
import {
  DOCKER_CONFIG,
  isIndexType,
  isManifestType,
  MAX_MANIFEST_SIZE,
  OCI_CONFIG,
} from "../media_types.ts";
import {
  bytesSource,
  type ContentSource,
  type FetchOptions,
  type Store,
  type Target,
} from "../store.ts";
import { readAll } from "../streams.ts";
import { openFileRange, syncDir, writeAll } from "../fs_util.ts";
import {
  EMPTY_INDEX,
  findRef,
  indexEntry,
  type LayoutIndex,
  OCI_LAYOUT_CONTENT,
  serializeLayoutIndex,
  withRef,
} from "../oci_layout/index_file.ts";
import {
  REF_NAME_ANNOTATION,
  refNameOf,
  repositoryOfRefName,
  tagOfRefName,
} from "../oci_layout/ref_name.ts";
import { copyVerified } from "../oci_layout/verified_copy.ts";
import { DELTA_ANNOTATION, DELTA_FILE, serializeDeltaRecord } from "./delta.ts";
import { encodeHeader, endOfArchive, padding, TYPE } from "../tar/mod.ts";

/** The archive formats ferry writes. */
export type ArchiveFormat = "oci-archive" | "docker-archive";

/** Options for {@link ArchiveWriter.create}. */
export interface ArchiveWriterOptions {
  /** Which format to write. */
  format: ArchiveFormat;
  /**
   * Stage pushes that arrive while another blob is being written in temp files, so they download
   * in parallel (default true). With false, pushes wait for the tar and stream straight in.
   */
  spool?: boolean;
  /** Modification time of every entry, seconds since the epoch (default 0: reproducible). */
  mtime?: number;
  /**
   * Blobs the reader already holds (`ferry save --base`): they are not written, the archive
   * lists them in `ferry-delta.json` instead (see ./delta.ts). Manifests are always written.
   * oci-archive only.
   */
  omit?: ReadonlySet<Digest>;
}

/** A blob written to the tar. */
interface WrittenBlob {
  desc: Descriptor;
  /** Offset of the data in the output file. */
  offset: number;
}

/** A manifest pushed to the archive (also written as a blob). */
interface PushedManifest {
  desc: Descriptor;
  bytes: Uint8Array;
  parsed: Manifest;
}

/** Entry paths of the layout inside the archive. */
function blobEntry(digest: Digest): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

/** Writes an oci-archive or docker-archive file. */
export class ArchiveWriter implements Store {
  /** The output file. */
  readonly path: string;
  /** The format written. */
  readonly format: ArchiveFormat;
  /** `<format>:<path>`. */
  readonly location: string;
  #partial: string;
  #file: Deno.FsFile;
  #end = 0;
  #mtime: number;
  #spool: boolean;
  #spoolDir?: Promise<string>;
  #blobs = new Map<Digest, WrittenBlob>();
  #manifests = new Map<Digest, PushedManifest>();
  #omit: ReadonlySet<Digest>;
  /** Blobs left out because the reader holds them, by digest. */
  #omitted = new Map<Digest, Descriptor>();
  #index: LayoutIndex = EMPTY_INDEX;
  #flight = new SingleFlight<void>();
  #tail: Promise<unknown> = Promise.resolve();
  #tailUsers = 0;
  #state: "open" | "closing" | "closed" | "aborted" = "open";
  /** Set once the trailer is written: no entry may follow. */
  #sealed = false;

  private constructor(path: string, file: Deno.FsFile, options: ArchiveWriterOptions) {
    this.path = path;
    this.format = options.format;
    this.location = `${options.format}:${path}`;
    this.#partial = `${path}.partial`;
    this.#file = file;
    // Whole seconds, none before the epoch: the ustar field, no PAX record.
    this.#mtime = Math.max(0, Math.floor(options.mtime ?? 0));
    this.#spool = options.spool ?? true;
    this.#omit = options.omit ?? new Set();
  }

  /**
   * Starts writing `path` (as `<path>.partial` until {@link close}).
   *
   * @throws {FerryError} `conflict` when another writer is writing the same file.
   */
  static async create(path: string, options: ArchiveWriterOptions): Promise<ArchiveWriter> {
    if (options.omit && options.format !== "oci-archive") {
      // docker load and skopeo would read manifest.json's missing layers as damage.
      throw new FerryError("usage", `${path}: a differential archive (--base) is an oci-archive`);
    }
    const partial = `${path}.partial`;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(partial, { read: true, write: true, create: true, mode: 0o644 });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
        throw new FerryError("io", `${path}: cannot create the archive (${err.message})`, {
          cause: err,
        });
      }
      throw err;
    }
    try {
      if (!(await file.tryLock(true))) {
        throw new FerryError(
          "conflict",
          `${partial}: another ferry process is writing this archive`,
        );
      }
      await file.truncate(0);
      const writer = new ArchiveWriter(path, file, options);
      await writer.#append(
        encodeHeader({ name: "blobs/", typeflag: TYPE.dir, mtime: writer.#mtime }),
      );
      await writer.#append(
        encodeHeader({ name: "blobs/sha256/", typeflag: TYPE.dir, mtime: writer.#mtime }),
      );
      return writer;
    } catch (err) {
      file.close();
      await Deno.remove(partial).catch(() => {});
      throw err;
    }
  }

  /** The repository `name` (see the module doc). */
  repository(name: string): Target {
    return new WriterTarget(name, name === "" ? this.location : `${this.location}:${name}`, {
      resolve: (repository, reference) => this.#resolve(repository, reference),
      tags: (repository) => this.#tags(repository),
      fetch: (desc, options) => this.#fetch(desc, options),
      has: (desc) => this.#has(desc),
      push: (desc, content) => this.#push(desc, content),
      setRef: (desc, refName) => this.#setRef(desc, refName),
    });
  }

  /** The blobs left out so far because the reader holds them (see {@link ArchiveWriterOptions.omit}). */
  omitted(): Descriptor[] {
    return [...this.#omitted.values()];
  }

  /** Repository parts of the ref names tagged so far, sorted. */
  repositories(): Promise<string[]> {
    const names = new Set<string>();
    for (const ref of this.#refNames()) {
      const repo = repositoryOfRefName(ref);
      if (repo !== undefined) names.add(repo);
    }
    return Promise.resolve([...names].sort());
  }

  /**
   * Finishes the archive: appends `oci-layout`, `index.json` (and `manifest.json` for a
   * docker-archive), the end marker, fsyncs and renames `<path>.partial` to `<path>`. Call it
   * after every push and tag has settled.
   */
  async close(): Promise<void> {
    if (this.#state !== "open") return;
    // From here on pushes are refused, so nothing can land after the end marker.
    this.#state = "closing";
    try {
      await this.#withTail(async () => {
        this.#sealed = true;
        const enc = new TextEncoder();
        const files: [string, Uint8Array][] = [
          ["oci-layout", enc.encode(OCI_LAYOUT_CONTENT)],
          ["index.json", serializeLayoutIndex(this.#finalIndex())],
        ];
        if (this.#omitted.size > 0) {
          files.push([DELTA_FILE, serializeDeltaRecord(this.#omitted.values())]);
        }
        if (this.format === "docker-archive") {
          files.push(["manifest.json", enc.encode(JSON.stringify(this.#dockerManifest()))]);
        }
        for (const [name, bytes] of files) {
          await this.#append(encodeHeader({ name, size: bytes.byteLength, mtime: this.#mtime }));
          await this.#append(bytes);
          await this.#append(new Uint8Array(padding(bytes.byteLength)));
        }
        await this.#append(endOfArchive());
        await this.#file.truncate(this.#end);
        await this.#file.sync();
      });
      this.#state = "closed";
      this.#file.close();
      await Deno.rename(this.#partial, this.path);
      await syncDir(dirname(this.path));
    } catch (err) {
      await this.abort();
      throw err;
    } finally {
      await this.#removeSpool();
    }
  }

  /** Gives up: deletes the partial output and temp files. */
  async abort(): Promise<void> {
    if (this.#state === "open" || this.#state === "closing") {
      this.#state = "aborted";
      try {
        this.#file.close();
      } catch {
        // already closed
      }
      await Deno.remove(this.#partial).catch(() => {});
    }
    await this.#removeSpool();
  }

  #resolve(repository: string, reference: string): Descriptor {
    if (/^sha256:/.test(reference)) {
      const m = this.#manifests.get(parseDigest(reference, this.location));
      if (m) return m.desc;
      throw new FerryError("not_found", `${this.location}: no manifest ${reference}`);
    }
    const refName = refNameOf(repository, reference, this.location);
    const entry = findRef(this.#index, refName);
    if (!entry) throw new FerryError("not_found", `${this.location}: no image named ${refName}`);
    return entry;
  }

  #tags(repository: string): string[] {
    const tags: string[] = [];
    for (const ref of this.#refNames()) {
      const tag = tagOfRefName(repository, ref);
      if (tag !== undefined) tags.push(tag);
    }
    return tags.sort();
  }

  /**
   * Whether the archive holds `desc`, or will not need to: a blob (never a manifest) the reader
   * holds counts as present, and is noted as omitted, so the copy engine does not push it.
   */
  #has(desc: Descriptor): boolean {
    if (this.#blobs.has(desc.digest)) return true;
    if (!this.#omit.has(desc.digest) || isManifestType(desc.mediaType)) return false;
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) return false;
    this.#omitted.set(desc.digest, desc);
    return true;
  }

  async #fetch(desc: Descriptor, options: FetchOptions): Promise<ReadableStream<Uint8Array>> {
    const blob = this.#blobs.get(desc.digest);
    if (!blob || this.#state !== "open") {
      throw new FerryError("not_found", `${this.location}: blob ${desc.digest} not written`);
    }
    const offset = options.offset ?? 0;
    return await openFileRange(this.#partial, blob.offset + offset, blob.desc.size - offset, {
      signal: options.signal,
      where: `${this.location}@${desc.digest}`,
    });
  }

  async #push(desc: Descriptor, content: ContentSource): Promise<void> {
    this.#checkOpen();
    const digest = parseDigest(desc.digest, this.location);
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
      throw new FerryError("invalid_input", `${this.location}: invalid size for ${digest}`);
    }
    if (this.#blobs.has(digest)) return;
    await this.#flight.do(digest, async () => {
      if (this.#blobs.has(digest)) return;
      const where = `${this.location}@${digest}`;
      const expected = { digest, size: desc.size };
      if (isManifestType(desc.mediaType)) {
        const bytes = await readAll(
          verifyStream(await content(0), expected, where),
          MAX_MANIFEST_SIZE,
          where,
        );
        const parsed = parseManifest(bytes, desc.mediaType, where);
        this.#checkFormat(desc, parsed);
        await this.#withTail(() => this.#appendBlob(desc, bytesSource(bytes)));
        this.#manifests.set(digest, { desc: indexEntry(desc), bytes, parsed });
      } else if (this.#spool && this.#tailUsers > 0) {
        await this.#pushSpooled(desc, content);
      } else {
        await this.#withTail(() => this.#appendBlob(desc, content));
      }
    });
  }

  #setRef(desc: Descriptor, refName: string): void {
    this.#checkOpen();
    if (!this.#manifests.has(desc.digest)) {
      throw new FerryError(
        "not_found",
        `${this.location}: cannot tag ${refName}: manifest ${desc.digest} was not pushed`,
      );
    }
    if (this.format === "docker-archive" && repositoryOfRefName(refName) === undefined) {
      throw new FerryError(
        "invalid_reference",
        `${this.location}: docker-archive tags need the form name:tag, got ${
          JSON.stringify(refName)
        }`,
      );
    }
    this.#index = withRef(this.#index, this.#manifests.get(desc.digest)!.desc, refName);
  }

  #checkOpen(): void {
    if (this.#state !== "open") {
      throw new FerryError("usage", `${this.location}: archive is already ${this.#state}`);
    }
  }

  /** A docker-archive holds single images only; say so before any bytes of an index land. */
  #checkFormat(desc: Descriptor, manifest: Manifest): void {
    if (this.format !== "docker-archive") return;
    if (manifest.kind === "index" || isIndexType(desc.mediaType)) {
      throw new FerryError(
        "unsupported",
        `${this.location}: a docker-archive holds single-platform images, but ${desc.digest} is a multi-platform index; pick one with --platform`,
      );
    }
    const type = manifest.config.mediaType;
    if (type !== OCI_CONFIG && type !== DOCKER_CONFIG) {
      throw new FerryError(
        "unsupported",
        `${this.location}: a docker-archive holds container images, but ${desc.digest} is an artifact (config type ${type})`,
      );
    }
    const bad = manifest.layers.find((l) => !/tar/.test(l.mediaType));
    if (bad) {
      throw new FerryError(
        "unsupported",
        `${this.location}: a docker-archive holds container images, but ${desc.digest} has a non-tar layer (${bad.mediaType})`,
      );
    }
  }

  /** Runs `fn` with exclusive use of the end of the tar. */
  #withTail<T>(fn: () => Promise<T>): Promise<T> {
    this.#tailUsers++;
    const run = async () => {
      try {
        return await fn();
      } finally {
        this.#tailUsers--;
      }
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Appends bytes at the end of the tar. Caller holds the tail. */
  async #append(bytes: Uint8Array): Promise<void> {
    await this.#file.seek(this.#end, Deno.SeekMode.Start);
    await writeAll(this.#file, bytes);
    this.#end += bytes.byteLength;
  }

  /**
   * Appends one blob entry, verifying as it streams; on any failure the file is cut back to where
   * the entry began. Caller holds the tail.
   */
  async #appendBlob(desc: Descriptor, content: ContentSource): Promise<void> {
    if (this.#sealed || this.#state === "aborted" || this.#state === "closed") {
      throw new FerryError("usage", `${this.location}: push after the archive was finished`);
    }
    const start = this.#end;
    const where = `${this.location}@${desc.digest}`;
    try {
      await this.#append(
        encodeHeader({ name: blobEntry(desc.digest), size: desc.size, mtime: this.#mtime }),
      );
      const dataAt = this.#end;
      await copyVerified(
        content,
        { digest: desc.digest, size: desc.size },
        where,
        (chunk) => this.#append(chunk),
      );
      await this.#append(new Uint8Array(padding(desc.size)));
      this.#blobs.set(desc.digest, { desc, offset: dataAt });
    } catch (err) {
      this.#end = start;
      try {
        await this.#file.truncate(start);
      } catch (cut) {
        // The archive now holds a partial entry we cannot remove: it is unusable.
        await this.abort();
        throw new FerryError("io", `${this.#partial}: cannot undo a failed entry`, { cause: cut });
      }
      throw err;
    }
  }

  /** Stages a blob in a temp file (verified), then appends it when the tar is free. */
  async #pushSpooled(desc: Descriptor, content: ContentSource): Promise<void> {
    this.#spoolDir ??= Deno.makeTempDir({ dir: dirname(this.path), prefix: ".ferry-spool-" });
    const dir = await this.#spoolDir;
    const path = `${dir}/${digestHex(desc.digest)}`;
    const file = await Deno.open(path, { read: true, write: true, createNew: true });
    try {
      await copyVerified(
        content,
        { digest: desc.digest, size: desc.size },
        `${this.location}@${desc.digest}`,
        (chunk) => writeAll(file, chunk),
      );
      // Already verified: the copy into the tar re-hashes (cheap) only to guard the disk read.
      await this.#withTail(() =>
        this.#appendBlob(desc, async (offset) => {
          return await openFileRange(path, offset, desc.size - offset, { where: path });
        })
      );
    } finally {
      file.close();
      await Deno.remove(path).catch(() => {});
    }
  }

  async #removeSpool(): Promise<void> {
    const dir = await this.#spoolDir?.catch(() => undefined);
    this.#spoolDir = undefined;
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  #refNames(): string[] {
    const names = new Set<string>();
    for (const m of this.#index.manifests) {
      const name = m.annotations?.[REF_NAME_ANNOTATION];
      if (name !== undefined) names.add(name);
    }
    return [...names];
  }

  /** Digests of manifests that some pushed index lists. */
  #children(): Set<Digest> {
    const children = new Set<Digest>();
    for (const m of this.#manifests.values()) {
      if (m.parsed.kind === "index") { for (const c of m.parsed.manifests) children.add(c.digest); }
    }
    return children;
  }

  /**
   * `index.json`: the tagged entries, plus every pushed manifest that is neither tagged nor a child
   * of a pushed index (so nothing pushed is left unreachable).
   */
  #finalIndex(): LayoutIndex {
    const listed = new Set(this.#index.manifests.map((m) => m.digest));
    const children = this.#children();
    const roots = [...this.#manifests.values()]
      .filter((m) => !listed.has(m.desc.digest) && !children.has(m.desc.digest))
      .map((m) => m.desc);
    const extra = this.#omitted.size > 0
      ? { annotations: { [DELTA_ANNOTATION]: String(this.#omitted.size) } }
      : {};
    return { extra, manifests: [...this.#index.manifests, ...roots] };
  }

  /** `manifest.json` of a docker-archive: one entry per image manifest in `index.json`. */
  #dockerManifest(): { Config: string; RepoTags: string[] | null; Layers: string[] }[] {
    const out: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
    const byDigest = new Map<Digest, string[]>();
    for (const entry of this.#finalIndex().manifests) {
      const names = byDigest.get(entry.digest) ?? [];
      const name = entry.annotations?.[REF_NAME_ANNOTATION];
      if (name !== undefined) names.push(name);
      byDigest.set(entry.digest, names);
    }
    for (const [digest, names] of byDigest) {
      const m = this.#manifests.get(digest)!.parsed as ImageManifest;
      if (m.subject && names.length === 0) continue; // an untagged referrer is no image to load
      out.push({
        Config: blobEntry(m.config.digest),
        RepoTags: names.length > 0 ? names : null,
        Layers: m.layers.map((l) => blobEntry(l.digest)),
      });
    }
    return out;
  }
}

/** What a {@link WriterTarget} may do to its writer. */
interface WriterOps {
  resolve(repository: string, reference: string): Descriptor;
  tags(repository: string): string[];
  fetch(desc: Descriptor, options: FetchOptions): Promise<ReadableStream<Uint8Array>>;
  has(desc: Descriptor): boolean;
  push(desc: Descriptor, content: ContentSource): Promise<void>;
  setRef(desc: Descriptor, refName: string): void;
}

/** A repository view of an {@link ArchiveWriter}. */
class WriterTarget implements Target {
  readonly name: string;
  readonly location: string;
  #ops: WriterOps;

  constructor(name: string, location: string, ops: WriterOps) {
    this.name = name;
    this.location = location;
    this.#ops = ops;
  }

  async resolve(reference: string): Promise<Descriptor> {
    return await Promise.resolve(this.#ops.resolve(this.name, reference));
  }

  fetch(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return this.#ops.fetch(desc, options);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return await Promise.resolve(this.#ops.has(desc));
  }

  push(desc: Descriptor, content: ContentSource): Promise<void> {
    return this.#ops.push(desc, content);
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    await Promise.resolve(this.#ops.setRef(desc, refNameOf(this.name, tag, this.location)));
  }

  async tags(): Promise<string[]> {
    return await Promise.resolve(this.#ops.tags(this.name));
  }

  /**
   * Nothing to do: `index.json` lists every pushed manifest that nothing else names, which is
   * how an OCI layout keeps referrers (a docker-archive leaves untagged referrers out).
   */
  addReferrers(): Promise<boolean> {
    return Promise.resolve(true);
  }
}
