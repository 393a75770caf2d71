/**
 * A store that keeps everything in memory: what `ferry registry serve inmem` serves, and a
 * convenient destination in tests. Blobs are held once per digest, whatever the number of
 * repositories linking them; a repository sees only what it links, like a registry directory.
 *
 * Nothing is written to disk and nothing survives the process, so it suits small images and short
 * runs; pushing a 5 GB layer here needs 5 GB of memory.
 *
 * @module
 */
import { type Digest, parseDigest, verifyStream } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { type Descriptor, referrerOf } from "../manifest.ts";
import { isManifestType, MAX_MANIFEST_SIZE } from "../media_types.ts";
import { checkRepositoryName, checkTag } from "../registry_dir/mod.ts";
import type { ContentSource, FetchOptions, Store, Target } from "../store.ts";
import { readAll } from "../streams.ts";

/** What one repository links: manifests by digest (with their media type), blobs, tags (internal). */
export interface RepositoryState {
  manifests: Map<Digest, string>;
  blobs: Set<Digest>;
  tags: Map<string, Digest>;
}

/** What a repository needs from its store (internal: not re-exported by `mod.ts`). */
export interface MemoryContext {
  readonly location: string;
  /** The state of `name`, created when `create` is set. */
  state(name: string, create?: boolean): RepositoryState | undefined;
  /** The bytes of a held blob. */
  bytes(digest: Digest): Uint8Array | undefined;
  /** Stores verified bytes. */
  put(digest: Digest, bytes: Uint8Array): void;
  /** Frees a blob no repository links any more. */
  release(digest: Digest): void;
}

/** A set of repositories held in memory. */
export class MemoryStore implements Store {
  /** `memory:`. */
  readonly location = "memory:";
  #blobs = new Map<Digest, Uint8Array>();
  #repos = new Map<string, RepositoryState>();
  #context: MemoryContext = {
    location: this.location,
    state: (name, create) => {
      let s = this.#repos.get(name);
      if (!s && create) {
        s = { manifests: new Map(), blobs: new Set(), tags: new Map() };
        this.#repos.set(name, s);
      }
      return s;
    },
    bytes: (digest) => this.#blobs.get(digest),
    put: (digest, bytes) => {
      if (!this.#blobs.has(digest)) this.#blobs.set(digest, bytes);
    },
    release: (digest) => {
      for (const s of this.#repos.values()) {
        if (s.blobs.has(digest) || s.manifests.has(digest)) return;
      }
      this.#blobs.delete(digest);
    },
  };

  /** The repository `name` (validated; created on first push). */
  repository(name: string): MemoryRepository {
    checkRepositoryName(name, this.location);
    return new MemoryRepository(this.#context, name);
  }

  /** Names of the repositories holding at least one manifest, sorted. */
  repositories(): Promise<string[]> {
    const names = [...this.#repos].filter(([, s]) => s.manifests.size > 0).map(([n]) => n);
    return Promise.resolve(names.sort());
  }

  /** Drops everything. */
  close(): Promise<void> {
    this.#blobs.clear();
    this.#repos.clear();
    return Promise.resolve();
  }

  /** Whether the blob is held (by any repository). */
  hasBlob(digest: Digest): boolean {
    return this.#blobs.has(digest);
  }

  /** Bytes held in blobs, counting each digest once. */
  get byteSize(): number {
    let total = 0;
    for (const b of this.#blobs.values()) total += b.byteLength;
    return total;
  }
}

/** One repository of a {@link MemoryStore}. */
export class MemoryRepository implements Target {
  /** Repository name. */
  readonly name: string;
  /** `memory:<name>`. */
  readonly location: string;
  /** In memory. */
  readonly local = true;
  #store: MemoryContext;

  /** Use {@link MemoryStore.repository}. */
  constructor(context: MemoryContext, name: string) {
    this.#store = context;
    this.name = checkRepositoryName(name, context.location);
    this.location = `${context.location}${name}`;
  }

  /** Resolves a tag or digest to the descriptor of the manifest it names. */
  resolve(reference: string): Promise<Descriptor> {
    return settle(() => {
      const byDigest = reference.includes(":");
      const where = `${this.location}${byDigest ? "@" : ":"}${reference}`;
      const state = this.#store.state(this.name);
      const digest = byDigest
        ? parseDigest(reference, where)
        : state?.tags.get(checkTag(reference, this.location));
      const mediaType = digest && state?.manifests.get(digest);
      const bytes = digest && this.#store.bytes(digest);
      if (!digest || !mediaType || !bytes) {
        throw new FerryError("not_found", `${where}: manifest unknown`);
      }
      return { mediaType, digest, size: bytes.byteLength };
    });
  }

  /** Opens a blob or manifest this repository links, from `options.offset` on. */
  fetch(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return settle(() => {
      const where = `${this.location}@${desc.digest}`;
      const digest = parseDigest(desc.digest, where);
      const bytes = this.#linked(digest) ? this.#store.bytes(digest) : undefined;
      if (!bytes) throw new FerryError("not_found", `${where}: blob unknown to repository`);
      const offset = options.offset ?? 0;
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > bytes.byteLength) {
        throw new FerryError(
          "invalid_input",
          `${where}: offset ${offset} outside 0..${bytes.byteLength}`,
        );
      }
      return chunkedStream(bytes.subarray(offset), options.signal);
    });
  }

  /** Whether this repository links the content (manifest types by manifest link). */
  exists(desc: Descriptor): Promise<boolean> {
    return settle(() => {
      const digest = parseDigest(desc.digest, `${this.location}@${desc.digest}`);
      const state = this.#store.state(this.name);
      const linked = isManifestType(desc.mediaType)
        ? state?.manifests.has(digest)
        : state?.blobs.has(digest);
      return !!linked && this.#store.bytes(digest) !== undefined;
    });
  }

  /**
   * Stores content (verified against `desc`) and links it into this repository. Content already
   * held is only linked, without calling `content`.
   */
  async push(desc: Descriptor, content: ContentSource): Promise<void> {
    const where = `${this.location}@${desc.digest}`;
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
    const held = this.#store.bytes(digest);
    if (held === undefined) {
      const stream = verifyStream(await content(0), { digest, size: desc.size }, where);
      this.#store.put(digest, await readAll(stream, desc.size, where));
    } else if (held.byteLength !== desc.size) {
      throw new FerryError(
        "size_mismatch",
        `${where}: stored blob has ${held.byteLength} bytes, expected ${desc.size}`,
      );
    }
    const state = this.#store.state(this.name, true)!;
    if (manifest) state.manifests.set(digest, desc.mediaType);
    else state.blobs.add(digest);
  }

  /** Points `tag` at a manifest of this repository. */
  tag(desc: Descriptor, tag: string): Promise<void> {
    return settle(() => {
      const where = `${this.location}:${tag}`;
      checkTag(tag, this.location);
      const digest = parseDigest(desc.digest, where);
      const state = this.#store.state(this.name);
      if (!state?.manifests.has(digest)) {
        throw new FerryError("not_found", `${where}: manifest ${digest} unknown to repository`);
      }
      state.tags.set(tag, digest);
    });
  }

  /** The tags of this repository, sorted. */
  tags(): Promise<string[]> {
    return Promise.resolve([...this.#store.state(this.name)?.tags.keys() ?? []].sort());
  }

  /** The manifests of this repository whose subject is `subject`, sorted by digest. */
  referrers(subject: Descriptor): Promise<Descriptor[]> {
    const found: Descriptor[] = [];
    for (const digest of this.manifests().sort()) {
      const bytes = this.#store.bytes(digest);
      const mediaType = this.#store.state(this.name)?.manifests.get(digest);
      if (!bytes || !mediaType) continue;
      const parsed = referrerOf({ digest, mediaType, bytes });
      if (parsed?.subject === subject.digest) found.push(parsed.descriptor);
    }
    return Promise.resolve(found);
  }

  /** Nothing to record: {@link referrers} reads every manifest's subject. */
  addReferrers(): Promise<boolean> {
    return Promise.resolve(true);
  }

  /** Size of a blob or manifest this repository links (either kind), or undefined. */
  blobSize(digest: Digest): number | undefined {
    return this.#linked(digest) ? this.#store.bytes(digest)?.byteLength : undefined;
  }

  /** Digests of the manifests this repository holds. */
  manifests(): Digest[] {
    return [...this.#store.state(this.name)?.manifests.keys() ?? []];
  }

  /** Removes a tag; false when there was none. */
  deleteTag(tag: string): boolean {
    checkTag(tag, this.location);
    return this.#store.state(this.name)?.tags.delete(tag) ?? false;
  }

  /**
   * Removes a manifest and the tags pointing at it (as distribution does); false when the
   * repository did not hold it.
   */
  deleteManifest(digest: Digest): boolean {
    const state = this.#store.state(this.name);
    if (!state?.manifests.delete(digest)) return false;
    for (const [tag, d] of state.tags) if (d === digest) state.tags.delete(tag);
    this.#store.release(digest);
    return true;
  }

  /** Unlinks a blob from this repository; false when it was not linked. */
  deleteBlob(digest: Digest): boolean {
    const state = this.#store.state(this.name);
    if (!state?.blobs.delete(digest)) return false;
    this.#store.release(digest);
    return true;
  }

  #linked(digest: Digest): boolean {
    const state = this.#store.state(this.name);
    return !!state && (state.blobs.has(digest) || state.manifests.has(digest));
  }
}

/**
 * Chunk size of streams over held bytes. Chunks are copies, so that whoever consumes the stream
 * may transfer or detach them without touching the stored bytes.
 */
const STREAM_CHUNK = 256 * 1024;

/** A stream over `bytes` in bounded chunks. */
function chunkedStream(bytes: Uint8Array, signal?: AbortSignal): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (signal?.aborted) return controller.error(signal.reason);
      if (at >= bytes.byteLength) return controller.close();
      const end = Math.min(bytes.byteLength, at + STREAM_CHUNK);
      controller.enqueue(bytes.slice(at, end));
      at = end;
    },
  });
}

/** Runs synchronous `fn`, turning its result or exception into a promise. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}
