/**
 * Moving images into and out of the local image store, over the one copy engine: `pull` (registry
 * → store), `push` (store → registry or any other location), `save` (store → oci-archive or
 * docker-archive) and `load` (archive → store).
 *
 * @module
 */
import {
  type ArchiveFormat,
  ArchiveWriter,
  DockerArchiveReader,
  OciArchiveReader,
  openArchive,
} from "../archive/mod.ts";
import { type CopiedReferrer, CopyEngine, type CopyEvent } from "../copy/mod.ts";
import { warnDockerArchiveReferrers } from "../copy/referrers.ts";
import { type Digest, sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { type Descriptor, parseManifest } from "../manifest.ts";
import { MAX_MANIFEST_SIZE } from "../media_types.ts";
import { repositoryOfRefName } from "../oci_layout/mod.ts";
import type { Platform } from "../platform.ts";
import { parseReference } from "../reference.ts";
import type { RegistryClient } from "../remote/mod.ts";
import { finishStore, type Target } from "../store.ts";
import { readAll } from "../streams.ts";
import { type ArchiveTransport, formatLocation, parseLocation } from "../transfer/location.ts";
import { checkHook, type ImageCheck, signatureHomes } from "../transfer/signature_policy.ts";
import { openDestination, openSource } from "../transfer/transport.ts";
import { isUnnamed, nameOfReference, remoteImageName } from "./names.ts";
import type { ImageStore } from "./store.ts";

/** Options shared by the transfers. */
export interface StoreTransferOptions {
  /** Shares de-duplication across several transfers. */
  engine?: CopyEngine;
  /** Progress events (ignored when `engine` is given: it has its own). */
  onEvent?: (event: CopyEvent) => void;
  /** Copy signatures, SBOMs and attestations too (default true). */
  referrers?: boolean;
  /**
   * Checks each image where it comes from before anything of it is written (`--verify-key`): a
   * rejection refuses it.
   */
  check?: ImageCheck;
}

/** Options of {@link pullImage}. */
export interface PullImageOptions extends StoreTransferOptions {
  /** Client for the registry. */
  client: RegistryClient;
  /** Platforms to take from a multi-platform image (ignored with `all`). */
  platforms: Platform[];
  /** Keep every platform (the whole index, digest unchanged). */
  all?: boolean;
}

/**
 * A stored image as a location string (`oci:ROOT:NAME` or `oci:ROOT:sha256:…`): the store is an
 * OCI layout, so `ferry copy` and skopeo read the image there.
 */
function storedImageLocation(store: ImageStore, reference: string): string {
  return formatLocation({ transport: "oci", path: store.root, ref: reference });
}

/** What {@link pullImage} stored. */
export interface PullResult {
  /** The image read, as a location string (`docker://docker.io/library/nginx:1.27`). */
  source: string;
  /** The name the image is stored under (`docker.io/library/nginx:1.27`). */
  name: string;
  /** What the name points at: the registry's manifest or index, or a filtered index. */
  descriptor: Descriptor;
  /** The single-platform manifests stored. */
  images: Descriptor[];
  /** Signatures, SBOMs and attestations stored with it. */
  referrers: CopiedReferrer[];
}

/**
 * Pulls `image` (a reference, optionally with `docker://`) into the store under its normalised
 * name. Without `all`, an index is narrowed to `platforms`: one platform is stored as its plain
 * manifest, several as a new index listing only them, so the stored image is complete.
 */
export async function pullImage(
  store: ImageStore,
  image: string,
  options: PullImageOptions,
): Promise<PullResult> {
  const text = image.replace(/^docker:\/\//, "");
  if (/^[a-z][a-z0-9-]*:(?:\/|\.)/.test(text) || /^(oci|oci-archive|docker-archive):/.test(text)) {
    throw new FerryError(
      "usage",
      `${image}: pull reads from registries; use ferry load for archives`,
    );
  }
  const ref = parseReference(text);
  const name = nameOfReference(ref);
  const src = await openSource({ transport: "docker", ...ref }, options.client);
  try {
    const engine = options.engine ?? new CopyEngine({ onEvent: options.onEvent });
    const result = await engine.copy(src.target, src.reference!, store.target(), {
      platforms: options.platforms,
      all: options.all,
      indexSubset: "filter",
      tags: [name],
      label: src.location,
      referrers: options.referrers,
      beforeCopy: checkHook(options.check, { target: src.target, label: src.location }),
    });
    return {
      source: src.location,
      name,
      descriptor: result.root,
      images: result.images,
      referrers: result.referrers,
    };
  } finally {
    await src.store.close();
  }
}

/** Options of {@link pushImage}. */
export interface PushImageOptions extends StoreTransferOptions {
  /** Client for a `docker://` destination. */
  client: RegistryClient;
  /** Push only these platforms of a multi-platform image (default: the whole image). */
  platforms?: Platform[];
  /** Receives one line for what cannot be copied (referrers into a docker-archive). */
  warn?: (message: string) => void;
}

/** What {@link pushImage} wrote. */
export interface PushResult {
  /** The stored image, as a location string (`oci:ROOT:NAME` or `oci:ROOT:sha256:…`). */
  source: string;
  /** The image written, as a location string (`docker://HOST/REPO:TAG`, `oci-archive:/abs:TAG`…). */
  destination: string;
  /** The manifest or index written there. */
  descriptor: Descriptor;
  /** The single-platform manifests written. */
  images: Descriptor[];
  /** Signatures, SBOMs and attestations written with it. */
  referrers: CopiedReferrer[];
  /** The tag written there. */
  tag?: string;
}

/**
 * Pushes a stored image to `destination`: a registry reference (default: the image's own name) or
 * any location `ferry copy` writes (`oci:`, `oci-archive:`, `registry-dir:`…). A destination
 * without tag gets the image's tag.
 *
 * @throws {FerryError} `usage` when no destination is given and the image's name is local
 * (`localhost/…`) or missing.
 */
export async function pushImage(
  store: ImageStore,
  image: string,
  destination: string | undefined,
  options: PushImageOptions,
): Promise<PushResult> {
  const found = await store.resolve(image);
  const ownName = found.name !== undefined && !isUnnamed(found.name) ? found.name : found.names[0];
  let dest = destination;
  if (dest === undefined) {
    if (ownName === undefined) {
      throw new FerryError("usage", `${image} has no name; give a destination`);
    }
    if (ownName.startsWith("localhost/")) {
      throw new FerryError(
        "usage",
        `${ownName} names no registry; give a destination, e.g. ferry push ${ownName} registry.example.com/${
          ownName.slice("localhost/".length)
        }`,
      );
    }
    dest = ownName;
  }
  const loc = parseLocation(dest);
  const repo = ownName !== undefined ? repositoryOfRefName(ownName) : undefined;
  const defaultTag = repo !== undefined ? ownName!.slice(repo.length + 1) : "latest";
  const source = storedImageLocation(store, ownName ?? found.descriptor.digest);
  // Checked in the store before the destination is even opened.
  await options.check?.({ target: store.target(), root: found.descriptor, label: source });
  const dst = await openDestination(loc, options.client, {
    tag: defaultTag,
    ...(repo !== undefined ? { name: ownName } : {}),
  });
  let ok = false;
  try {
    const engine = options.engine ?? new CopyEngine({ onEvent: options.onEvent });
    const platforms = options.platforms ?? [];
    const referrers = options.referrers !== false && loc.transport !== "docker-archive";
    const result = await engine.copy(store.target(), found.descriptor.digest, dst.target, {
      platforms,
      all: platforms.length === 0,
      indexSubset: dst.sparseIndexes ? "sparse" : "filter",
      tags: dst.tag ? [dst.tag] : [],
      label: source,
      referrers,
    });
    if (options.referrers !== false && !referrers) {
      await warnDockerArchiveReferrers(store.target(), result.root, source, options.warn);
    }
    ok = true;
    return {
      source,
      destination: dst.location,
      descriptor: result.root,
      images: result.images,
      referrers: result.referrers,
      ...(dst.tag ? { tag: dst.tag } : {}),
    };
  } finally {
    await finishStore(dst.store, ok);
  }
}

/** Options of {@link saveArchive}. */
export interface SaveArchiveOptions extends StoreTransferOptions {
  /** `oci-archive` (default) or `docker-archive`. */
  format?: ArchiveFormat;
  /** Save only these platforms of multi-platform images (default: whole images). */
  platforms?: Platform[];
  /**
   * Blobs the reader already holds (`--base`): left out and listed in the archive as omitted, so
   * it is a differential archive (oci-archive only; manifests are always written).
   */
  base?: ReadonlySet<Digest>;
  /** Receives one line for what cannot be saved (referrers in a docker-archive). */
  warn?: (message: string) => void;
}

/** What {@link saveArchive} wrote. */
export interface SavedArchive {
  /** The images, in the order asked for. */
  images: ArchivedImage[];
  /** The blobs left out because the base holds them (empty without a base). */
  omitted: Descriptor[];
}

/** One image written by {@link saveArchive}. */
export interface ArchivedImage {
  /** The stored image, as a location string (`oci:ROOT:NAME` or `oci:ROOT:sha256:…`). */
  source: string;
  /** The names it carries in the archive. */
  names: string[];
  descriptor: Descriptor;
  /** The single-platform manifests written. */
  images: Descriptor[];
  /** Signatures, SBOMs and attestations written with it. */
  referrers: CopiedReferrer[];
}

/**
 * Writes stored images into one archive at `path` (replaced only once complete), each under its
 * stored name: `index.json` ref names, and for a docker-archive also `RepoTags`.
 *
 * @throws {FerryError} `unsupported` for a multi-platform image in a docker-archive without
 * `platforms` narrowing it to one.
 */
export async function saveArchive(
  store: ImageStore,
  images: string[],
  path: string,
  options: SaveArchiveOptions = {},
): Promise<SavedArchive> {
  if (images.length === 0) throw new FerryError("usage", "name at least one image to save");
  const format = options.format ?? "oci-archive";
  // Look every image up before creating the file.
  const found = [];
  for (const text of images) found.push(await store.resolve(text));
  const writer = await ArchiveWriter.create(path, {
    format,
    ...(options.base ? { omit: options.base } : {}),
  });
  let ok = false;
  try {
    const engine = options.engine ?? new CopyEngine({ onEvent: options.onEvent });
    const platforms = options.platforms ?? [];
    const saved: ArchivedImage[] = [];
    const referrers = options.referrers !== false && format !== "docker-archive";
    for (const image of found) {
      const names = (image.name !== undefined ? [image.name] : image.names).filter((n) =>
        !isUnnamed(n) && (format === "oci-archive" || repositoryOfRefName(n) !== undefined)
      );
      const source = storedImageLocation(store, image.name ?? image.descriptor.digest);
      const result = await engine.copy(
        store.target(),
        image.descriptor.digest,
        writer.repository(""),
        {
          platforms,
          all: platforms.length === 0,
          indexSubset: "filter",
          tags: names,
          label: source,
          referrers,
        },
      );
      if (options.referrers !== false && !referrers) {
        await warnDockerArchiveReferrers(store.target(), result.root, source, options.warn);
      }
      saved.push({
        source,
        names,
        descriptor: result.root,
        images: result.images,
        referrers: result.referrers,
      });
    }
    const omitted = writer.omitted();
    await writer.close();
    ok = true;
    return { images: saved, omitted };
  } finally {
    if (!ok) await writer.abort();
  }
}

/** Options of {@link loadArchive}. */
export interface LoadArchiveOptions extends StoreTransferOptions {
  /** Told about names that cannot be kept. */
  warn?: (message: string) => void;
}

/** One image stored by {@link loadArchive}. */
export interface LoadedImage {
  /**
   * The image read, as a location string: `docker-archive:/abs/FILE:@N` (the N-th image of
   * `manifest.json`) or `oci-archive:/abs/FILE:sha256:…`.
   */
  source: string;
  /** The archive's format, as detected. */
  format: ArchiveTransport;
  /** The names it was stored under (empty: stored under its digest, without a name). */
  names: string[];
  descriptor: Descriptor;
  /** The single-platform manifests stored. */
  images: Descriptor[];
  /** Signatures, SBOMs and attestations stored with it. */
  referrers: CopiedReferrer[];
}

/**
 * Stores every image of an oci-archive or docker-archive under its names (Docker-normalised:
 * `nginx:1.27` → `docker.io/library/nginx:1.27`). Images of classic docker-archives get OCI
 * manifests, so skopeo and umoci can read the store.
 *
 * Nothing is named until every image is stored, and content written by a failed load is removed,
 * so a corrupt archive leaves the store as it was.
 *
 * @throws {FerryError} `invalid_input` for an archive that is damaged or holds no images.
 */
export async function loadArchive(
  store: ImageStore,
  path: string,
  options: LoadArchiveOptions = {},
): Promise<LoadedImage[]> {
  const archive = await openArchive(path, { synthesize: "oci" });
  try {
    const images = await archive.images();
    if (images.length === 0) {
      throw new FerryError("invalid_input", `${path}: the archive holds no images`);
    }
    const source = archive.repository("");
    const docker = archive instanceof DockerArchiveReader;
    const plan = images.map((image, i) => ({
      // A docker-archive's manifests may be synthesised (OCI-typed here), so name it by position.
      source: formatLocation({
        transport: docker ? "docker-archive" : "oci-archive",
        path,
        ref: docker ? `@${i}` : image.descriptor.digest,
      }),
      descriptor: image.descriptor,
      names: [
        ...new Set(image.names.flatMap((n) => {
          try {
            return [remoteImageName(n)];
          } catch {
            options.warn?.(`${path}: ignoring the name ${JSON.stringify(n)}: not an image name`);
            return [];
          }
        })),
      ],
    }));
    // Everything the images need must be in the archive (or, for a blob a differential archive
    // omits, already in the store) before the store is touched.
    const omitted = archive instanceof OciArchiveReader ? archive.omitted() : new Map();
    const absent = new Map<Digest, Descriptor>();
    const check = {
      source,
      omitted,
      store: store.target(),
      absent,
      path,
      checked: new Set<string>(),
    };
    for (const p of plan) await checkComplete(check, p.descriptor);
    if (absent.size > 0) throw missingBaseError(path, store, [...absent.values()]);
    // Every image's signature checked in the archive before the store is touched: one refused
    // image refuses the load.
    for (const [i, p] of plan.entries()) {
      const name = images[i].names.find((n) => repositoryOfRefName(n) !== undefined);
      await options.check?.({
        target: source,
        signatures: name !== undefined && !docker
          ? signatureHomes({ transport: "oci-archive", path, ref: name }, archive, source, name)
          : [source],
        root: p.descriptor,
        label: p.source,
      });
    }
    const engine = options.engine ?? new CopyEngine({ onEvent: options.onEvent });
    // What belongs to the images (cosign tags, referrer entries) is recorded only once every
    // image carries its names: a reader never sees a signature tag for an image not yet named,
    // and a failed load leaves none behind.
    const deferred = deferNaming(store.target());
    const destination = stoppable(deferred.target);
    const stored: LoadedImage[] = [];
    try {
      for (const p of plan) {
        const result = await engine.copy(source, p.descriptor.digest, destination.target, {
          platforms: [],
          all: true,
          indexSubset: "filter",
          skipMissingChildren: true,
          tags: [],
          label: p.source,
          referrers: options.referrers,
        });
        stored.push({
          source: p.source,
          format: docker ? "docker-archive" : "oci-archive",
          names: p.names,
          descriptor: result.root,
          images: result.images,
          referrers: result.referrers,
        });
      }
    } catch (err) {
      // Blobs stored so far are named by nothing: once the copies still running have ended,
      // collect them (unless another ferry process is writing; then a later `ferry rmi` does).
      await destination.stop();
      await store.gc().catch(() => {});
      if (isFerryError(err, "digest_mismatch", "size_mismatch")) {
        throw new FerryError("invalid_input", `${path}: damaged archive: ${err.message}`, {
          cause: err,
        });
      }
      throw err;
    }
    for (const s of stored) {
      for (const name of s.names.length > 0 ? s.names : [s.descriptor.digest]) {
        await store.setName(s.descriptor, name);
      }
    }
    await deferred.flush();
    return stored;
  } finally {
    await archive.close();
  }
}

/** Where {@link checkComplete} looks, and what it collects. */
interface CompletenessCheck {
  /** The archive. */
  source: Target;
  /** The blobs a differential archive omits. */
  omitted: ReadonlyMap<Digest, Descriptor>;
  /** The image store, which must hold those. */
  store: Target;
  /** Omitted blobs the store lacks, collected to be named all at once. */
  absent: Map<Digest, Descriptor>;
  path: string;
  /**
   * Manifests already checked: each is read once, however many indexes list it and however
   * often (an index listing an index a thousand times, which lists a manifest a thousand times,
   * is small, but a walk of every path through it is not).
   */
  checked: Set<string>;
}

/**
 * Checks that the archive holds every blob of the image `desc` with the right size (or omits it
 * on purpose and the store holds it: else it is collected in `absent`), and that its manifests are
 * intact (for an index: the children it holds; at least one).
 */
async function checkComplete(check: CompletenessCheck, desc: Descriptor): Promise<void> {
  const { source, path } = check;
  // Keyed by all a descriptor says of the manifest: its type decides how it is parsed.
  const key = `${desc.digest} ${desc.size} ${desc.mediaType}`;
  if (check.checked.has(key)) return;
  check.checked.add(key);
  const where = `${path}: image ${desc.digest}`;
  if (!(await source.exists(desc))) {
    throw new FerryError("invalid_input", `${where}: manifest missing from the archive`);
  }
  const bytes = await readAll(await source.fetch(desc), MAX_MANIFEST_SIZE, where);
  if (await sha256(bytes) !== desc.digest) {
    throw new FerryError("invalid_input", `${where}: manifest is corrupt (digest mismatch)`);
  }
  const manifest = parseManifest(bytes, desc.mediaType, where);
  if (manifest.kind === "index") {
    let held = 0;
    for (const child of manifest.manifests) {
      if (!(await source.exists(child))) continue;
      held++;
      await checkComplete(check, child);
    }
    if (held === 0) {
      throw new FerryError(
        "invalid_input",
        `${where}: none of the index's images is in the archive`,
      );
    }
    return;
  }
  for (const blob of [manifest.config, ...manifest.layers]) {
    if (await source.exists(blob)) continue;
    const omitted = check.omitted.get(blob.digest);
    if (omitted && omitted.size === blob.size) {
      if (!(await check.store.exists(blob))) check.absent.set(blob.digest, blob);
      continue;
    }
    throw new FerryError(
      "invalid_input",
      `${where}: blob ${blob.digest} (${blob.size} bytes) missing from the archive`,
    );
  }
}

/**
 * The error of a differential archive whose omitted blobs the store lacks: one line saying so,
 * then one line per blob.
 */
function missingBaseError(path: string, store: ImageStore, absent: Descriptor[]): FerryError {
  const total = absent.reduce((n, d) => n + d.size, 0);
  const list = absent
    .sort((a, b) => (a.digest < b.digest ? -1 : 1))
    .map((d) => `${d.digest} (${d.size} bytes, ${d.mediaType})`);
  return new FerryError(
    "not_found",
    `${path}: differential archive: ${absent.length} blob${
      absent.length === 1 ? "" : "s"
    } (${total} bytes) it omits ${
      absent.length === 1 ? "is" : "are"
    } not in the image store ${store.root}; load the archive its --base named first (nothing was stored):`,
    { details: list },
  );
}

/**
 * Wraps a target so that its tags and referrer records are only recorded, to be written by
 * `flush()` in the order they were asked for; `resolve` of a recorded tag answers what it will
 * name. Everything else passes through.
 */
function deferNaming(target: Target): { target: Target; flush(): Promise<void> } {
  const tags = new Map<string, Descriptor>();
  const records: { subject: Descriptor; referrers: Descriptor[] }[] = [];
  return {
    target: {
      name: target.name,
      location: target.location,
      resolve: (reference, options) => {
        const pending = tags.get(reference);
        return pending ? Promise.resolve(pending) : target.resolve(reference, options);
      },
      fetch: (desc, options) => target.fetch(desc, options),
      exists: (desc) => target.exists(desc),
      push: (desc, content, options) => target.push(desc, content, options),
      tag: (desc, tag) => {
        tags.set(tag, desc);
        return Promise.resolve();
      },
      tags: async () => [...new Set([...await target.tags(), ...tags.keys()])],
      ...(target.referrers ? { referrers: (subject) => target.referrers!(subject) } : {}),
      ...(target.addReferrers
        ? {
          addReferrers: (subject, referrers) => {
            records.push({ subject, referrers });
            return Promise.resolve(true);
          },
        }
        : {}),
    },
    async flush() {
      for (const r of records) await target.addReferrers!(r.subject, r.referrers);
      for (const [tag, desc] of tags) await target.tag(desc, tag);
    },
  };
}

/**
 * Wraps a target so that a failed load can stop it: after one copy of an image fails, its siblings
 * are still running. `stop()` refuses every later call and waits for the calls under way to end,
 * so nothing is written to the store after it returns.
 */
function stoppable(target: Target): { target: Target; stop(): Promise<void> } {
  const pending = new Set<Promise<unknown>>();
  let stopped = false;
  const track = <T>(call: () => Promise<T>): Promise<T> => {
    if (stopped) {
      return Promise.reject(new FerryError("io", `${target.location}: load stopped`));
    }
    const p = call();
    pending.add(p);
    p.then(() => pending.delete(p), () => pending.delete(p));
    return p;
  };
  return {
    target: {
      name: target.name,
      location: target.location,
      resolve: (reference) => track(() => target.resolve(reference)),
      fetch: (desc, options) => track(() => target.fetch(desc, options)),
      exists: (desc) => track(() => target.exists(desc)),
      push: (desc, content, options) => track(() => target.push(desc, content, options)),
      tag: (desc, tag) => track(() => target.tag(desc, tag)),
      tags: () => track(() => target.tags()),
      ...(target.referrers
        ? { referrers: (subject: Descriptor) => track(() => target.referrers!(subject)) }
        : {}),
      ...(target.addReferrers
        ? {
          addReferrers: (subject: Descriptor, referrers: Descriptor[]) =>
            track(() => target.addReferrers!(subject, referrers)),
        }
        : {}),
    },
    async stop() {
      stopped = true;
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
