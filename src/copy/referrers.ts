/**
 * What belongs to an image besides its content: signatures, SBOMs and attestations, found the
 * three ways registries keep them, and kept at a destination so that the same three ways find
 * them there.
 *
 * - OCI 1.1 referrers: manifests whose `subject` names the image, listed by the referrers API
 *   (`GET /v2/<name>/referrers/<digest>`, {@link Target.referrers});
 * - the referrers fallback tag schema, for registries without that API: an index tagged
 *   `sha256-<hex>` (the subject's digest) lists them;
 * - the cosign tag convention: `sha256-<hex>.sig`, `.att`, `.sbom` name a signature, an
 *   attestation and an SBOM of the image with that digest.
 *
 * A source may list anything: the copy engine reads every manifest found here as any other
 * (size bound, digest verified) and copies an OCI 1.1 referrer only when its `subject` really is
 * the image. Counts per image and depths of referrers of referrers are bounded.
 *
 * @module
 */
import { type Digest, digestHex, sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { type Descriptor, parseManifest, referrerOf } from "../manifest.ts";
import { isIndexType, isManifestType, MAX_MANIFEST_SIZE, OCI_INDEX } from "../media_types.ts";
import type { Semaphore } from "../limit.ts";
import { isReferrerTag } from "../reference.ts";
import type { Target } from "../store.ts";
import { readAll } from "../streams.ts";

export { isReferrerTag, referrerOf };

/** Referrers (all three ways together) one image may have. */
export const MAX_REFERRERS_PER_SUBJECT = 1000;
/** Levels of referrers of referrers followed (a signature on an SBOM of an image is level 2). */
export const MAX_REFERRER_DEPTH = 4;
/** Discovery requests (referrers lists, fallback and cosign tag probes) one copy engine runs at once. */
export const MAX_DISCOVERY_REQUESTS = 8;
/**
 * Pages of a remote repository's tag list read to find its referrer tags; a longer list is not
 * read on, and each image's tags are asked for one by one instead.
 */
export const MAX_TAG_LIST_PAGES = 8;
/** Bytes of those pages together (about 10,000 tags); past them, tags are asked for one by one. */
export const MAX_TAG_LIST_BYTES = 1024 * 1024;
/** Repositories whose referrer tags one {@link TagLists} keeps (the oldest is dropped first). */
export const MAX_TAG_LISTS_KEPT = 64;

/**
 * Warns (one line) when `subject`, just copied into a docker-archive, has referrers in `src`: the
 * format has no place for them.
 */
export async function warnDockerArchiveReferrers(
  src: Target,
  subject: Descriptor,
  where: string,
  warn?: (message: string) => void,
): Promise<void> {
  if (!warn || (await discoverReferrers(src, subject, { where })).length === 0) return;
  warn(
    `${where}: a docker-archive cannot hold signatures, SBOMs or attestations: they are left out (use oci-archive to keep them)`,
  );
}

/** The cosign tag suffixes, in the order they are reported. */
export const COSIGN_SUFFIXES = [".sig", ".att", ".sbom"] as const;

/** What a referrer is, for reports ("signed: 1 signature, 1 SBOM"). */
export type ReferrerKind = "signature" | "attestation" | "sbom" | "other";

/** A manifest found for an image. */
export interface FoundReferrer {
  /** As the source listed it (an API or fallback index entry, or what the tag resolves to). */
  descriptor: Descriptor;
  /** The cosign tag it was found under; absent for OCI 1.1 referrers. */
  tag?: string;
}

/** The fallback tag of `subject` (`sha256-<hex>`). */
export function fallbackTag(subject: Digest): string {
  return `sha256-${digestHex(subject)}`;
}

/**
 * What a referrer is: its cosign tag says so, else its `artifactType`, else its layers' media
 * types (a cosign signature pushed as an OCI 1.1 referrer has a simple-signing layer).
 */
export function referrerKind(
  referrer: { tag?: string; artifactType?: string; layers?: Descriptor[] },
): ReferrerKind {
  const tag = referrer.tag ?? "";
  if (tag.endsWith(".sig")) return "signature";
  if (tag.endsWith(".att")) return "attestation";
  if (tag.endsWith(".sbom")) return "sbom";
  for (const type of [referrer.artifactType, ...(referrer.layers ?? []).map((l) => l.mediaType)]) {
    const t = (type ?? "").toLowerCase();
    if (/(?:^|[./+-])sig(?:[./+-]|$)|signature|notary|simplesigning/.test(t)) return "signature";
    if (/in-toto|intoto|dsse|attestation|provenance/.test(t)) return "attestation";
    if (/sbom|spdx|cyclonedx|syft/.test(t)) return "sbom";
  }
  return "other";
}

/** `1 signature, 1 SBOM` for a list of kinds (empty string for none). */
export function describeReferrers(kinds: ReferrerKind[]): string {
  const words: Record<ReferrerKind, [string, string]> = {
    signature: ["signature", "signatures"],
    attestation: ["attestation", "attestations"],
    sbom: ["SBOM", "SBOMs"],
    other: ["other referrer", "other referrers"],
  };
  const parts: string[] = [];
  for (const kind of ["signature", "attestation", "sbom", "other"] as const) {
    const n = kinds.filter((k) => k === kind).length;
    if (n > 0) parts.push(`${n} ${words[kind][n === 1 ? 0 : 1]}`);
  }
  return parts.join(", ");
}

/**
 * The referrer tags (`sha256-<hex>`, `.sig`, `.att`, `.sbom`) of remote repositories, each from
 * one bounded read of its tag list shared by every image of the repository that a copy looks at:
 * one request per repository instead of four per image, and a fetch only of the tags that exist.
 * A tag pushed after its repository was listed is found by the next copy.
 */
export class TagLists {
  #lists = new Map<string, Promise<ReadonlySet<string> | undefined>>();

  /**
   * The referrer tags `target` holds, or undefined when each must be asked for: a local target
   * (a lookup costs no round trip), and a listing refused (401, 403, 404: not every registry
   * lists tags), failed, past {@link MAX_TAG_LIST_PAGES} or {@link MAX_TAG_LIST_BYTES}, or empty
   * (the image being copied is there, so an empty list is not the registry's true answer).
   */
  referrerTags(
    target: Target,
    limited: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
  ): Promise<ReadonlySet<string> | undefined> {
    if (target.local) return Promise.resolve(undefined);
    let list = this.#lists.get(target.location);
    if (!list) {
      list = limited(() =>
        target.tags({ maxPages: MAX_TAG_LIST_PAGES, maxBytes: MAX_TAG_LIST_BYTES })
      ).then(
        (tags) => tags.length === 0 ? undefined : new Set(tags.filter(isReferrerTag)),
        () => undefined,
      );
      if (this.#lists.size >= MAX_TAG_LISTS_KEPT) {
        this.#lists.delete(this.#lists.keys().next().value!);
      }
      this.#lists.set(target.location, list);
    }
    return list;
  }
}

/** Options of {@link discoverReferrers}. */
export interface DiscoverOptions {
  /** Names the image in errors. */
  where: string;
  /** Bounds the requests of many discoveries at once. */
  limit?: Semaphore;
  /** Told about entries skipped (not manifests). */
  warn?: (message: string) => void;
  /** Tag lists shared by many discoveries (one listing per repository); else one of its own. */
  tagLists?: TagLists;
}

/**
 * Everything `src` holds for `subject`: its OCI 1.1 referrers (the target's own list, else the
 * fallback tag's index) and the manifests its cosign tags name, each once (a cosign manifest that
 * is also a referrer keeps its tag). The lookups run at once. A registry is asked its referrers
 * list (where it has the API) and its repository's tag list (once per {@link TagLists}), then
 * reads only the cosign and fallback tags listed; where the tag list is not to be had, it is
 * asked one HEAD per cosign tag (and the fallback tag, without the API).
 *
 * @throws {FerryError} `too_large` for more than {@link MAX_REFERRERS_PER_SUBJECT}.
 */
export async function discoverReferrers(
  src: Target,
  subject: Descriptor,
  options: DiscoverOptions,
): Promise<FoundReferrer[]> {
  const limited = <T>(fn: () => Promise<T>) => options.limit ? options.limit.run(fn) : fn();
  const tags = (options.tagLists ?? new TagLists()).referrerTags(src, limited);
  // Without a list every tag is looked up; with one, only the tags it holds, read at once.
  const lookUp = async (tag: string, warn?: (message: string) => void) => {
    const listed = await tags;
    if (listed && !listed.has(tag)) return undefined;
    return await limited(() =>
      resolveIfAny(src, tag, { where: options.where, warn, withContent: !!listed })
    );
  };
  const [listed, ...tagged] = await Promise.all([
    listReferrers(src, subject, options.where, { lookUp: (tag) => lookUp(tag), limited }),
    ...COSIGN_SUFFIXES.map((suffix) =>
      lookUp(`${fallbackTag(subject.digest)}${suffix}`, options.warn)
    ),
  ]);
  const found = new Map<Digest, FoundReferrer>();
  COSIGN_SUFFIXES.forEach((suffix, i) => {
    const descriptor = tagged[i];
    if (descriptor) {
      found.set(descriptor.digest, {
        descriptor,
        tag: `${fallbackTag(subject.digest)}${suffix}`,
      });
    }
  });
  for (const descriptor of listed) {
    if (found.has(descriptor.digest)) continue;
    if (!isManifestType(descriptor.mediaType)) {
      options.warn?.(
        `${options.where}: skipping referrer ${descriptor.digest} of media type ${descriptor.mediaType}`,
      );
      continue;
    }
    found.set(descriptor.digest, { descriptor });
  }
  // A manifest cannot refer to itself; a tag can name anything, so this is checked.
  found.delete(subject.digest);
  if (found.size > MAX_REFERRERS_PER_SUBJECT) {
    throw new FerryError(
      "too_large",
      `${options.where}: ${subject.digest} has ${found.size} referrers (at most ${MAX_REFERRERS_PER_SUBJECT})`,
    );
  }
  return [...found.values()];
}

/** How {@link listReferrers} looks up the fallback tag and bounds its requests. */
export interface ListOptions {
  /** What a tag names, or undefined for no such tag. */
  lookUp?: (tag: string) => Promise<Descriptor | undefined>;
  /** Runs a request within the discovery's bound. */
  limited?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * The OCI 1.1 referrers `src` lists for `subject`: its own answer, else the fallback index (read
 * bounded and verified). Entries are the source's word: a caller reads each manifest to check
 * its `subject`.
 *
 * @throws {FerryError} `too_large` for more than {@link MAX_REFERRERS_PER_SUBJECT}; a fallback
 *   index that is not one, too large or corrupt.
 */
export async function listReferrers(
  src: Target,
  subject: Descriptor,
  where: string,
  options: ListOptions = {},
): Promise<Descriptor[]> {
  const limited = options.limited ?? ((fn) => fn());
  const own = src.referrers ? await limited(() => src.referrers!(subject)) : undefined;
  const listed = own ??
    (await readFallbackIndex(src, subject.digest, where, options.lookUp)).manifests;
  if (listed.length > MAX_REFERRERS_PER_SUBJECT) {
    throw new FerryError(
      "too_large",
      `${where}: ${subject.digest} lists ${listed.length} referrers (at most ${MAX_REFERRERS_PER_SUBJECT})`,
    );
  }
  return listed;
}

/**
 * What a tag names, or undefined when there is no such tag (or, told to `warn`, when it names
 * something ferry does not copy, such as a schema 1 manifest).
 */
async function resolveIfAny(
  target: Target,
  tag: string,
  options: { where?: string; warn?: (message: string) => void; withContent?: boolean } = {},
): Promise<Descriptor | undefined> {
  try {
    return await target.resolve(tag, { withContent: options.withContent });
  } catch (err) {
    if (isFerryError(err, "not_found", "invalid_reference")) return undefined;
    if (options.warn && isFerryError(err, "unsupported", "invalid_input")) {
      options.warn(`${options.where}: skipping ${tag}: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}

/**
 * The index the fallback tag of `subject` names in `target` (its entries; none without the
 * tag), read bounded and verified.
 */
async function readFallbackIndex(
  target: Target,
  subject: Digest,
  where: string,
  lookUp: (tag: string) => Promise<Descriptor | undefined> = (tag) => resolveIfAny(target, tag),
): Promise<{ manifests: Descriptor[]; annotations?: Record<string, string> }> {
  const desc = await lookUp(fallbackTag(subject));
  if (!desc) return { manifests: [] };
  const what = `${where}: referrers index ${fallbackTag(subject)}`;
  if (!isIndexType(desc.mediaType)) {
    throw new FerryError("invalid_input", `${what} is a ${desc.mediaType}, not an index`);
  }
  if (desc.size > MAX_MANIFEST_SIZE) {
    throw new FerryError("too_large", `${what} of ${desc.size} bytes exceeds the 4 MiB limit`);
  }
  const bytes = await readAll(await target.fetch(desc), MAX_MANIFEST_SIZE, what);
  if (await sha256(bytes) !== desc.digest) {
    throw new FerryError("digest_mismatch", `${what} does not match its digest ${desc.digest}`);
  }
  const index = parseManifest(bytes, desc.mediaType, what);
  if (index.kind !== "index") throw new FerryError("invalid_input", `${what} is not an index`);
  return { manifests: index.manifests, annotations: index.annotations };
}

/**
 * The index the fallback tag `sha256-<hex>` of `subject` is to name in `dst`: the one it names
 * now with `referrers` (manifests already in `dst` whose subject is `subject`) added, what it
 * listed kept; undefined when it lists them all already. The caller stores it and points the tag
 * at it (how a registry without the referrers API, docker-registry 2.8 or a registry directory,
 * serves them), and serialises updates of one subject until the tag is written.
 */
export async function fallbackIndex(
  dst: Target,
  subject: Digest,
  referrers: Descriptor[],
  where: string,
): Promise<{ desc: Descriptor; bytes: Uint8Array } | undefined> {
  const current = await readFallbackIndex(dst, subject, where);
  const held = new Set(current.manifests.map((m) => m.digest));
  const added = referrers.filter((r) => !held.has(r.digest));
  if (added.length === 0) return undefined;
  const manifests = [...current.manifests, ...added];
  if (manifests.length > MAX_REFERRERS_PER_SUBJECT) {
    throw new FerryError(
      "too_large",
      `${where}: ${subject} would have ${manifests.length} referrers (at most ${MAX_REFERRERS_PER_SUBJECT})`,
    );
  }
  const bytes = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests,
    ...(current.annotations ? { annotations: current.annotations } : {}),
  }));
  return {
    desc: { mediaType: OCI_INDEX, digest: await sha256(bytes), size: bytes.byteLength },
    bytes,
  };
}

/** How many of each kind belong to an image (`ferry inspect`). */
export interface ReferrerCounts {
  signatures: number;
  attestations: number;
  sboms: number;
  other: number;
}

/**
 * Counts what `target` holds for each of `subjects` (an image's index and its manifests), by
 * kind: each manifest found is read (bounded, verified) to tell a signature from an SBOM.
 */
export async function countReferrers(
  target: Target,
  subjects: Descriptor[],
  where: string,
): Promise<ReferrerCounts> {
  const counts: ReferrerCounts = { signatures: 0, attestations: 0, sboms: 0, other: 0 };
  const key = {
    signature: "signatures",
    attestation: "attestations",
    sbom: "sboms",
    other: "other",
  } as const;
  const tagLists = new TagLists();
  for (const subject of subjects) {
    for (const found of await discoverReferrers(target, subject, { where, tagLists })) {
      const desc = found.descriptor;
      let layers: Descriptor[] = [];
      let artifactType = desc.artifactType;
      if (desc.size <= MAX_MANIFEST_SIZE) {
        const bytes = await readAll(await target.fetch(desc), MAX_MANIFEST_SIZE, where);
        if (await sha256(bytes) === desc.digest) {
          const manifest = parseManifest(bytes, desc.mediaType, where);
          if (manifest.kind === "manifest") {
            layers = manifest.layers;
            artifactType ??= manifest.artifactType;
          }
        }
      }
      counts[key[referrerKind({ tag: found.tag, artifactType, layers })]]++;
    }
  }
  return counts;
}

/** `1 signature, 1 SBOM` (empty for none). */
export function formatReferrerCounts(counts: ReferrerCounts): string {
  const kinds: ReferrerKind[] = [
    ...Array<ReferrerKind>(counts.signatures).fill("signature"),
    ...Array<ReferrerKind>(counts.attestations).fill("attestation"),
    ...Array<ReferrerKind>(counts.sboms).fill("sbom"),
    ...Array<ReferrerKind>(counts.other).fill("other"),
  ];
  return describeReferrers(kinds);
}
