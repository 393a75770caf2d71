/**
 * Reads a `docker-archive` (`docker save`, `skopeo copy … docker-archive:`, `ferry save --format
 * docker-archive`) as a read-only ferry {@link Store}.
 *
 * Both layouts are read: the classic one (`<id>/layer.tar`, `<hex>.json`, and skopeo's `<hex>.tar`
 * with symlinks) and Docker ≥ 25's (`blobs/sha256/<hex>` plus an OCI `index.json`). For each entry
 * of `manifest.json`:
 *
 * - when the archive is also an OCI layout holding a manifest with exactly this config and these
 *   layers, that manifest is served as is, so digests survive a save/load round trip;
 * - otherwise a Docker v2 schema 2 manifest is synthesised: config
 *   `application/vnd.docker.container.image.v1+json`, one layer per file with its digest and size,
 *   typed gzip or plain tar by sniffing the file (zstd layers get an OCI manifest instead, since
 *   Docker's media types have no zstd). Those bytes are the manifest blob `resolve`/`fetch` serve.
 *   With `synthesize: "oci"` an OCI manifest (OCI config and layer types) is made instead: skopeo
 *   1.9 and umoci ignore `index.json` entries with Docker media types, so images loaded into an OCI
 *   layout that those tools must read need OCI manifests.
 *
 * A layer's digest is taken from its `blobs/sha256/<hex>` name, or for an uncompressed layer from
 * the config's `rootfs.diff_ids` (the digest of an uncompressed layer is its diff ID); only
 * compressed layers of classic archives are hashed when the archive is opened. Whatever is served is
 * verified by the copy engine on its way to the destination.
 *
 * Names: `repository("")` tags are the `RepoTags` (`localhost/app:1.0`); `repository(n)` maps tag
 * `t` to `n:t`. `resolve("@N")` names the N-th image of `manifest.json` (as skopeo's
 * `docker-archive:file:@N`), tagged or not.
 *
 * @module
 */
import { type Digest, parseDigest, Sha256, sha256 } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { type Descriptor, parseManifest } from "../manifest.ts";
import {
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_MANIFEST,
  isImageManifestType,
  isIndexType,
  MAX_MANIFEST_SIZE,
  OCI_CONFIG,
  OCI_LAYER_GZIP,
  OCI_LAYER_TAR,
  OCI_LAYER_ZSTD,
  OCI_MANIFEST,
} from "../media_types.ts";
import { bytesSource, type Store, type Target } from "../store.ts";
import { parseLayoutIndex } from "../oci_layout/index_file.ts";
import { refNameOf, repositoryOfRefName, tagOfRefName } from "../oci_layout/ref_name.ts";
import type { ArchiveImage } from "./oci_reader.ts";
import { ReadOnlyTarget } from "./read_only_target.ts";
import { TarFile, type TarMember } from "./tar_file.ts";

/** Docker's media type for uncompressed layers (as containers/image names it). */
export const DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar";

/** Largest image config read. */
const MAX_CONFIG_SIZE = 16 * 1024 * 1024;

/** Where the bytes of a blob come from. */
type BlobSource = { kind: "member"; member: TarMember } | { kind: "bytes"; bytes: Uint8Array };

/** One entry of `manifest.json`. */
interface DockerEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

type Compression = "gzip" | "zstd" | "none";

/** Options for {@link DockerArchiveReader.open}. */
export interface DockerArchiveReaderOptions {
  /**
   * Kind of manifest made for images the archive has no manifest for: `docker` (v2 schema 2,
   * default, as skopeo does) or `oci`.
   */
  synthesize?: "docker" | "oci";
}

/** A read-only docker-archive. */
export class DockerArchiveReader implements Store {
  /** The archive file. */
  readonly path: string;
  /** `docker-archive:<path>`. */
  readonly location: string;
  #tar: TarFile;
  #blobs = new Map<Digest, { size: number; source: BlobSource }>();
  #images: ArchiveImage[] = [];
  #oci: boolean;

  private constructor(tar: TarFile, options: DockerArchiveReaderOptions) {
    this.path = tar.path;
    this.location = `docker-archive:${tar.path}`;
    this.#tar = tar;
    this.#oci = options.synthesize === "oci";
  }

  /**
   * Opens the archive at `path` (plain or gzip-compressed tar).
   *
   * @throws {FerryError} `invalid_input` when it has no valid `manifest.json` or misses files it
   * names.
   */
  static async open(
    path: string,
    options: DockerArchiveReaderOptions = {},
  ): Promise<DockerArchiveReader> {
    const tar = await TarFile.open(path);
    try {
      return await DockerArchiveReader.fromTar(tar, options);
    } catch (err) {
      await tar.close();
      throw err;
    }
  }

  /** Reads an already scanned tar (which the reader then owns). */
  static async fromTar(
    tar: TarFile,
    options: DockerArchiveReaderOptions = {},
  ): Promise<DockerArchiveReader> {
    const reader = new DockerArchiveReader(tar, options);
    await reader.#load();
    return reader;
  }

  /** The repository `name`. */
  repository(name: string): Target {
    return new ReadOnlyTarget(name, this.location, {
      resolve: (repository, reference) =>
        Promise.resolve().then(() => this.#resolve(repository, reference)),
      tags: (repository) => Promise.resolve(this.#tags(repository)),
      fetch: async (desc, options) => {
        const blob = this.#blobs.get(desc.digest);
        if (!blob) throw new FerryError("not_found", `${this.location}: no blob ${desc.digest}`);
        const offset = options.offset ?? 0;
        if (blob.source.kind === "bytes") return await bytesSource(blob.source.bytes)(offset);
        return await this.#tar.open(blob.source.member, offset, options.signal);
      },
      exists: (desc) => Promise.resolve(this.#blobs.get(desc.digest)?.size === desc.size),
    });
  }

  /** Repository parts of the `RepoTags`, sorted. */
  repositories(): Promise<string[]> {
    const names = new Set<string>();
    for (const image of this.#images) {
      for (const ref of image.names) {
        const repo = repositoryOfRefName(ref);
        if (repo !== undefined) names.add(repo);
      }
    }
    return Promise.resolve([...names].sort());
  }

  /** The images of `manifest.json`, in order, with their `RepoTags`. */
  images(): Promise<ArchiveImage[]> {
    return Promise.resolve(this.#images.map((i) => ({ ...i, names: [...i.names] })));
  }

  /** Removes temp files (a decompressed copy of a gzip archive). */
  async close(): Promise<void> {
    await this.#tar.close();
  }

  #resolve(repository: string, reference: string): Descriptor {
    const at = /^@(\d+)$/.exec(reference);
    if (at) {
      const image = this.#images[Number(at[1])];
      if (!image) {
        throw new FerryError(
          "not_found",
          `${this.location}: no image ${reference} in manifest.json`,
        );
      }
      return image.descriptor;
    }
    if (reference.startsWith("sha256:")) {
      const digest = parseDigest(reference, this.location);
      const image = this.#images.find((i) => i.descriptor.digest === digest);
      if (!image) throw new FerryError("not_found", `${this.location}: no manifest ${digest}`);
      return image.descriptor;
    }
    const refName = refNameOf(repository, reference, this.location);
    const image = this.#images.findLast((i) => i.names.includes(refName));
    if (!image) throw new FerryError("not_found", `${this.location}: no image named ${refName}`);
    return image.descriptor;
  }

  #tags(repository: string): string[] {
    const tags = new Set<string>();
    for (const image of this.#images) {
      for (const ref of image.names) {
        const tag = tagOfRefName(repository, ref);
        if (tag !== undefined) tags.add(tag);
      }
    }
    return [...tags].sort();
  }

  async #load(): Promise<void> {
    const where = `${this.path}: manifest.json`;
    const member = this.#tar.file("manifest.json");
    if (!member) {
      throw new FerryError(
        "invalid_input",
        `${this.path}: not a docker-archive (no manifest.json)`,
      );
    }
    const entries = parseDockerManifest(await this.#tar.read(member, MAX_MANIFEST_SIZE), where);
    const originals = await this.#originalManifests();
    // A member is read, sniffed and hashed once however many entries and layers name it: a
    // manifest.json naming one big layer a hundred thousand times is small.
    const configs = new Map<TarMember, { desc: Descriptor; diffIds: Digest[] }>();
    const sniffed = new Map<TarMember, Compression>();
    const hashed = new Map<TarMember, Digest>();
    for (const [i, entry] of entries.entries()) {
      // Each layer takes at least 100 bytes of the manifest made for it.
      if (entry.Layers.length > MAX_MANIFEST_SIZE / 100) {
        throw new FerryError(
          "too_large",
          `${where}: image ${i} has ${entry.Layers.length} layers; its manifest would be larger than ${MAX_MANIFEST_SIZE} bytes`,
        );
      }
      const config = this.#member(entry.Config, `${where}: image ${i}`);
      let configInfo = configs.get(config);
      if (!configInfo) {
        const configBytes = await this.#tar.read(config, MAX_CONFIG_SIZE);
        configInfo = {
          desc: {
            mediaType: DOCKER_CONFIG,
            digest: await sha256(configBytes),
            size: configBytes.byteLength,
          },
          diffIds: diffIdsOf(configBytes),
        };
        configs.set(config, configInfo);
      }
      const { desc: configDesc, diffIds } = configInfo;
      this.#blobs.set(configDesc.digest, {
        size: config.size,
        source: { kind: "member", member: config },
      });
      const layers: Descriptor[] = [];
      for (const [j, path] of entry.Layers.entries()) {
        const layer = this.#member(path, `${where}: image ${i} layer ${j}`);
        let compression = sniffed.get(layer);
        if (compression === undefined) {
          compression = sniff(await this.#tar.head(layer, 4));
          sniffed.set(layer, compression);
        }
        let digest = digestFromName(layer.name) ??
          (compression === "none" && diffIds[j] ? diffIds[j] : hashed.get(layer));
        if (digest === undefined) {
          digest = await this.#hash(layer);
          hashed.set(layer, digest);
        }
        layers.push({ mediaType: layerType(compression), digest, size: layer.size });
        this.#blobs.set(digest, { size: layer.size, source: { kind: "member", member: layer } });
      }
      const key = [configDesc.digest, ...layers.map((l) => l.digest)].join(",");
      const original = originals.get(key);
      let descriptor: Descriptor;
      if (original) {
        descriptor = original.desc;
        this.#blobs.set(original.desc.digest, {
          size: original.desc.size,
          source: original.source,
        });
      } else {
        const bytes = synthesize(configDesc, layers, this.#oci);
        if (bytes.byteLength > MAX_MANIFEST_SIZE) {
          throw new FerryError(
            "too_large",
            `${where}: image ${i}: its manifest would be larger than ${MAX_MANIFEST_SIZE} bytes`,
          );
        }
        descriptor = {
          mediaType: JSON.parse(new TextDecoder().decode(bytes)).mediaType,
          digest: await sha256(bytes),
          size: bytes.byteLength,
        };
        this.#blobs.set(descriptor.digest, {
          size: bytes.byteLength,
          source: { kind: "bytes", bytes },
        });
      }
      this.#images.push({ descriptor, names: [...entry.RepoTags] });
    }
  }

  /**
   * Image manifests of the archive's OCI layout side (Docker ≥ 25, ferry), keyed by
   * `config,layer,…` digests. Empty for classic archives.
   */
  async #originalManifests(): Promise<Map<string, { desc: Descriptor; source: BlobSource }>> {
    const out = new Map<string, { desc: Descriptor; source: BlobSource }>();
    const indexMember = this.#tar.file("index.json");
    if (!indexMember || !this.#tar.file("oci-layout")) return out;
    let queue: Descriptor[];
    try {
      queue = [
        ...parseLayoutIndex(await this.#tar.read(indexMember, MAX_MANIFEST_SIZE), this.path)
          .manifests,
      ];
    } catch {
      return out; // a broken OCI side does not stop the docker side from loading
    }
    // Each manifest is read once however often it is listed: an index naming a big index
    // thousands of times would otherwise be read and hashed thousands of times.
    const seen = new Set<Digest>();
    for (let next = 0, n = 0; next < queue.length && n < 10_000;) {
      const desc = queue[next++];
      if (seen.has(desc.digest)) continue;
      seen.add(desc.digest);
      n++;
      const member = this.#tar.file(`blobs/sha256/${desc.digest.slice(7)}`);
      if (!member || member.size !== desc.size || desc.size > MAX_MANIFEST_SIZE) continue;
      if (!isIndexType(desc.mediaType) && !isImageManifestType(desc.mediaType)) continue;
      const bytes = await this.#tar.read(member, MAX_MANIFEST_SIZE);
      if (await sha256(bytes) !== desc.digest) continue;
      let manifest;
      try {
        manifest = parseManifest(bytes, desc.mediaType, `${this.path}@${desc.digest}`);
      } catch {
        continue;
      }
      if (manifest.kind === "index") {
        for (const child of manifest.manifests) if (!seen.has(child.digest)) queue.push(child);
        continue;
      }
      const key = [manifest.config.digest, ...manifest.layers.map((l) => l.digest)].join(",");
      out.set(key, {
        desc: { mediaType: manifest.mediaType, digest: desc.digest, size: desc.size },
        source: { kind: "member", member },
      });
    }
    return out;
  }

  #member(path: string, where: string): TarMember {
    const member = this.#tar.file(path);
    if (!member) throw new FerryError("invalid_input", `${where}: ${path} is not in the archive`);
    return member;
  }

  async #hash(member: TarMember): Promise<Digest> {
    const hasher = await Sha256.create();
    for await (const chunk of await this.#tar.open(member)) hasher.update(chunk);
    return hasher.digest();
  }
}

/** Validates `manifest.json`. */
function parseDockerManifest(bytes: Uint8Array, where: string): DockerEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new FerryError("invalid_input", `${where}: not valid JSON`);
  }
  if (!Array.isArray(doc)) throw new FerryError("invalid_input", `${where}: not a JSON list`);
  return doc.map((raw, i) => {
    const e = raw as Record<string, unknown>;
    const tags = e?.RepoTags ?? [];
    if (
      typeof e !== "object" || e === null || typeof e.Config !== "string" ||
      !Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === "string") ||
      !Array.isArray(tags) || !tags.every((t) => typeof t === "string")
    ) {
      throw new FerryError(
        "invalid_input",
        `${where}: entry ${i} lacks Config, Layers or RepoTags`,
      );
    }
    return { Config: e.Config, Layers: e.Layers as string[], RepoTags: tags as string[] };
  });
}

/** The config's `rootfs.diff_ids`, or none when it has no valid list. */
function diffIdsOf(config: Uint8Array): Digest[] {
  try {
    const ids = JSON.parse(new TextDecoder().decode(config))?.rootfs?.diff_ids;
    if (!Array.isArray(ids)) return [];
    return ids.map((id) => parseDigest(String(id)));
  } catch {
    return [];
  }
}

function digestFromName(name: string): Digest | undefined {
  const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
  return m ? `sha256:${m[1]}` : undefined;
}

function sniff(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

function layerType(c: Compression): string {
  return c === "gzip" ? DOCKER_LAYER_GZIP : c === "zstd" ? OCI_LAYER_ZSTD : DOCKER_LAYER_TAR;
}

/** A Docker v2 schema 2 manifest (OCI when asked or when a layer is zstd) for the entry. */
function synthesize(config: Descriptor, layers: Descriptor[], wantOci: boolean): Uint8Array {
  const oci = wantOci || layers.some((l) => l.mediaType === OCI_LAYER_ZSTD);
  const doc = {
    schemaVersion: 2,
    mediaType: oci ? OCI_MANIFEST : DOCKER_MANIFEST,
    config: {
      mediaType: oci ? OCI_CONFIG : DOCKER_CONFIG,
      size: config.size,
      digest: config.digest,
    },
    layers: layers.map((l) => ({
      mediaType: oci
        ? (l.mediaType === DOCKER_LAYER_GZIP
          ? OCI_LAYER_GZIP
          : l.mediaType === DOCKER_LAYER_TAR
          ? OCI_LAYER_TAR
          : l.mediaType)
        : l.mediaType,
      size: l.size,
      digest: l.digest,
    })),
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}
