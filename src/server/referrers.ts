/**
 * The referrers API (`GET /v2/<name>/referrers/<digest>`): which manifests of a repository name a
 * given manifest as their `subject`.
 *
 * The index of a repository is built the first time it is asked for, by reading every manifest the
 * repository holds, and kept up to date by this server's own pushes and deletes. Manifests written
 * into the store by another process meanwhile are not seen until a restart.
 *
 * @module
 */
import { type Digest, isDigest } from "../digest.ts";
import type { Descriptor } from "../manifest.ts";

/** A manifest as the referrers index needs it. */
export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array;
}

/** Where the index reads manifests from. */
export interface ManifestSource {
  /** Digests of the manifests of `name`. */
  list(name: string): Promise<Digest[]>;
  /** One manifest of `name`, or undefined when it is gone or unreadable. */
  read(name: string, digest: Digest): Promise<StoredManifest | undefined>;
}

/** subject digest → (referrer digest → descriptor). */
type RepositoryIndex = Map<Digest, Map<Digest, Descriptor>>;

/** Referrers of every repository of one store. */
export class ReferrersIndex {
  #source: ManifestSource;
  #repos = new Map<string, Promise<RepositoryIndex>>();

  constructor(source: ManifestSource) {
    this.#source = source;
  }

  /** Descriptors of the manifests of `name` whose subject is `subject`, sorted by digest. */
  async referrers(name: string, subject: Digest): Promise<Descriptor[]> {
    const index = await this.#index(name);
    const found = [...index.get(subject)?.values() ?? []];
    return found.sort((a, b) => a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);
  }

  /** Records a manifest just pushed (a no-op unless it has a subject). */
  async add(name: string, manifest: StoredManifest): Promise<void> {
    const index = this.#repos.get(name);
    // Not built yet: the build will read the manifest from the store.
    if (!index) return;
    insert(await index, manifest);
  }

  /** Forgets a deleted manifest. */
  async remove(name: string, digest: Digest): Promise<void> {
    const index = this.#repos.get(name);
    if (!index) return;
    for (const referrers of (await index).values()) referrers.delete(digest);
  }

  #index(name: string): Promise<RepositoryIndex> {
    let index = this.#repos.get(name);
    if (!index) {
      index = this.#build(name);
      index.catch(() => this.#repos.delete(name));
      this.#repos.set(name, index);
    }
    return index;
  }

  async #build(name: string): Promise<RepositoryIndex> {
    const index: RepositoryIndex = new Map();
    for (const digest of await this.#source.list(name)) {
      const manifest = await this.#source.read(name, digest);
      if (manifest) insert(index, manifest);
    }
    return index;
  }
}

function insert(index: RepositoryIndex, manifest: StoredManifest): void {
  const found = referrerOf(manifest);
  if (!found) return;
  let referrers = index.get(found.subject);
  if (!referrers) index.set(found.subject, referrers = new Map());
  referrers.set(manifest.digest, found.descriptor);
}

/**
 * The subject of a manifest and the descriptor that lists it as a referrer: its media type,
 * digest, size, `artifactType` (for an image manifest without one, its config's media type, as
 * the spec says) and annotations. Undefined when the manifest has no (valid) subject.
 */
export function referrerOf(
  manifest: StoredManifest,
): { subject: Digest; descriptor: Descriptor } | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(manifest.bytes));
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null) return undefined;
  const subject = doc.subject as { digest?: unknown } | undefined;
  if (typeof subject?.digest !== "string" || !isDigest(subject.digest)) {
    return undefined;
  }
  const descriptor: Descriptor = {
    mediaType: typeof doc.mediaType === "string" ? doc.mediaType : manifest.mediaType,
    digest: manifest.digest,
    size: manifest.bytes.byteLength,
  };
  const config = doc.config as { mediaType?: unknown } | undefined;
  const artifactType = typeof doc.artifactType === "string"
    ? doc.artifactType
    : typeof config?.mediaType === "string"
    ? config.mediaType
    : undefined;
  if (artifactType !== undefined) descriptor.artifactType = artifactType;
  if (typeof doc.annotations === "object" && doc.annotations !== null) {
    descriptor.annotations = doc.annotations as Record<string, string>;
  }
  return { subject: subject.digest as Digest, descriptor };
}
