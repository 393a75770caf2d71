/**
 * The copy engine: moves one image (a manifest, or an index and its children, with their configs
 * and layers) from any {@link Target} to any other. Every command that moves images goes through
 * it: `registry save`, `copy`, `registry sync`, `build`'s pulls, `push`, `save`, `load`.
 *
 * Children are copied before their parents, so a destination never holds a manifest whose blobs
 * are missing. What belongs to an image (signatures, SBOMs, attestations: see referrers.ts) is
 * looked up while its blobs move and copied after it, before any tag points at it. Blobs are never hashed here: the destination verifies what it stores (writers hash
 * while writing; registries check the digest on upload); manifests are small and verified here.
 *
 * @module
 */
import { type Digest, preloadSha256, sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  manifestBlobs,
  parseManifest,
} from "../manifest.ts";
import { isImageManifestType, isIndexType, MAX_MANIFEST_SIZE, OCI_INDEX } from "../media_types.ts";
import type { Platform } from "../platform.ts";
import { Semaphore, SingleFlight } from "../limit.ts";
import { bytesSource, type StagedTags, type TagRequest, type Target } from "../store.ts";
import { fillingStream, readAll, viewReader } from "../streams.ts";
import {
  describeReferrers,
  discoverReferrers,
  fallbackIndex,
  fallbackTag,
  type FoundReferrer,
  MAX_DISCOVERY_REQUESTS,
  MAX_REFERRER_DEPTH,
  type ReferrerKind,
  referrerKind,
  referrerOf,
  TagLists,
} from "./referrers.ts";
import { selectChildren } from "./select.ts";

/** Levels of indexes within indexes a copy follows below its root (OCI nests them rarely). */
export const MAX_INDEX_DEPTH = 8;
/** Children one index may list. */
export const MAX_INDEX_CHILDREN = 1000;
/** Manifests (indexes and images) one copy may walk, however they nest. */
export const MAX_MANIFESTS_PER_COPY = 10_000;

/** What to store when only some platforms of an index are copied. */
export type IndexSubset =
  /** The original index, byte for byte (its digest kept), with only the chosen children stored. */
  | "sparse"
  /** A new index listing only the chosen children; a single chosen child replaces the index. */
  | "filter";

/** Progress and outcome notifications; `source` is the copy's {@link CopyOptions.label}. */
export type CopyEvent =
  /**
   * An image's layers and config, before any is copied (for totals and estimates); `present`
   * when the destination holds the whole image already (told only for a `local` destination,
   * where reading its manifest costs nothing).
   */
  | {
    type: "blobs-planned";
    source: string;
    blobs: { digest: string; size: number }[];
    present?: boolean;
  }
  | { type: "blob-start"; source: string; digest: string; size: number; offset: number }
  | { type: "blob-progress"; source: string; digest: string; bytes: number }
  | {
    type: "blob-done";
    source: string;
    digest: string;
    size: number;
    status: "copied" | "exists";
  }
  | {
    type: "manifest";
    source: string;
    digest: string;
    mediaType: string;
    platform?: Platform;
    status: "copied" | "exists";
  }
  | ({ type: "referrer"; source: string; status: "copied" | "exists" } & CopiedReferrer)
  | { type: "warning"; source: string; message: string };

/** Options of one copy. */
export interface CopyOptions {
  /** Platforms to take from an index (ignored for single-platform images and with `all`). */
  platforms: Platform[];
  /** Copy every child of an index. */
  all?: boolean;
  /** What to store when `all` is off and the source is an index. Default `sparse`. */
  indexSubset?: IndexSubset;
  /**
   * Copy only the children of an index that the source holds (a registry directory may hold an
   * index with only some platforms); the index is then stored as with a platform selection.
   */
  skipMissingChildren?: boolean;
  /**
   * Tags to point at the copied image in the destination. They land last, after the tags naming
   * what belongs to it (cosign and fallback tags): whoever resolves a tag finds its signatures.
   * Where the destination stages tags ({@link Target.stageTags}), every tag's bytes reach the
   * disk while the image is stored, and only renames remain once it is.
   */
  tags?: string[];
  /**
   * Ask the source for the root manifest's bytes as it is resolved (one GET instead of HEAD then
   * GET; see `ResolveOptions.withContent`). Set it when the bytes will be read anyway: when the
   * destination does not hold the image yet. Left unset, a remote source is asked with HEAD first,
   * which costs a rerun nothing that counts as a pull.
   */
  resolveWithContent?: boolean;
  /**
   * Copy what belongs to each manifest copied (OCI 1.1 referrers, cosign `.sig`/`.att`/`.sbom`
   * tags), and to what belongs to it, {@link MAX_REFERRER_DEPTH} levels deep. Default true.
   */
  referrers?: boolean;
  /**
   * Names the image in events (`source`) and errors: the image read, as a location string
   * (`formatLocation` of ../location.ts). Defaults to the source target's location and the
   * reference.
   */
  label?: string;
  /**
   * Called with what `reference` resolved to, before anything is written: a rejection ends the
   * copy with its error and nothing of the image stored (a signature policy, `--verify-key`).
   */
  beforeCopy?: (root: Descriptor) => Promise<void>;
}

/** What a copy stored. */
export interface CopyResult {
  /** The descriptor the tags point to. */
  root: Descriptor;
  /** The single-image manifests stored (one per platform copied). */
  images: Descriptor[];
  /** What belongs to the image and was copied with it (at every level), in no set order. */
  referrers: CopiedReferrer[];
}

/** A manifest copied because it belongs to another (a signature, an SBOM…). */
export interface CopiedReferrer {
  /** The manifest it belongs to. */
  subject: Digest;
  digest: Digest;
  mediaType: string;
  artifactType?: string;
  kind: ReferrerKind;
  /** The cosign tag (`sha256-<hex>.sig`) naming it, at the source and the destination. */
  tag?: string;
}

/** Copies images between targets; one instance shares de-duplication across many copies. */
export class CopyEngine {
  #onEvent: (event: CopyEvent) => void;
  #blobs = new SingleFlight<void>();
  #done = new Set<string>();
  #discovery = new Semaphore(MAX_DISCOVERY_REQUESTS);
  /** Each source repository's referrer tags, listed once for every image copied from it. */
  #tagLists = new TagLists();
  /** Updates of one fallback tag, one after another: each holds its place until its tag is written. */
  #fallbackQueue = new Map<string, Promise<void>>();

  constructor(options: { onEvent?: (event: CopyEvent) => void } = {}) {
    this.#onEvent = options.onEvent ?? (() => {});
  }

  /**
   * Starts what a copy from `src` asks first and needs no manifest for: the listing of its
   * repository's referrer tags (one per repository and engine, within the discovery bound), so
   * that it runs while the caller still resolves the image instead of after. Nothing when
   * referrers are not copied.
   */
  prepare(src: Target, options: { referrers?: boolean } = {}): void {
    if (options.referrers === false) return;
    void this.#tagLists.referrerTags(src, (fn) => this.#discovery.run(fn));
  }

  /** Copies the image `reference` (tag or digest) of `src` into `dst`. */
  async copy(
    src: Target,
    reference: string,
    dst: Target,
    options: CopyOptions,
  ): Promise<CopyResult> {
    const label = options.label ?? `${src.location}:${reference}`;
    const root = await src.resolve(reference, { withContent: options.resolveWithContent });
    await options.beforeCopy?.(root);
    return await this.copyDescriptor(src, root, dst, { ...options, label });
  }

  /**
   * Copies the manifest `desc` (already resolved in `src`) and everything it references, then
   * points `options.tags` at it: the tags naming what belongs to it first, the image's last.
   *
   * @throws {FerryError} `too_large` for indexes nested deeper than {@link MAX_INDEX_DEPTH}, with
   *   more than {@link MAX_INDEX_CHILDREN} children, or a walk of more than
   *   {@link MAX_MANIFESTS_PER_COPY} manifests.
   */
  async copyDescriptor(
    src: Target,
    desc: Descriptor,
    dst: Target,
    options: CopyOptions & { label: string },
  ): Promise<CopyResult> {
    const tags = new TagPlan(dst);
    // The image's own tags are staged at once (their bytes on disk while its blobs move) when
    // the copy stores `desc` itself, as it does unless it filters an index.
    const own = (options.tags ?? []).map((tag) => ({ desc, tag }));
    if (keepsRoot(desc, options)) tags.stageOwn(own);
    try {
      const result = await this.#walk(src, desc, dst, options, {
        depth: 0,
        manifests: { count: 0 },
        referrerDepth: 0,
        subjects: new Set(),
        tags,
      });
      await tags.commit(own.map(({ tag }) => ({ desc: result.root, tag })));
      return result;
    } finally {
      await tags.close();
    }
  }

  /**
   * Copies the manifest `desc` and everything it references, then (unless turned off) what
   * belongs to it. The lookup of what belongs to it starts first, so it runs while blobs move.
   */
  async #walk(
    src: Target,
    desc: Descriptor,
    dst: Target,
    options: CopyOptions & { label: string },
    walk: Walk,
  ): Promise<CopyResult> {
    const discovery = this.#discover(src, desc, options, walk);
    // Awaited below, or dropped when the copy fails first: never an unhandled rejection.
    discovery?.catch(() => {});
    if (!discovery || !keepsRoot(desc, options)) {
      const result = await this.#walkManifest(src, desc, dst, options, walk);
      if (!discovery) return result;
      const found = await discovery;
      if (result.root.digest === desc.digest) {
        const copied = await this.#copyReferrers(src, desc, dst, options, walk, found);
        result.referrers.push(...copied);
      } else if (found.length > 0) {
        // A filtered index is a new manifest: what belonged to the original (a signature names
        // its digest) does not belong to it. Said, not dropped silently.
        this.#onEvent({
          type: "warning",
          source: options.label,
          message: `${
            describeReferrers(found.map((f) => referrerKind({ ...f.descriptor, tag: f.tag })))
          } of the index ${desc.digest} left out: only some of its platforms are stored (as ${result.root.digest}), which ${
            found.length === 1 ? "it does" : "they do"
          } not name; copy every platform to keep them`,
        });
      }
      return result;
    }
    // What belongs to `desc` is copied alongside it (blobs, manifests' children, lookups one level
    // down), and each of its manifests lands only once `desc` is stored: `stored` opens the gate.
    let open!: () => void;
    let shut!: (err: unknown) => void;
    const stored = new Promise<void>((resolve, reject) => [open, shut] = [resolve, reject]);
    stored.catch(() => {});
    const referrers = discovery.then((found) =>
      this.#copyReferrers(src, desc, dst, options, walk, found, stored)
    );
    referrers.catch(() => {});
    let result: CopyResult;
    try {
      result = await this.#walkManifest(src, desc, dst, options, walk);
    } catch (err) {
      shut(err);
      // Nothing may still write once the copy has failed.
      await referrers.catch(() => {});
      throw err;
    }
    if (result.root.digest !== desc.digest) {
      shut(
        new FerryError("invalid_input", `${options.label}: ${desc.digest} was not stored as it is`),
      );
      await referrers.catch(() => {});
      return result;
    }
    open();
    result.referrers.push(...await referrers);
    return result;
  }

  /** Starts the lookup of what belongs to `desc`, unless off, too deep, or already done. */
  #discover(
    src: Target,
    desc: Descriptor,
    options: CopyOptions & { label: string },
    walk: Walk,
  ): Promise<FoundReferrer[]> | undefined {
    if (options.referrers === false || walk.referrerDepth >= MAX_REFERRER_DEPTH) return undefined;
    if (walk.subjects.has(desc.digest)) return undefined;
    walk.subjects.add(desc.digest);
    return discoverReferrers(src, desc, {
      where: options.label,
      limit: this.#discovery,
      tagLists: this.#tagLists,
      warn: (message) => this.#onEvent({ type: "warning", source: options.label, message }),
    });
  }

  /**
   * Copies the manifests found for `subject` (already stored in `dst`) with what they need and
   * what belongs to them, names them as the source did (cosign tags), and lists the OCI 1.1
   * referrers where `dst` keeps them (its own record, else the fallback tag).
   */
  async #copyReferrers(
    src: Target,
    subject: Descriptor,
    dst: Target,
    options: CopyOptions & { label: string },
    walk: Walk,
    found: FoundReferrer[],
    stored: Promise<void> = Promise.resolve(),
  ): Promise<CopiedReferrer[]> {
    const copied: CopiedReferrer[] = [];
    const listed: Descriptor[] = [];
    await settleAll(found.map(async (f) => {
      let bytes: Uint8Array;
      try {
        bytes = await this.#readManifest(src, f.descriptor, options.label);
      } catch (err) {
        if (!isFerryError(err, "not_found")) throw err;
        // Listed but not held (a list is only the source's word): the image is whole without it.
        this.#onEvent({
          type: "warning",
          source: options.label,
          message: `skipping referrer ${f.descriptor.digest} of ${subject.digest}: ${err.message}`,
        });
        return;
      }
      const manifest = parseManifest(bytes, f.descriptor.mediaType, options.label);
      const typed: Descriptor = { ...f.descriptor, mediaType: manifest.mediaType };
      const own = referrerOf({ digest: typed.digest, mediaType: typed.mediaType, bytes });
      if (!f.tag && own?.subject !== subject.digest) {
        // A referrers list is the source's word; the manifest's own subject is the proof.
        this.#onEvent({
          type: "warning",
          source: options.label,
          message:
            `skipping ${typed.digest}: listed as a referrer of ${subject.digest} but its subject is ${
              own?.subject ?? "missing"
            }`,
        });
        return;
      }
      const present = await this.#known(dst, typed);
      // A manifest in a local store is named by nothing until a tag or the subject's referrers
      // record names it, so it is stored while the subject's blobs still move; only the names
      // wait for the subject. A registry may list a manifest with a subject as soon as it is
      // pushed, so there the manifest itself waits.
      const inner = await this.#walk(src, typed, dst, {
        ...options,
        all: true,
        indexSubset: "sparse",
        skipMissingChildren: false,
        tags: [],
      }, {
        depth: 0,
        manifests: walk.manifests,
        referrerDepth: walk.referrerDepth + 1,
        subjects: walk.subjects,
        tags: walk.tags,
        gate: dst.local ? undefined : stored,
      });
      const entry: CopiedReferrer = {
        subject: subject.digest,
        digest: typed.digest,
        mediaType: typed.mediaType,
        ...(own?.descriptor.artifactType ? { artifactType: own.descriptor.artifactType } : {}),
        kind: referrerKind({
          tag: f.tag,
          artifactType: own?.descriptor.artifactType,
          layers: manifest.kind === "manifest" ? manifest.layers : [],
        }),
        ...(f.tag ? { tag: f.tag } : {}),
      };
      if (own?.subject === subject.digest) listed.push(own.descriptor);
      copied.push(entry, ...inner.referrers);
      const event = () =>
        this.#onEvent({
          type: "referrer",
          source: options.label,
          status: present ? "exists" : "copied",
          ...entry,
        });
      // Staged now, pointed at the end of the copy (after its subject is stored).
      if (f.tag) walk.tags.add({ desc: typed, tag: f.tag }, { written: event });
      else event();
    }));
    // Named (cosign tags) and listed (the store's record, the fallback tag) only once the subject
    // is stored, even when held already; the two at once, as neither needs the other. A new
    // fallback index is stored before that (it names nothing until tagged). The tags are staged
    // as soon as what they name is known (a cosign tag's manifest stored, a fallback index made)
    // and pointed with the image's own (see copyDescriptor): no wait for the disk is left for
    // them once the image is stored.
    const list = async () => {
      if (listed.length === 0) return;
      listed.sort((a, b) => a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);
      if (dst.addReferrers) {
        await stored;
        if (await dst.addReferrers(subject, listed)) return;
      }
      await this.#updateFallbackTag(dst, subject.digest, listed, options.label, stored, walk.tags);
    };
    await settleAll([list(), stored]);
    return copied;
  }

  /**
   * Stores the new fallback index of `subject` ({@link fallbackIndex}) and adds its tag to
   * `tags`. One update of a tag at a time within this engine: the next reads the index only once
   * this one's tag is written (or the copy that was to write it is over).
   */
  #updateFallbackTag(
    dst: Target,
    subject: Digest,
    referrers: Descriptor[],
    where: string,
    stored: Promise<void>,
    tags: TagPlan,
  ): Promise<void> {
    const key = `${dst.location}\n${subject}`;
    let release!: () => void;
    const done = new Promise<void>((resolve) => release = resolve);
    const run = async () => {
      const index = await fallbackIndex(dst, subject, referrers, where);
      if (!index) {
        // Nothing to write; a failed subject still fails its referrers' update.
        await stored;
        return release();
      }
      // The tag's bytes reach the disk while the index is stored; the tag moves with the rest.
      tags.add({ desc: index.desc, tag: fallbackTag(subject) }, { settled: release });
      await dst.push(index.desc, bytesSource(index.bytes));
      await stored;
    };
    const queued = this.#fallbackQueue.get(key) ?? Promise.resolve();
    const next = queued.then(run);
    next.catch(() => release());
    this.#fallbackQueue.set(key, done);
    done.then(() => {
      if (this.#fallbackQueue.get(key) === done) this.#fallbackQueue.delete(key);
    });
    return next;
  }

  async #walkManifest(
    src: Target,
    desc: Descriptor,
    dst: Target,
    options: CopyOptions & { label: string },
    walk: Walk,
  ): Promise<CopyResult> {
    if (++walk.manifests.count > MAX_MANIFESTS_PER_COPY) {
      throw new FerryError(
        "too_large",
        `${options.label}: more than ${MAX_MANIFESTS_PER_COPY} manifests in one image`,
      );
    }
    // Children are stored before parents, so an image manifest already in `dst` is complete; an
    // index there may lack children now wanted, but its bytes can be read locally.
    const present = await this.#known(dst, desc);
    if (present && isImageManifestType(desc.mediaType)) {
      if (dst.local) await this.#planPresent(dst, desc, options.label);
      this.#onEvent({
        type: "manifest",
        source: options.label,
        digest: desc.digest,
        mediaType: desc.mediaType,
        platform: desc.platform,
        status: "exists",
      });
      return { root: desc, images: [desc], referrers: [] };
    }
    // Blobs will likely stream into a local store, which hashes them: load the hasher while the
    // manifest and the first blobs are requested, not after (a rerun never gets here).
    if (!present && dst.local) preloadSha256();
    const bytes = await this.#readManifest(present ? dst : src, desc, options.label);
    const manifest = parseManifest(bytes, desc.mediaType, options.label);
    const typed: Descriptor = { ...desc, mediaType: manifest.mediaType };
    if (manifest.kind === "manifest") {
      await this.#copyImage(src, typed, manifest, bytes, dst, options.label, walk.gate);
      return { root: typed, images: [typed], referrers: [] };
    }
    if (walk.depth >= MAX_INDEX_DEPTH) {
      throw new FerryError(
        "too_large",
        `${options.label}: index ${desc.digest} is nested more than ${MAX_INDEX_DEPTH} levels deep`,
      );
    }
    if (manifest.manifests.length > MAX_INDEX_CHILDREN) {
      throw new FerryError(
        "too_large",
        `${options.label}: index ${desc.digest} lists ${manifest.manifests.length} manifests` +
          ` (at most ${MAX_INDEX_CHILDREN})`,
      );
    }
    let children = options.all
      ? manifest.manifests
      : selectChildren(manifest.manifests, options.platforms, options.label);
    let complete = options.all === true;
    if (options.skipMissingChildren) {
      const held = await Promise.all(children.map((c) => src.exists(c)));
      const kept = children.filter((_, i) => held[i]);
      if (kept.length === 0) {
        throw new FerryError(
          "not_found",
          `${options.label}: the source holds none of the index's images`,
        );
      }
      complete &&= kept.length === children.length;
      children = kept;
    }
    const images: Descriptor[] = [];
    const referrers: CopiedReferrer[] = [];
    // A child listed twice is copied once: walking every mention would multiply the work by the
    // repeats of each level (an index listing an index 1000 times that lists an image 1000 times).
    const seen = new Set<Digest>();
    const distinct = children.filter((c) => !seen.has(c.digest) && seen.add(c.digest));
    await settleAll(distinct.map(async (child) => {
      const r = await this.#walk(src, child, dst, {
        ...options,
        all: true,
        indexSubset: "sparse",
      }, { ...walk, depth: walk.depth + 1, gate: undefined });
      images.push(...r.images);
      referrers.push(...r.referrers);
    }));
    if (complete || (options.indexSubset ?? "sparse") === "sparse") {
      await this.#pushManifest(dst, typed, bytes, walk.gate);
      return { root: typed, images, referrers };
    }
    if (children.length === 1) return { root: children[0], images, referrers };
    const filtered = await filterIndex(manifest, children);
    await this.#pushManifest(dst, filtered.desc, filtered.bytes, walk.gate);
    return { root: filtered.desc, images, referrers };
  }

  /** Tells the blobs of an image `dst` holds whole (read from `dst`, which is local). */
  async #planPresent(dst: Target, desc: Descriptor, label: string): Promise<void> {
    const manifest = parseManifest(
      await this.#readManifest(dst, desc, label),
      desc.mediaType,
      label,
    );
    if (manifest.kind !== "manifest") return;
    this.#onEvent({
      type: "blobs-planned",
      source: label,
      blobs: manifestBlobs(manifest).map((b) => ({ digest: b.digest, size: b.size })),
      present: true,
    });
  }

  async #readManifest(src: Target, desc: Descriptor, label: string): Promise<Uint8Array> {
    if (desc.size > MAX_MANIFEST_SIZE) {
      throw new FerryError(
        "too_large",
        `${label}: manifest of ${desc.size} bytes exceeds the 4 MiB limit`,
      );
    }
    // `manifestBytes` verifies what it returns (see Target.manifestBytes): not hashed again.
    const bytes = src.manifestBytes
      ? await src.manifestBytes(desc)
      : await readAll(await src.fetch(desc), MAX_MANIFEST_SIZE, `${label}: manifest`);
    const digest = src.manifestBytes ? desc.digest : await sha256(bytes);
    if (digest !== desc.digest || bytes.byteLength !== desc.size) {
      throw new FerryError(
        "digest_mismatch",
        `${label}: manifest ${desc.digest} arrived with digest ${digest}`,
      );
    }
    return bytes;
  }

  async #copyImage(
    src: Target,
    desc: Descriptor,
    manifest: ImageManifest,
    bytes: Uint8Array,
    dst: Target,
    label: string,
    gate?: Promise<void>,
  ): Promise<void> {
    const blobs = manifestBlobs(manifest);
    this.#onEvent({
      type: "blobs-planned",
      source: label,
      blobs: blobs.map((b) => ({ digest: b.digest, size: b.size })),
    });
    await settleAll(blobs.map((blob) => this.#copyBlob(src, blob, dst, label)));
    await this.#pushManifest(dst, desc, bytes, gate);
    this.#onEvent({
      type: "manifest",
      source: label,
      digest: desc.digest,
      mediaType: desc.mediaType,
      platform: desc.platform,
      status: "copied",
    });
  }

  /** Whether `dst` holds `desc`, remembering positive answers for the engine's lifetime. */
  async #known(dst: Target, desc: Descriptor): Promise<boolean> {
    const key = `${dst.location}\n${desc.digest}`;
    if (this.#done.has(key)) return true;
    if (await dst.exists(desc)) {
      this.#done.add(key);
      return true;
    }
    return false;
  }

  #copyBlob(src: Target, desc: Descriptor, dst: Target, label: string): Promise<void> {
    const key = `${dst.location}\n${desc.digest}`;
    return this.#blobs.do(key, async () => {
      if (await this.#known(dst, desc)) {
        this.#onEvent({
          type: "blob-done",
          source: label,
          digest: desc.digest,
          size: desc.size,
          status: "exists",
        });
        return;
      }
      let opened = false;
      await dst.push(desc, async (offset) => {
        opened = true;
        this.#onEvent({
          type: "blob-start",
          source: label,
          digest: desc.digest,
          size: desc.size,
          offset,
        });
        const stream = await src.fetch(desc, { offset });
        return boundedProgress(
          stream,
          desc.size - offset,
          label,
          desc.digest,
          (bytes) =>
            this.#onEvent({ type: "blob-progress", source: label, digest: desc.digest, bytes }),
        );
      }, { from: src });
      this.#done.add(key);
      this.#onEvent({
        type: "blob-done",
        source: label,
        digest: desc.digest,
        size: desc.size,
        status: opened ? "copied" : "exists",
      });
    });
  }

  /** Pushes a manifest, once `gate` (its subject stored, for a referrer) opens. */
  async #pushManifest(
    dst: Target,
    desc: Descriptor,
    bytes: Uint8Array,
    gate?: Promise<void>,
  ): Promise<void> {
    await gate;
    await dst.push(desc, bytesSource(bytes));
    this.#done.add(`${dst.location}\n${desc.digest}`);
  }
}

/**
 * Where one copy's walk is: its index depth, the manifests counted across the whole walk, how
 * many referrers deep it is, and the manifests whose referrers were looked up.
 */
interface Walk {
  depth: number;
  manifests: { count: number };
  referrerDepth: number;
  subjects: Set<Digest>;
  /** For a referrer's walk: opens once its subject is stored; its own manifest waits for it. */
  gate?: Promise<void>;
  /**
   * Tags naming what belongs to the image (cosign and fallback tags), each added once what it
   * names is known; the copy points them before the image's own tags.
   */
  tags: TagPlan;
}

/**
 * The tags one copy writes at its end: those naming what belongs to the image, then the image's
 * own. Where the destination stages tags, each is staged as soon as it is known, so that the end
 * of the copy only renames; elsewhere they are written at the end, what belongs to the image at
 * once, then the image's tags one by one.
 */
class TagPlan {
  #dst: Target;
  #early: {
    request: TagRequest;
    staged?: Promise<StagedTags>;
    written?: () => void;
    settled?: () => void;
  }[] = [];
  #own?: { requests: TagRequest[]; staged: Promise<StagedTags> };
  #committed = new Set<Promise<StagedTags>>();

  constructor(dst: Target) {
    this.#dst = dst;
  }

  /** Stages the image's own tags ahead of their turn (pointed last by {@link commit}). */
  stageOwn(requests: TagRequest[]): void {
    if (!this.#dst.stageTags || requests.length === 0) return;
    this.#own = { requests, staged: this.#stage(requests) };
  }

  /**
   * Adds a tag naming something that belongs to the image (held, or being stored), staging it
   * now where the destination can; `written` is told once it is pointed, `settled` once the copy
   * is over either way.
   */
  add(request: TagRequest, hooks: { written?: () => void; settled?: () => void } = {}): void {
    const staged = this.#dst.stageTags ? this.#stage([request]) : undefined;
    this.#early.push({ request, staged, ...hooks });
  }

  /** Points every tag added, then `own` (the image's tags) in order, last. */
  async commit(own: TagRequest[]): Promise<void> {
    const dst = this.#dst;
    const early = this.#early;
    if (dst.stageTags) {
      // Their bytes are on disk: each only checks what it names, all at once, then renames
      // once those before it have.
      const staged = early.map((e) => e.staged!);
      if (own.length > 0) {
        staged.push(
          this.#own && sameTags(this.#own.requests, own) ? this.#own.staged : this.#stage(own),
        );
      }
      let landed = Promise.resolve();
      const commits = staged.map((s) => landed = this.#commit(s, landed));
      await settleAll(commits);
    } else {
      await settleAll(early.map((e) => dst.tag(e.request.desc, e.request.tag)));
      for (const t of own) await dst.tag(t.desc, t.tag);
    }
    for (const e of early) e.written?.();
  }

  /** Drops what was staged and not pointed, and tells every tag added that the copy is over. */
  async close(): Promise<void> {
    const all = [...this.#early.map((e) => e.staged), this.#own?.staged];
    await Promise.all(all.map(async (staged) => {
      if (!staged || this.#committed.has(staged)) return;
      await (await staged.catch(() => undefined))?.discard();
    }));
    for (const e of this.#early) e.settled?.();
  }

  #stage(requests: TagRequest[]): Promise<StagedTags> {
    const staged = this.#dst.stageTags!(requests);
    // Awaited by commit, or dropped by close: never an unhandled rejection.
    staged.catch(() => {});
    return staged;
  }

  async #commit(staged: Promise<StagedTags>, after: Promise<void>): Promise<void> {
    let tags: StagedTags;
    try {
      tags = await staged;
    } catch (err) {
      await after.catch(() => {});
      throw err;
    }
    this.#committed.add(staged);
    await tags.commit(after);
  }
}

/** Whether two lists name the same tags for the same manifests, in the same order. */
function sameTags(a: readonly TagRequest[], b: readonly TagRequest[]): boolean {
  return a.length === b.length &&
    a.every((t, i) => t.tag === b[i].tag && t.desc.digest === b[i].desc.digest);
}

/** Whether copying `desc` stores `desc` itself (not a new index of some of its children). */
function keepsRoot(desc: Descriptor, options: CopyOptions): boolean {
  return !isIndexType(desc.mediaType) || (options.indexSubset ?? "sparse") === "sparse" ||
    (options.all === true && !options.skipMissingChildren);
}

/**
 * Passes at most `size` bytes of `source`, reporting each read's size (progress), and fails on the
 * first byte past it, whatever the source: a destination is never handed more than the descriptor
 * promises before the copy fails. A byte stream that fills its reader's buffers: a destination
 * reading it BYOB has the source's bytes read straight into its buffer (every blob byte crosses
 * this layer, so it allocates and copies nothing).
 */
function boundedProgress(
  source: ReadableStream<Uint8Array>,
  size: number,
  label: string,
  digest: string,
  onBytes: (n: number) => void,
): ReadableStream<Uint8Array> {
  const reader = viewReader(source);
  let seen = 0;
  return fillingStream({
    async fill(view) {
      const got = await reader.read(view);
      seen += got.byteLength;
      if (seen > size) {
        const err = new FerryError(
          "size_mismatch",
          `${label}: blob ${digest} is longer than its descriptor's ${size} bytes`,
        );
        await reader.cancel(err).catch(() => {});
        throw err;
      }
      if (got.byteLength > 0) onBytes(got.byteLength);
      return got;
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/**
 * Waits for every transfer, then throws the first failure. `Promise.all` would reject while
 * sibling transfers still write, and the caller could close the destination under them.
 */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** A new OCI index (same annotations) listing only `children`. */
async function filterIndex(
  index: ImageIndex,
  children: Descriptor[],
): Promise<{ desc: Descriptor; bytes: Uint8Array }> {
  const doc = {
    schemaVersion: 2,
    mediaType: index.mediaType === OCI_INDEX ? OCI_INDEX : index.mediaType,
    manifests: children,
    ...(index.annotations ? { annotations: index.annotations } : {}),
  };
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  return {
    desc: { mediaType: doc.mediaType, digest: await sha256(bytes), size: bytes.byteLength },
    bytes,
  };
}
