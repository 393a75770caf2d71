/**
 * The one storage interface every image location implements: a remote registry, a registry
 * directory (distribution layout), an OCI layout, an archive. The copy engine moves images between
 * any two of them, so a new location is a new implementation, never a new copy loop.
 *
 * The shape follows oras-go's `Target` and regclient's `scheme`: a {@link Store} holds named
 * repositories; a {@link Target} is one repository with resolve / fetch / exists / push / tag.
 *
 * @module
 */
import type { Descriptor } from "./manifest.ts";

/**
 * Lazily opens content from a byte offset. Writers call it only when they really need the bytes
 * (a blob already present is linked without opening anything), and call it again with a larger
 * offset to resume after a cut connection or a crash.
 */
export type ContentSource = (offset: number) => Promise<ReadableStream<Uint8Array>>;

/** Options for {@link Target.fetch}. */
export interface FetchOptions {
  /** Start at this byte (resuming). The stream then yields `size - offset` bytes. */
  offset?: number;
  /** Cancels the transfer. */
  signal?: AbortSignal;
}

/** Hints for {@link Target.resolve}. */
export interface ResolveOptions {
  /**
   * The caller reads the manifest next: a remote store fetches it with the resolution (one GET
   * instead of HEAD then GET) and keeps the bytes for {@link Target.fetch}. Without it a registry
   * is asked with HEAD, which Docker Hub does not count as a pull.
   */
  withContent?: boolean;
}

/**
 * Bounds of one listing of tags ({@link Target.tags}) where a listing costs round trips and its
 * size is the server's choice (a registry's paginated `tags/list`); past either it fails with
 * `too_large`. Stores that list what they hold locally need not apply them.
 */
export interface TagsOptions {
  /** Pages read at most. */
  maxPages?: number;
  /** Bytes of all pages together read at most. */
  maxBytes?: number;
}

/** Hints for {@link Target.push}. */
export interface PushOptions {
  /**
   * Where the content is being copied from. A registry holding both repositories mounts the blob
   * (`POST ?mount=…&from=…`) instead of receiving it again.
   */
  from?: Target;
}

/** A tag to point at a manifest ({@link Target.stageTags}). */
export interface TagRequest {
  desc: Descriptor;
  tag: string;
}

/** Tags whose bytes are on disk, not yet visible ({@link Target.stageTags}). */
export interface StagedTags {
  /**
   * Points the tags, in the order given (a reader, or what a crash leaves, sees a tag only once
   * those before it are there), at their manifests, which must be held by now; no further wait
   * for the disk. With `after`, it checks what it can at once and points the tags only once
   * `after` resolves (fails, pointing none, when it rejects): several commits chained so land
   * in order without waiting for each other's checks. When it fails, those not yet pointed are
   * not.
   */
  commit(after?: Promise<void>): Promise<void>;
  /** Drops them: none is pointed. */
  discard(): Promise<void>;
}

/** One repository of a store. */
export interface Target {
  /** Repository name within its store (`library/nginx`; empty for single-image stores). */
  readonly name: string;
  /** Human-readable location for messages, e.g. `docker://ghcr.io/org/app` (never with secrets). */
  readonly location: string;
  /**
   * Set by stores on local disk or in memory, where a read costs no round trip: the copy engine
   * then reads an image it skips as already present, to count its blobs.
   */
  readonly local?: boolean;
  /** Resolves a tag or `sha256:` digest to the descriptor of the manifest it names. */
  resolve(reference: string, options?: ResolveOptions): Promise<Descriptor>;
  /**
   * Opens a blob or manifest. The stream is NOT verified here: callers that trust the bytes must
   * verify them (the copy engine does, once, on the way to the destination).
   */
  fetch(desc: Descriptor, options?: FetchOptions): Promise<ReadableStream<Uint8Array>>;
  /**
   * Optional: a manifest's bytes read whole (at most `MAX_MANIFEST_SIZE`), the same bytes as
   * {@link fetch} gives, for targets that read them whole anyway or hold them already (a registry
   * kept the bytes of its resolving GET, a registry directory those its resolve read): no stream
   * to build and drain. Unlike {@link fetch}, verified: the bytes hash to `desc.digest` (a
   * mismatch is `digest_mismatch`), so a caller need not hash them again; a target that cannot
   * check them must not offer it.
   */
  manifestBytes?(desc: Descriptor): Promise<Uint8Array>;
  /** Whether this repository already holds the content (for manifests: by digest). */
  exists(desc: Descriptor): Promise<boolean>;
  /**
   * Stores content. Implementations verify size and digest before the content becomes visible and
   * never leave a partial object where a reader could take it as whole.
   */
  push(desc: Descriptor, content: ContentSource, options?: PushOptions): Promise<void>;
  /** Points `tag` at a manifest already pushed to this repository. */
  tag(desc: Descriptor, tag: string): Promise<void>;
  /**
   * Optional: the first half of tagging, for a caller that writes tags while what they name is
   * still being stored: the tags' bytes are made durable now, and none is visible until
   * {@link StagedTags.commit}. Stores without it are tagged with {@link tag}.
   */
  stageTags?(tags: readonly TagRequest[]): Promise<StagedTags>;
  /** The tags of this repository, sorted. */
  tags(options?: TagsOptions): Promise<string[]>;
  /**
   * Optional: the manifests that name `subject` as theirs (OCI 1.1 referrers), as this target
   * lists them (a registry's referrers API; a layout's `index.json`), or undefined when it cannot
   * say (a registry without the API). Targets without it, or answering undefined, are searched
   * by the fallback tag schema (`sha256-<hex>`); see `src/copy/referrers.ts`.
   */
  referrers?(subject: Descriptor): Promise<Descriptor[] | undefined>;
  /**
   * Optional: records `referrers`, manifests already pushed here whose subject is `subject`, so
   * that {@link referrers} lists them; false when this target cannot (a registry without the
   * referrers API). Targets without it, or answering false, get the fallback tag instead.
   */
  addReferrers?(subject: Descriptor, referrers: Descriptor[]): Promise<boolean>;
}

/**
 * Where a store of named repositories is, for the two kinds whose images are named by
 * repository and tag: a registry (`docker`, the one remote kind) and a registry directory.
 */
export type StoreAddress =
  | { transport: "docker"; registry: string }
  | { transport: "registry-dir"; path: string };

/** A set of repositories in one place. */
export interface Store {
  /** Human-readable location for messages (never parsed: see {@link address}). */
  readonly location: string;
  /**
   * Set by registries and registry directories: where the store is, so that an image in it can
   * be named by location string (`transfer/location.ts`) and a remote store told from a local one.
   */
  readonly address?: StoreAddress;
  /** The repository `name` (created on first push when it does not exist). */
  repository(name: string): Target;
  /** Names of the repositories held, sorted. */
  repositories(): Promise<string[]>;
  /** Finishes pending work (flushes indexes, removes temp files, closes connections). */
  close(): Promise<void>;
  /**
   * Set by stores whose writes only become whole at {@link close} (an archive being written):
   * gives up instead, removing what was written, so that a failed copy leaves nothing a reader
   * could take as whole.
   */
  abort?(): Promise<void>;
}

/**
 * Ends the use of `store` after a copy into it: `close()` when the copy succeeded, `abort()` when
 * it failed and the store has it (else `close()`, as every write so far is whole).
 */
export async function finishStore(store: Store, ok: boolean): Promise<void> {
  if (!ok && store.abort) await store.abort();
  else await store.close();
}

/** A {@link ContentSource} over bytes already in memory. */
export function bytesSource(bytes: Uint8Array): ContentSource {
  return (offset) =>
    Promise.resolve(
      new ReadableStream<Uint8Array>({
        start(controller) {
          if (offset < bytes.byteLength) controller.enqueue(bytes.subarray(offset));
          controller.close();
        },
      }),
    );
}
