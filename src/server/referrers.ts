/**
 * The referrers API (`GET /v2/<name>/referrers/<digest>`): which manifests of a repository name a
 * given manifest as their `subject`.
 *
 * Every request lists the repository's manifests afresh, so manifests written into the store by
 * another process (a second server, `ferry copy`, docker-registry) are seen at once. What each
 * manifest refers to is parsed once and kept by digest: a manifest's bytes never change.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import { type Descriptor, referrerOf } from "../manifest.ts";

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

/** What a manifest refers to: its subject and its descriptor as a referrer, or null for none. */
type Parsed = { subject: Digest; descriptor: Descriptor } | null;

/** Parsed manifests kept before the cache starts over (about 100 MB at most). */
const CACHE_LIMIT = 200_000;

/** Referrers of every repository of one store. */
export class ReferrersIndex {
  #source: ManifestSource;
  #parsed = new Map<Digest, Parsed>();

  constructor(source: ManifestSource) {
    this.#source = source;
  }

  /** Descriptors of the manifests of `name` whose subject is `subject`, sorted by digest. */
  async referrers(name: string, subject: Digest): Promise<Descriptor[]> {
    const found: Descriptor[] = [];
    for (const digest of await this.#source.list(name)) {
      let parsed = this.#parsed.get(digest);
      if (parsed === undefined) {
        const manifest = await this.#source.read(name, digest);
        // Gone or unreadable now: skipped, and asked again next time.
        if (!manifest) continue;
        parsed = referrerOf(manifest) ?? null;
        if (this.#parsed.size >= CACHE_LIMIT) this.#parsed.clear();
        this.#parsed.set(digest, parsed);
      }
      if (parsed?.subject === subject) found.push(parsed.descriptor);
    }
    return found.sort((a, b) => a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);
  }
}
