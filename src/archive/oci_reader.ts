/**
 * Reads an `oci-archive` (a tar of an OCI image layout, as `skopeo copy … oci-archive:` and
 * `ferry save` write) as a read-only ferry {@link Store}, without unpacking it: blobs are streamed
 * from their place in the tar.
 *
 * Names follow the OCI layout store (see ../oci_layout/ref_name.ts): `repository("")` tags are the
 * archive's ref names.
 *
 * @module
 */
import { type Digest, digestHex } from "../digest.ts";
import { FerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import { isReferrerTag } from "../reference.ts";
import { MAX_MANIFEST_SIZE } from "../media_types.ts";
import type { Store, Target } from "../store.ts";
import {
  checkLayoutFile,
  type LayoutIndex,
  parseLayoutIndex,
  refNameOfEntry,
  repositoryNames,
} from "../oci_layout/index_file.ts";
import {
  type LayoutBackend,
  referrersInLayout,
  resolveInLayout,
  type SubjectCache,
  subjectInLayout,
  tagsInLayout,
} from "../oci_layout/layout_view.ts";
import { DELTA_FILE, MAX_DELTA_RECORD, parseDeltaRecord } from "./delta.ts";
import { ReadOnlyTarget } from "./read_only_target.ts";
import { TarFile } from "./tar_file.ts";

/** One image of an archive and the names it carries. */
export interface ArchiveImage {
  /** The manifest (or index) descriptor. */
  descriptor: Descriptor;
  /** Its ref names (`localhost/app:1.0`, or as the archive spells them); empty when untagged. */
  names: string[];
}

/** A read-only oci-archive. */
export class OciArchiveReader implements Store {
  /** The archive file. */
  readonly path: string;
  /** `oci-archive:<path>`. */
  readonly location: string;
  #tar: TarFile;
  #index: LayoutIndex;
  #backend: LayoutBackend;
  #omitted: ReadonlyMap<Digest, Descriptor>;
  #subjects: SubjectCache = new Map();

  private constructor(
    path: string,
    tar: TarFile,
    index: LayoutIndex,
    omitted: ReadonlyMap<Digest, Descriptor>,
  ) {
    this.path = path;
    this.location = `oci-archive:${path}`;
    this.#tar = tar;
    this.#index = index;
    this.#omitted = omitted;
    this.#backend = {
      location: this.location,
      readIndex: () => Promise.resolve(this.#index),
      blobSize: (digest) => Promise.resolve(this.#blob(digest)?.size),
      openBlob: async (digest, offset, signal) => {
        const member = this.#blob(digest);
        if (!member && this.#omitted.has(digest)) {
          throw new FerryError(
            "not_found",
            `${this.location}: blob ${digest} is not in this differential archive (saved with --base): the destination must already hold it`,
          );
        }
        if (!member) throw new FerryError("not_found", `${this.location}: no blob ${digest}`);
        return await this.#tar.open(member, offset, signal);
      },
    };
  }

  /**
   * Opens the archive at `path` (plain or gzip-compressed tar).
   *
   * @throws {FerryError} `invalid_input` when it is not an OCI layout archive.
   */
  static async open(path: string): Promise<OciArchiveReader> {
    const tar = await TarFile.open(path);
    try {
      return await OciArchiveReader.fromTar(tar);
    } catch (err) {
      await tar.close();
      throw err;
    }
  }

  /** Reads the layout of an already scanned tar (which the reader then owns). */
  static async fromTar(tar: TarFile): Promise<OciArchiveReader> {
    const layout = tar.file("oci-layout");
    const indexMember = tar.file("index.json");
    if (!layout || !indexMember) {
      throw new FerryError(
        "invalid_input",
        `${tar.path}: not an oci-archive (no ${layout ? "index.json" : "oci-layout"} in the tar)`,
      );
    }
    checkLayoutFile(await tar.read(layout, 4096), tar.path);
    const index = parseLayoutIndex(await tar.read(indexMember, MAX_MANIFEST_SIZE), tar.path);
    const record = tar.file(DELTA_FILE);
    const omitted = record
      ? parseDeltaRecord(await tar.read(record, MAX_DELTA_RECORD), tar.path)
      : new Map<Digest, Descriptor>();
    return new OciArchiveReader(tar.path, tar, index, omitted);
  }

  /** The repository `name`. */
  repository(name: string): Target {
    return new ReadOnlyTarget(name, this.location, {
      resolve: (repository, reference) => resolveInLayout(this.#backend, repository, reference),
      tags: (repository) => tagsInLayout(this.#backend, repository),
      fetch: (desc, options) =>
        this.#backend.openBlob(desc.digest, options.offset ?? 0, options.signal),
      exists: (desc) => Promise.resolve(this.#blob(desc.digest)?.size === desc.size),
      referrers: (subject) => referrersInLayout(this.#backend, subject, this.#subjects),
    });
  }

  /** Repository parts of the ref names, sorted. */
  repositories(): Promise<string[]> {
    return Promise.resolve(repositoryNames(this.#index));
  }

  /**
   * The blobs a differential archive (`ferry save --base`) leaves out because the reader already
   * holds them; empty for a whole archive.
   */
  omitted(): ReadonlyMap<Digest, Descriptor> {
    return this.#omitted;
  }

  /** The blobs the tar holds (`blobs/sha256/<hex>` files), with their sizes. */
  blobs(): { digest: Digest; size: number }[] {
    const out: { digest: Digest; size: number }[] = [];
    for (const m of this.#tar.members()) {
      const match = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(m.name);
      if (!match) continue;
      const digest: Digest = `sha256:${match[1]}`;
      const file = this.#blob(digest);
      if (file) out.push({ digest, size: file.size });
    }
    return out;
  }

  /**
   * The entries of `index.json`, one per manifest, with their ref names; without what belongs to
   * images (entries named only by referrer tags, `sha256-<hex>.sig`…, and unnamed manifests with
   * a subject), which is copied with the image it belongs to.
   */
  async images(): Promise<ArchiveImage[]> {
    const byDigest = new Map<Digest, ArchiveImage>();
    for (const entry of this.#index.manifests) {
      const image = byDigest.get(entry.digest) ??
        { descriptor: withoutRefName(entry), names: [] };
      const name = refNameOfEntry(entry);
      if (name !== undefined && !image.names.includes(name)) image.names.push(name);
      byDigest.set(entry.digest, image);
    }
    const images: ArchiveImage[] = [];
    for (const image of byDigest.values()) {
      if (image.names.length > 0 && image.names.every(isReferrerTag)) continue;
      if (
        image.names.length === 0 &&
        await subjectInLayout(this.#backend, image.descriptor, this.#subjects)
      ) continue;
      images.push(image);
    }
    return images;
  }

  /** Every `blobs/sha256/<hex>` member of the archive, referenced or not, with its size. */
  storedBlobs(): { digest: Digest; size: number }[] {
    const out: { digest: Digest; size: number }[] = [];
    for (const member of this.#tar.members()) {
      const hex = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(member.name)?.[1];
      if (hex && member.type === "file") out.push({ digest: `sha256:${hex}`, size: member.size });
    }
    return out;
  }

  /** Removes temp files (a decompressed copy of a gzip archive). */
  async close(): Promise<void> {
    await this.#tar.close();
  }

  #blob(digest: Digest) {
    return this.#tar.file(`blobs/sha256/${digestHex(digest)}`);
  }
}

function withoutRefName(entry: Descriptor): Descriptor {
  const { annotations: _, ...rest } = entry;
  return rest;
}
