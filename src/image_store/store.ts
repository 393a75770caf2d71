/**
 * ferry's local image store: an OCI image layout directory (`--root`, by default
 * `~/.local/share/ferry`) holding every pulled, built, tagged and loaded image, readable as it is
 * by `skopeo inspect oci:ROOT:NAME` and `umoci ls --layout ROOT`.
 *
 * Each image is an `index.json` entry named by its full reference (see names.ts). The layout's
 * locks make concurrent ferry processes safe: tags are read-modified-written under a file lock, and
 * garbage collection waits for no writer to hold the store (see ../oci_layout/layout.ts).
 *
 * Media types are kept as the source has them, so digests survive pull and push. A Docker v2
 * schema 2 image therefore stays Docker-typed in the store; ferry reads and pushes it, but skopeo 1.9
 * does not find such `index.json` entries and umoci lists but cannot unpack them (`ferry inspect`
 * says so). Images ferry builds, and images loaded from classic docker-archives, use OCI media
 * types.
 *
 * @module
 */
import { type Digest, digestHex } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { exists } from "../fs_util.ts";
import type { Descriptor } from "../manifest.ts";
import { type GcResult, OciLayout, type OciLayoutTarget } from "../oci_layout/mod.ts";
import { refNameOfEntry } from "../oci_layout/index_file.ts";
import { formatPlatform, hostPlatform, type Platform, platformMatches } from "../platform.ts";
import { parseReference } from "../reference.ts";
import {
  type ImageConfigSummary,
  type ImageFacts,
  type LayerInfo,
  overview,
  readImage,
} from "./describe.ts";
import { defaultRoot, digestPrefix, isUnnamed, localImageName, lookupNames } from "./names.ts";
import { type RegistryImage, registryImages } from "./registry_scan.ts";
import { selectChildren } from "../copy/mod.ts";
import { countReferrers, isReferrerTag, type ReferrerCounts } from "../copy/referrers.ts";

/** Options of {@link ImageStore.open}. */
export interface ImageStoreOptions {
  /** The store's directory (default: {@link defaultRoot}). */
  root?: string;
}

/** An image found by {@link ImageStore.resolve}. */
export interface StoredImage {
  /** The name the lookup matched; undefined when the image was found by digest. */
  name?: string;
  /** Every name of the same manifest, sorted (without the placeholder of unnamed images). */
  names: string[];
  /** The `index.json` entry (manifest or index). */
  descriptor: Descriptor;
}

/** One row of {@link ImageStore.list}. */
export interface ImageSummary {
  /** The image's name; undefined for an image without one. */
  name?: string;
  digest: Digest;
  mediaType: string;
  /** Bytes of every blob the image uses, shared ones counted once. */
  size: number;
  /** Newest `created` among the image configs. */
  created?: string;
  /** `os/arch[/variant]` of each image held. */
  platforms: string[];
}

/** What {@link ImageStore.inspect} reports. */
export interface ImageDetails {
  /** The name asked for, when found by name. */
  name?: string;
  /** Every name of the image. */
  names: string[];
  digest: Digest;
  mediaType: string;
  size: number;
  created?: string;
  platforms: string[];
  /** For an index: its entries. */
  manifests?: { digest: Digest; mediaType: string; size: number; platform?: string }[];
  /** The single-platform image described in detail (for an index: the chosen platform's). */
  image: {
    digest: Digest;
    mediaType: string;
    platform?: string;
    config: ImageConfigSummary;
    layers: LayerInfo[];
  };
  /** Images held in the image's `registry/` directory (absent when not scanned). */
  registry?: RegistryImage[];
  /** Signatures, SBOMs and attestations the store holds for the image and its manifests. */
  referrers: ReferrerCounts;
  /** Remarks on compatibility. */
  notes: string[];
}

/** Options of {@link ImageStore.inspect}. */
export interface InspectOptions {
  /** Which image of an index to describe (default: this host's, else the first). */
  platform?: Platform;
  /** Scan the layers for a `registry/` directory (default true). */
  registry?: boolean;
}

/** What {@link ImageStore.remove} did. */
export interface RemoveResult {
  /** Names removed. */
  untagged: string[];
  /** Blobs deleted. */
  removed: Digest[];
  freedBytes: number;
  /** Set when garbage collection had to wait for another ferry process (blobs kept for now). */
  deferred?: string;
}

/** The local image store. */
export class ImageStore {
  /** The store's directory. */
  readonly root: string;
  /** The OCI layout the images live in. */
  readonly layout: OciLayout;

  private constructor(root: string, layout: OciLayout) {
    this.root = root;
    this.layout = layout;
  }

  /**
   * Opens the store, creating an empty one when the directory does not exist or is empty (or
   * another ferry process is creating it right now).
   *
   * @throws {FerryError} `invalid_input` when the directory holds other files but no OCI layout
   * (so a mistyped `--root` never litters a directory).
   */
  static async open(options: ImageStoreOptions = {}): Promise<ImageStore> {
    const root = options.root ?? defaultRoot();
    if (!(await exists(`${root}/oci-layout`)) && !(await holdsOnlyLayoutFiles(root))) {
      throw new FerryError(
        "invalid_input",
        `${root}: not an image store (no oci-layout file) and not empty; choose another --root`,
      );
    }
    return new ImageStore(root, await OciLayout.open(root));
  }

  /** The whole layout as a copy-engine target: its tags are the stored names. */
  target(): OciLayoutTarget {
    return this.layout.repository("");
  }

  /**
   * Finds an image by name (exactly as stored, Docker-normalised, or with `localhost/`), or by
   * digest or a prefix of at least 12 hex characters.
   *
   * @throws {FerryError} `invalid_reference` for a name that does not parse, `not_found` for an
   * unknown image, `conflict` for an ambiguous digest prefix.
   */
  async resolve(text: string): Promise<StoredImage> {
    const entries = await this.#entries();
    const byName = new Map<string, Descriptor>();
    for (const e of entries) if (e.name !== undefined) byName.set(e.name, e.descriptor);
    let pinned: Digest | undefined;
    try {
      pinned = parseReference(text).digest;
    } catch {
      // not a reference: only an exact name or a digest can match
    }
    for (const name of lookupNames(text)) {
      const desc = byName.get(name);
      if (desc && (!pinned || desc.digest === pinned)) {
        return { name, names: namesOf(entries, desc.digest), descriptor: desc };
      }
    }
    const prefix = digestPrefix(text);
    if (prefix) {
      const hits = new Map<Digest, Descriptor>();
      for (const e of entries) {
        if (digestHex(e.descriptor.digest).startsWith(prefix)) {
          hits.set(e.descriptor.digest, e.descriptor);
        }
      }
      if (hits.size > 1) {
        throw new FerryError(
          "conflict",
          `${text}: ambiguous: ${hits.size} images have digests starting with it`,
        );
      }
      const [desc] = hits.values();
      if (desc) return { names: namesOf(entries, desc.digest), descriptor: desc };
    } else {
      parseReference(text); // a name that does not parse says why
    }
    throw new FerryError("not_found", `no such image: ${text}`);
  }

  /** Every stored image, sorted by name (images without a name last). */
  async list(): Promise<ImageSummary[]> {
    const target = this.target();
    const out: ImageSummary[] = [];
    for (const e of await this.#entries()) {
      // What belongs to images (cosign tags, OCI 1.1 referrers) is listed with them, not as one.
      if (
        e.name !== undefined ? isReferrerTag(e.name) : await this.layout.subjectOf(e.descriptor)
      ) {
        continue;
      }
      let facts: Awaited<ReturnType<typeof overview>> | undefined;
      try {
        facts = await overview(target, e.descriptor);
      } catch (err) {
        // A damaged entry still gets a row, so it can be seen and removed.
        if (!isFerryError(err)) throw err;
      }
      out.push({
        ...(e.name !== undefined && !isUnnamed(e.name) ? { name: e.name } : {}),
        digest: e.descriptor.digest,
        mediaType: e.descriptor.mediaType,
        size: facts?.size ?? e.descriptor.size,
        ...(facts?.created ? { created: facts.created } : {}),
        platforms: facts?.platforms ?? [],
      });
    }
    return out.sort((a, b) =>
      a.name === b.name
        ? 0
        : a.name === undefined
        ? 1
        : b.name === undefined
        ? -1
        : a.name < b.name
        ? -1
        : 1
    );
  }

  /** Describes an image: config, layers, platforms, and the images in its `registry/`. */
  async inspect(text: string, options: InspectOptions = {}): Promise<ImageDetails> {
    const found = await this.resolve(text);
    const target = this.target();
    const facts = await overview(target, found.descriptor);
    let image: ImageFacts;
    if (facts.manifest.kind === "manifest") {
      image = await readImage(target, found.descriptor);
    } else {
      const where = found.name ?? found.descriptor.digest;
      const held = [];
      for (const c of facts.children) if (await target.exists(c)) held.push(c);
      const chosen = options.platform
        ? selectChildren(held, [options.platform], where)[0]
        : held.find((c) => platformMatches(c.platform, hostPlatform())) ??
          held.find((c) => c.platform?.os !== "unknown") ?? held[0];
      if (!chosen) {
        throw new FerryError("not_found", `${where}: the store holds none of the index's images`);
      }
      image = await readImage(target, chosen);
    }
    const notes: string[] = [];
    if (facts.dockerTyped) {
      notes.push(
        "Docker v2 schema 2 media types (kept to preserve the digest): skopeo 1.9 does not find this entry of the OCI layout and umoci cannot unpack it",
      );
    }
    return {
      ...(found.name !== undefined ? { name: found.name } : {}),
      names: found.names,
      digest: found.descriptor.digest,
      mediaType: facts.manifest.mediaType,
      size: facts.size,
      ...(facts.created ? { created: facts.created } : {}),
      platforms: facts.platforms,
      ...(facts.manifest.kind === "index"
        ? {
          manifests: facts.children.map((c) => ({
            digest: c.digest,
            mediaType: c.mediaType,
            size: c.size,
            ...(c.platform ? { platform: formatPlatform(c.platform) } : {}),
          })),
        }
        : {}),
      image: {
        digest: image.descriptor.digest,
        mediaType: image.descriptor.mediaType,
        ...(image.platform ? { platform: image.platform } : {}),
        config: image.config,
        layers: image.layers,
      },
      ...(options.registry ?? true ? { registry: await registryImages(target, image.layers) } : {}),
      referrers: await countReferrers(
        target,
        [found.descriptor, ...(facts.manifest.kind === "index" ? facts.children : [])],
        found.name ?? found.descriptor.digest,
      ),
      notes,
    };
  }

  /**
   * Gives the image `source` another name (`localImageName` rules: `app:1` →
   * `localhost/app:1`); an image already holding that name loses it.
   */
  async tag(source: string, newName: string): Promise<{ name: string; descriptor: Descriptor }> {
    const name = localImageName(newName);
    const found = await this.resolve(source);
    await this.target().tag(found.descriptor, name);
    return { name, descriptor: found.descriptor };
  }

  /** Points the stored name `name` (taken as is) at `desc`, a manifest already in the store. */
  async setName(desc: Descriptor, name: string): Promise<void> {
    await this.target().tag(desc, name);
  }

  /** Removes one stored name (taken as is); true when it existed. Blobs stay until {@link gc}. */
  async untag(name: string): Promise<boolean> {
    return await this.layout.untag(name);
  }

  /**
   * Removes images (by any name {@link resolve} accepts) and then the blobs no image uses. An
   * image named by digest loses all its names; with more than one, only under `force`. Every
   * image is looked up before anything is removed.
   */
  async remove(texts: string[], options: { force?: boolean } = {}): Promise<RemoveResult> {
    const entries = await this.#entries();
    const names = new Set<string>();
    for (const text of texts) {
      const found = await this.resolve(text);
      if (found.name !== undefined) {
        names.add(found.name);
        continue;
      }
      if (found.names.length > 1 && !options.force) {
        throw new FerryError(
          "conflict",
          `${text}: the image has ${found.names.length} names (${
            found.names.join(", ")
          }); remove them by name or use --force`,
        );
      }
      const all = entries.filter((e) => e.descriptor.digest === found.descriptor.digest);
      if (all.some((e) => e.name === undefined)) {
        throw new FerryError(
          "unsupported",
          `${text}: index.json lists this image without a name; remove it with the tool that added it`,
        );
      }
      for (const e of all) names.add(e.name!);
    }
    const untagged: string[] = [];
    for (const name of names) if (await this.layout.untag(name)) untagged.push(name);
    const result: RemoveResult = { untagged: untagged.sort(), removed: [], freedBytes: 0 };
    try {
      const gc = await this.gc();
      result.removed = gc.removed;
      result.freedBytes = gc.freedBytes;
    } catch (err) {
      if (!isFerryError(err, "conflict")) throw err;
      result.deferred = err.message;
    }
    return result;
  }

  /**
   * Deletes blobs no image uses.
   *
   * @throws {FerryError} `conflict` while another ferry process writes to the store.
   */
  async gc(): Promise<GcResult> {
    return await this.layout.gc();
  }

  /** Releases the store's locks. */
  async close(): Promise<void> {
    await this.layout.close();
  }

  /** The `index.json` entries with their names, in file order. */
  async #entries(): Promise<{ name?: string; descriptor: Descriptor }[]> {
    // Through the layout, which follows no symlink inside the store.
    return (await this.layout.entries()).map((descriptor) => {
      const name = refNameOfEntry(descriptor);
      return name === undefined ? { descriptor } : { name, descriptor };
    });
  }
}

/** The names of `digest`, sorted, without the placeholder of unnamed images. */
function namesOf(entries: { name?: string; descriptor: Descriptor }[], digest: Digest): string[] {
  const names = new Set<string>();
  for (const e of entries) {
    if (e.descriptor.digest === digest && e.name !== undefined && !isUnnamed(e.name)) {
      names.add(e.name);
    }
  }
  return [...names].sort();
}

/** Names a layout being created holds before its `oci-layout` file appears. */
const LAYOUT_ENTRIES = new Set(["blobs", "index.json", ".ferry", "oci-layout"]);

/**
 * Whether `dir` is missing, empty, or holds only what another ferry process creating the store at
 * this moment has written so far.
 */
async function holdsOnlyLayoutFiles(dir: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!LAYOUT_ENTRIES.has(entry.name)) return false;
    }
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return true;
    if (err instanceof Deno.errors.NotADirectory) {
      throw new FerryError("invalid_input", `${dir}: not a directory`);
    }
    throw err;
  }
}
