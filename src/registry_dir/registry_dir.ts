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
import { resolve as resolvePath } from "node:path";
import { type Digest, type Expected, parseDigest, sha256 } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { fileSize, isDirectory } from "../fs_util.ts";
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
import type { ContentSource, FetchOptions, Store, Target } from "../store.ts";
import { readAll } from "../streams.ts";
import { asFerryError, ensureDir, forgetDirs, listDirs, readLink, writeLink } from "./fs.ts";
import { checkRepositoryName, checkTag, isRepositoryName, isTag, Layout } from "./layout.ts";
import { stageBlob } from "./staging.ts";

/** Options for {@link RegistryDir.open}. */
export interface RegistryDirOptions {
  /** Refuse every write with `denied` (and create nothing on open). */
  readOnly?: boolean;
}

/** Temp files of other runs younger than this may still be in use and are left alone. */
const STALE_TEMP_MS = 10 * 60 * 1000;

/** What a repository needs from its directory (internal: not re-exported by `mod.ts`). */
export interface DirContext {
  readonly layout: Layout;
  readonly location: string;
  readonly readOnly: boolean;
  /** Makes the blob's data exist (downloading it once per process), verified. */
  ensureBlob(expected: Expected, source: ContentSource, where: string): Promise<void>;
  /** Creates `<name>/_uploads` once per repository. */
  ensureUploads(name: string): Promise<void>;
}

/** A registry directory in distribution's filesystem layout. */
export class RegistryDir implements Store {
  /** The registry root (docker-registry's `storage.filesystem.rootdirectory`), absolute. */
  readonly root: string;
  /** `registry-dir:<root>`. */
  readonly location: string;
  /** Whether writes are refused. */
  readonly readOnly: boolean;
  #layout: Layout;
  #flight = new SingleFlight<void>();
  #uploads = new Map<string, Promise<void>>();
  #context: DirContext;

  private constructor(root: string, readOnly: boolean) {
    this.root = root;
    this.location = `registry-dir:${root}`;
    this.readOnly = readOnly;
    this.#layout = new Layout(root);
    this.#context = {
      layout: this.#layout,
      location: this.location,
      readOnly,
      ensureBlob: (expected, source, where) => this.#ensureBlob(expected, source, where),
      ensureUploads: (name) => this.#ensureUploads(name),
    };
  }

  /**
   * Opens the registry directory at `root`, creating `docker/registry/v2/{blobs,repositories}`
   * unless read-only. A read-only open requires `root` to exist.
   */
  static async open(root: string, options: RegistryDirOptions = {}): Promise<RegistryDir> {
    const abs = resolvePath(root);
    const dir = new RegistryDir(abs, options.readOnly ?? false);
    const layout = new Layout(abs);
    try {
      if (dir.readOnly) {
        if (!await isDirectory(abs)) {
          throw new FerryError("not_found", `${dir.location}: no such directory`);
        }
      } else {
        await ensureDir(layout.blobs);
        await ensureDir(layout.repositories);
      }
    } catch (err) {
      throw asFerryError(err, dir.location);
    }
    return dir;
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
   * as a manifest).
   */
  async repositoriesHolding(entry: "_manifests" | "_uploads"): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const children = await listDirs(dir);
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
   * partials were resumable until now) and temp files of other runs older than ten minutes.
   * Pushes still running when this is called may fail.
   */
  async close(): Promise<void> {
    if (this.readOnly) return;
    const staging = this.#layout.staging;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(staging));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw asFerryError(err, staging);
    }
    for (const entry of entries) {
      const path = `${staging}/${entry.name}`;
      if (entry.isFile && entry.name.endsWith(".partial")) {
        await removeUnlocked(path);
      } else {
        const info = await Deno.lstat(path).catch(() => undefined);
        const age = Date.now() - (info?.mtime?.getTime() ?? 0);
        if (info && age > STALE_TEMP_MS) {
          await Deno.remove(path, { recursive: true }).catch(() => {});
        }
      }
    }
    // Non-recursive: stays when another run still has files in it.
    await Deno.remove(staging).catch(() => {});
    forgetDirs(staging);
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
      return await fileSize(path);
    } catch (err) {
      throw asFerryError(err, path);
    }
  }

  async #ensureBlob(expected: Expected, source: ContentSource, where: string): Promise<void> {
    const dataPath = this.#layout.blobData(expected.digest);
    if (await fileSize(dataPath) === undefined) {
      // One download per digest per process; a caller whose flight was someone else's failed
      // attempt tries once more with its own source.
      let ran = false;
      const run = () => {
        ran = true;
        return stageBlob({ layout: this.#layout, expected, source, where });
      };
      try {
        await this.#flight.do(expected.digest, run);
      } catch (err) {
        if (ran) throw err;
        await this.#flight.do(expected.digest, run);
      }
    }
    const size = await fileSize(dataPath);
    if (size !== expected.size) {
      throw new FerryError(
        "size_mismatch",
        `${where}: stored blob ${dataPath} has ${size ?? "no"} bytes, expected ${expected.size}`,
      );
    }
  }

  #ensureUploads(name: string): Promise<void> {
    let done = this.#uploads.get(name);
    if (!done) {
      done = ensureDir(this.#layout.uploads(name));
      done.catch(() => this.#uploads.delete(name));
      this.#uploads.set(name, done);
    }
    return done;
  }
}

/** Removes a partial unless another process (or another push here) holds its lock. */
async function removeUnlocked(path: string): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
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
  #ctx: DirContext;

  /** Use {@link RegistryDir.repository}. */
  constructor(context: DirContext, name: string) {
    this.#ctx = context;
    this.name = checkRepositoryName(name, context.location);
    this.location = `${context.location}/${name}`;
  }

  /** Resolves a tag or digest to the descriptor of the manifest it names. */
  async resolve(reference: string): Promise<Descriptor> {
    const layout = this.#ctx.layout;
    const byDigest = reference.includes(":");
    const where = `${this.location}${byDigest ? "@" : ":"}${reference}`;
    const unknown = () => new FerryError("not_found", `${where}: manifest unknown`);
    let digest: Digest | undefined;
    try {
      if (byDigest) {
        digest = parseDigest(reference, where);
        if (await readLink(layout.revisionLink(this.name, digest)) !== digest) throw unknown();
      } else {
        checkTag(reference, this.location);
        digest = await readLink(layout.tagCurrentLink(this.name, reference));
        if (digest === undefined) throw unknown();
      }
      const path = layout.blobData(digest);
      const size = await fileSize(path);
      if (size === undefined) {
        throw new FerryError("not_found", `${where}: manifest ${digest} has no data at ${path}`);
      }
      if (size > MAX_MANIFEST_SIZE) {
        throw new FerryError(
          "too_large",
          `${where}: manifest is larger than ${MAX_MANIFEST_SIZE} bytes`,
        );
      }
      const bytes = await readAll(
        (await Deno.open(path)).readable,
        MAX_MANIFEST_SIZE,
        path,
      );
      if (sha256(bytes) !== digest) {
        throw new FerryError("digest_mismatch", `${path}: content does not match ${digest}`);
      }
      return { mediaType: sniffMediaType(bytes, path), digest, size: bytes.byteLength };
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
      const file = await Deno.open(path);
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
        await fileSize(this.#ctx.layout.blobData(digest)) !== undefined;
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
      const layout = this.#ctx.layout;
      await this.#ctx.ensureBlob({ digest, size: desc.size }, content, where);
      await this.#ctx.ensureUploads(this.name);
      const link = manifest
        ? layout.revisionLink(this.name, digest)
        : layout.layerLink(this.name, digest);
      await writeLink(link, digest, layout.staging);
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /** Points `tag` at a manifest of this repository (its revision link must exist). */
  async tag(desc: Descriptor, tag: string): Promise<void> {
    const where = `${this.location}:${tag}`;
    this.#writable(where);
    checkTag(tag, this.location);
    try {
      const digest = parseDigest(desc.digest, where);
      const layout = this.#ctx.layout;
      if (await readLink(layout.revisionLink(this.name, digest)) !== digest) {
        throw new FerryError("not_found", `${where}: manifest ${digest} unknown to repository`);
      }
      // History first: a current link always has its index entry.
      await writeLink(layout.tagIndexLink(this.name, tag, digest), digest, layout.staging);
      await writeLink(layout.tagCurrentLink(this.name, tag), digest, layout.staging);
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /** Tags that point somewhere (hold `current/link`), sorted. */
  async tags(): Promise<string[]> {
    const layout = this.#ctx.layout;
    try {
      const out: string[] = [];
      for (const tag of await listDirs(layout.tagsDir(this.name))) {
        if (isTag(tag) && await fileSize(layout.tagCurrentLink(this.name, tag)) !== undefined) {
          out.push(tag);
        }
      }
      return out.sort();
    } catch (err) {
      throw asFerryError(err, this.location);
    }
  }

  /** Removes a tag (its whole directory, as distribution does); the manifest stays. */
  async deleteTag(tag: string): Promise<void> {
    const where = `${this.location}:${tag}`;
    this.#writable(where);
    checkTag(tag, this.location);
    const dir = this.#ctx.layout.tagDir(this.name, tag);
    try {
      if (!await isDirectory(dir)) throw new FerryError("not_found", `${where}: tag unknown`);
      await Deno.remove(dir, { recursive: true });
      forgetDirs(dir);
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
      return await fileSize(this.#ctx.layout.blobData(d));
    } catch (err) {
      throw asFerryError(err, where);
    }
  }

  /**
   * Whether this repository links `digest`: by revision link for manifest types, by layer link
   * otherwise; with `either`, any link will do (reading a manifest through the blob endpoint).
   */
  async #linked(digest: Digest, mediaType: string | undefined, either: boolean): Promise<boolean> {
    const layout = this.#ctx.layout;
    const revision = layout.revisionLink(this.name, digest);
    const layer = layout.layerLink(this.name, digest);
    const [first, second] = mediaType !== undefined && isManifestType(mediaType)
      ? [revision, layer]
      : [layer, revision];
    if (await readLink(first) === digest) return true;
    return either && await readLink(second) === digest;
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
