/**
 * Remote registries as a {@link Store}: the OCI distribution API over {@link RegistryHttp}.
 *
 * @module
 */
import { type Digest, parseDigest, sha256 } from "../digest.ts";
import { FerryError, printable } from "../errors.ts";
import { type Descriptor, parseManifest } from "../manifest.ts";
import { isManifestType, MANIFEST_TYPES, MAX_MANIFEST_SIZE, OCI_INDEX } from "../media_types.ts";
import { Semaphore } from "../limit.ts";
import { ManifestCache } from "../manifest_cache.ts";
import { registryHost } from "../reference.ts";
import type {
  ContentSource,
  FetchOptions,
  PushOptions,
  ResolveOptions,
  Store,
  StoreAddress,
  TagsOptions,
  Target,
} from "../store.ts";
import { contentLength, readAll, readBody } from "../streams.ts";
import { resumableBody } from "./blob_reader.ts";
import { RegistryError } from "./errors.ts";
import {
  type AuthProvider,
  displayUrl,
  type HttpOptions,
  RegistryHttp,
  responseError,
} from "./http.ts";
import { DEFAULT_RETRY, retryDelay, sleep } from "./retry.ts";

/**
 * Blobs of at most this many bytes (configs, the payloads of signatures and SBOMs) move in a lane
 * of their own, {@link RegistryClientOptions.maxSmallTransfersPerHost} wide: an image waits for
 * them, and in the layers' lane they would queue behind layers of other images for a slot.
 */
export const SMALL_TRANSFER_BYTES = 1024 * 1024;
/** Default {@link RegistryClientOptions.maxTransfersPerHost}. */
export const DEFAULT_TRANSFERS_PER_HOST = 6;
/** Default {@link RegistryClientOptions.maxSmallTransfersPerHost}. */
export const DEFAULT_SMALL_TRANSFERS_PER_HOST = 4;

/** Options of a {@link RegistryClient}. */
export interface RegistryClientOptions extends HttpOptions {
  /** Credentials and tokens. */
  auth: AuthProvider;
  /** Transfers of blobs larger than {@link SMALL_TRANSFER_BYTES} at once per registry host (default 6). */
  maxTransfersPerHost?: number;
  /** Transfers of blobs of at most {@link SMALL_TRANSFER_BYTES} at once per registry host (default 4). */
  maxSmallTransfersPerHost?: number;
  /**
   * Maps a registry name (`docker.io`) to the host serving its API (`registry-1.docker.io`).
   * Default: `registryHost` of `reference.ts`.
   */
  apiHost?: (registry: string) => string;
}

const ACCEPT = MANIFEST_TYPES.join(", ");

/** Largest page of a tag list or the catalog read. */
export const MAX_LIST_PAGE_SIZE = 16 * 1024 * 1024;
/** Pages of a tag list or the catalog followed. */
export const MAX_LIST_PAGES = 10_000;
/** Names (tags, repositories) one listing may hold. */
export const MAX_LIST_NAMES = 1_000_000;

/** Entry point to remote registries; shares credentials, tokens and limits across them. */
export class RegistryClient {
  #options: RegistryClientOptions;
  #registries = new Map<string, RemoteRegistry>();
  #ownClient?: Deno.HttpClient;

  constructor(options: RegistryClientOptions) {
    // One connection pool for every registry of this client, closed by close() alone.
    if (!options.httpClient && options.caCerts?.length) {
      this.#ownClient = Deno.createHttpClient({ caCerts: options.caCerts });
      options = { ...options, httpClient: this.#ownClient };
    }
    this.#options = options;
  }

  /** The registry `name` as written in references (`docker.io`, `localhost:5000`). */
  registry(name: string): RemoteRegistry {
    let reg = this.#registries.get(name);
    if (!reg) {
      const host = (this.#options.apiHost ?? registryHost)(name);
      const http = new RegistryHttp(name, host, this.#options.auth, this.#options);
      reg = newRegistry(http, {
        large: new Semaphore(this.#options.maxTransfersPerHost ?? DEFAULT_TRANSFERS_PER_HOST),
        small: new Semaphore(
          this.#options.maxSmallTransfersPerHost ?? DEFAULT_SMALL_TRANSFERS_PER_HOST,
        ),
      }, this.#options);
      this.#registries.set(name, reg);
    }
    return reg;
  }

  /** `fetch` through this client's connection pool (so token servers trust its CA certificates). */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const client = this.#options.httpClient;
    if (!client) return (this.#options.fetch ?? fetch)(input, init);
    return (this.#options.fetch ?? fetch)(input, { ...init, client } as RequestInit);
  }

  /** Closes every registry and the connection pool this client made; later calls do nothing. */
  async close(): Promise<void> {
    for (const reg of this.#registries.values()) await reg.close();
    this.#ownClient?.close();
    this.#ownClient = undefined;
  }
}

/** Passes `stream` through, telling `onError` when reading it fails. */
function watchErrors(
  stream: ReadableStream<Uint8Array>,
  onError: (err: unknown) => void,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        onError(err);
        throw err;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** Appends a page's names to `into`, refusing non-strings and more than {@link MAX_LIST_NAMES}. */
function addNames(into: string[], names: unknown, what: string): void {
  if (names === undefined || names === null) return;
  if (!Array.isArray(names) || names.some((n) => typeof n !== "string")) {
    throw new FerryError("registry", `${what}: the page's list is not a list of names`);
  }
  if (into.length + names.length > MAX_LIST_NAMES) {
    throw new FerryError("too_large", `${what}: more than ${MAX_LIST_NAMES} names`);
  }
  for (const n of names) into.push(n);
}

/** A registry host's blob transfer slots: one lane for layers, one for small blobs. */
interface TransferLanes {
  large: Semaphore;
  small: Semaphore;
}

/** What a {@link RemoteRepository} uses of its registry; kept off the public type. */
interface RegistryParts {
  http: RegistryHttp;
  transfers: TransferLanes;
  options: HttpOptions;
  pages(
    path: string,
    scopes: string[],
    what: string,
    bounds?: TagsOptions,
  ): AsyncGenerator<unknown>;
  /**
   * Whether the registry answers the referrers API, once a request has told; `asking` is the
   * request that will tell.
   */
  referrersApi: { known?: boolean; asking?: Promise<unknown> };
}

/** Set by {@link RemoteRegistry}'s static block: the one way to its private parts. */
let partsOf: (reg: RemoteRegistry) => RegistryParts;
/** Set by {@link RemoteRegistry}'s static block: its constructor, for {@link RegistryClient}. */
let newRegistry: (
  http: RegistryHttp,
  transfers: TransferLanes,
  options: HttpOptions,
) => RemoteRegistry;

/** One remote registry (from {@link RegistryClient.registry}). */
export class RemoteRegistry implements Store {
  /** `docker://<registry>`. */
  readonly location: string;
  /** `docker` at the registry's name: the remote kind of store. */
  readonly address: StoreAddress;
  readonly #http: RegistryHttp;
  readonly #transfers: TransferLanes;
  readonly #options: HttpOptions;
  readonly #referrersApi: { known?: boolean; asking?: Promise<unknown> } = {};

  static {
    partsOf = (reg) => ({
      http: reg.#http,
      transfers: reg.#transfers,
      options: reg.#options,
      pages: (path, scopes, what, bounds) => reg.#pages(path, scopes, what, bounds),
      referrersApi: reg.#referrersApi,
    });
    newRegistry = (http, transfers, options) => new RemoteRegistry(http, transfers, options);
  }

  /** Made by {@link RegistryClient.registry}, which shares `http`'s pool and the limits. */
  private constructor(http: RegistryHttp, transfers: TransferLanes, options: HttpOptions) {
    this.#http = http;
    this.#transfers = transfers;
    this.#options = options;
    this.location = `docker://${http.registry}`;
    this.address = { transport: "docker", registry: http.registry };
  }

  /** The host serving the registry's API (`registry-1.docker.io` for `docker.io`). */
  get apiHost(): string {
    return this.#http.host;
  }

  repository(name: string): RemoteRepository {
    return new RemoteRepository(this, name);
  }

  /**
   * Starts learning how to reach the registry (the `/v2/` probe: scheme and authentication), so
   * that the first requests need not wait for it. Resolves when known; a failure is reported by
   * the requests that follow, which probe again.
   */
  async connect(): Promise<void> {
    await this.#http.base();
  }

  /**
   * Checks that the registry answers `/v2/` and accepts this client's credentials (after
   * answering its challenge). Used by `login` before anything is written.
   */
  async ping(): Promise<void> {
    const res = await this.#http.send({ method: "GET", url: "/v2/", scopes: [] });
    if (!res.ok) throw await responseError(res, this.location);
    await res.body?.cancel();
  }

  /** Every repository in the catalog (`/v2/_catalog`, following `Link` pages). */
  async repositories(): Promise<string[]> {
    const names: string[] = [];
    for await (
      const page of this.#pages(
        "/v2/_catalog?n=1000",
        ["registry:catalog:*"],
        `${this.location} catalog`,
      )
    ) {
      addNames(
        names,
        (page as { repositories?: unknown }).repositories,
        `${this.location} catalog`,
      );
    }
    return names.sort();
  }

  /**
   * Follows `Link: <…>; rel="next"` pagination, within `bounds` (else the general limits); `what`
   * names the listing in messages (`docker://r/org/app tags`).
   */
  async *#pages(
    path: string,
    scopes: string[],
    what: string,
    bounds: TagsOptions = {},
  ): AsyncGenerator<unknown> {
    const maxPages = Math.min(bounds.maxPages ?? MAX_LIST_PAGES, MAX_LIST_PAGES);
    let left = bounds.maxBytes ?? Infinity;
    let next: string | undefined = path;
    for (let n = 0; next; n++) {
      if (n === maxPages) {
        throw new FerryError("too_large", `${what}: more than ${n} pages`);
      }
      const res = await this.#http.send({ method: "GET", url: next, scopes });
      if (!res.ok) throw await responseError(res, what);
      const bytes = await readBody(res, Math.min(MAX_LIST_PAGE_SIZE, left), what);
      left -= bytes.byteLength;
      let page: unknown;
      try {
        page = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        throw new FerryError("registry", `${what}: the page is not JSON`);
      }
      // Every page is an object (`{"tags": […]}`, an index): `null` or a list is not one.
      if (typeof page !== "object" || page === null || Array.isArray(page)) {
        throw new FerryError("registry", `${what}: the page is not a JSON object`);
      }
      yield page;
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get("link") ?? "");
      if (!link) return;
      // The next page must come from the registry itself: a Link elsewhere is refused rather
      // than fetched (it would be trusted as the registry's answer).
      const base = await this.#http.base();
      let url: URL;
      try {
        url = new URL(link[1], base + path);
      } catch {
        throw new FerryError("registry", `${what}: invalid Link ${printable(link[1])}`);
      }
      if (url.origin !== new URL(base).origin) {
        throw new FerryError(
          "registry",
          `${what}: the next page is on another origin (${printable(url.origin)})`,
        );
      }
      next = url.href;
    }
  }

  close(): Promise<void> {
    this.#http.close();
    return Promise.resolve();
  }
}

/** One repository of a remote registry. */
export class RemoteRepository implements Target {
  readonly name: string;
  readonly location: string;
  #parts: RegistryParts;
  #pull: string[];
  #push: string[];
  /** Manifests seen recently, so `tag` and `fetch` after `resolve` cost no extra GET. */
  #manifests = new ManifestCache({ maxEntries: 64 });
  /** Manifests pushed whose subject the registry said it indexed (`OCI-Subject`). */
  #indexed = new Set<Digest>();

  constructor(reg: RemoteRegistry, name: string) {
    this.#parts = partsOf(reg);
    this.name = name;
    this.location = `${reg.location}/${name}`;
    this.#pull = [`repository:${name}:pull`];
    this.#push = [`repository:${name}:pull,push`];
    // A repository is made to be read: its pull scope rides along with the next token asked
    // for on this registry (many repositories of a save, one token request).
    this.#parts.http.expect(this.#pull);
  }

  async resolve(reference: string, options: ResolveOptions = {}): Promise<Descriptor> {
    const isDigest = reference.includes(":");
    const wanted = isDigest ? parseDigest(reference, this.location) : undefined;
    const what = `${this.location}${isDigest ? "@" : ":"}${reference}`;
    const url = `/v2/${this.name}/manifests/${reference}`;
    if (options.withContent) return this.#resolveByGet(url, what, wanted);
    // HEAD first: it is cheaper and Docker Hub does not count it against the pull rate limit.
    const head = await this.#parts.http.send({
      method: "HEAD",
      url,
      scopes: this.#pull,
      headers: { accept: ACCEPT },
    });
    if (head.status === 404) throw new FerryError("not_found", `${what}: manifest unknown`);
    if (head.ok) {
      const digest = head.headers.get("docker-content-digest");
      const type = head.headers.get("content-type")?.split(";")[0].trim();
      // Digits only: `Number` would take "-5", " 1e3" or "0x10" for a size.
      const size = contentLength(head.headers) ?? NaN;
      if (digest && type && isManifestType(type) && Number.isSafeInteger(size)) {
        const d = parseDigest(digest, what);
        if (wanted && d !== wanted) {
          throw new FerryError("digest_mismatch", `${what}: registry answered with digest ${d}`);
        }
        return { mediaType: type, digest: d, size };
      }
    } else if (head.status !== 405 && head.status !== 400) {
      throw await responseError(head, what);
    }
    return await this.#resolveByGet(url, what, wanted);
  }

  /** Resolves by reading the manifest (verified, and kept for `fetch`). */
  async #resolveByGet(url: string, what: string, wanted?: Digest): Promise<Descriptor> {
    const { bytes, contentType, digest } = await this.#getManifest(url, what);
    if (wanted && digest !== wanted) {
      throw new FerryError("digest_mismatch", `${what}: content has digest ${digest}`);
    }
    const manifest = parseManifest(bytes, contentType, what);
    this.#manifests.set(digest, bytes);
    return { mediaType: manifest.mediaType, digest, size: bytes.byteLength };
  }

  /** GETs a manifest (bounded), with the digest of its bytes, checked against the header. */
  async #getManifest(
    url: string,
    what: string,
  ): Promise<{ bytes: Uint8Array; contentType?: string; digest: Digest }> {
    const res = await this.#parts.http.send({
      method: "GET",
      url,
      scopes: this.#pull,
      headers: { accept: ACCEPT },
    });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new FerryError("not_found", `${what}: manifest unknown`);
    }
    if (!res.ok) throw await responseError(res, what);
    const length = Number(res.headers.get("content-length") ?? 0);
    if (length > MAX_MANIFEST_SIZE) {
      await res.body?.cancel();
      throw new FerryError(
        "too_large",
        `${what}: manifest of ${length} bytes exceeds the 4 MiB limit`,
      );
    }
    const bytes = await readBody(res, MAX_MANIFEST_SIZE, `${what}: manifest`);
    const header = res.headers.get("docker-content-digest");
    const digest = await sha256(bytes);
    if (header && header !== digest) {
      throw new FerryError(
        "digest_mismatch",
        `${what}: Docker-Content-Digest ${printable(header)} does not match content ${digest}`,
      );
    }
    return { bytes, contentType: res.headers.get("content-type") ?? undefined, digest };
  }

  /** Manifest bytes by digest, verified. */
  async manifestBytes(desc: Descriptor): Promise<Uint8Array> {
    const cached = this.#manifests.get(desc.digest);
    if (cached) return cached;
    const what = `${this.location}@${desc.digest}`;
    const { bytes, digest } = await this.#getManifest(
      `/v2/${this.name}/manifests/${desc.digest}`,
      what,
    );
    if (digest !== desc.digest) {
      throw new FerryError("digest_mismatch", `${what}: content has digest ${digest}`);
    }
    this.#manifests.set(digest, bytes);
    return bytes;
  }

  async fetch(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const offset = options.offset ?? 0;
    if (isManifestType(desc.mediaType)) {
      const bytes = await this.manifestBytes(desc);
      return new Blob([bytes.subarray(offset) as Uint8Array<ArrayBuffer>]).stream();
    }
    const what = `${this.location}@${desc.digest}`;
    if (offset >= desc.size) return new Blob([]).stream();
    const lane = this.#lane(desc.size - offset);
    await lane.acquire();
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        lane.release();
      }
    };
    try {
      const open = async (from: number) => {
        const res = await this.#parts.http.send({
          method: "GET",
          url: `/v2/${this.name}/blobs/${desc.digest}`,
          scopes: this.#pull,
          headers: {
            "accept-encoding": "identity",
            ...(from > 0 ? { range: `bytes=${from}-` } : {}),
          },
          signal: options.signal,
          // The body's pauses are bounded by the reader's idle watchdog, not its length by time.
          deadline: "answer",
        });
        if (!res.ok) throw await responseError(res, what);
        const header = res.headers.get("docker-content-digest");
        if (header && header !== desc.digest) {
          await res.body?.cancel();
          throw new FerryError(
            "digest_mismatch",
            `${what}: registry says the blob is ${printable(header)}`,
          );
        }
        return res;
      };
      const body = resumableBody(open, await open(offset), {
        size: desc.size,
        offset,
        what,
        retry: this.#parts.options.retry ?? DEFAULT_RETRY,
        trace: this.#parts.options.trace,
        signal: options.signal,
        onEnd: release,
      });
      return body;
    } catch (err) {
      release();
      throw err;
    }
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const kind = isManifestType(desc.mediaType) ? "manifests" : "blobs";
    const res = await this.#parts.http.send({
      method: "HEAD",
      url: `/v2/${this.name}/${kind}/${desc.digest}`,
      scopes: this.#pull,
      headers: kind === "manifests" ? { accept: ACCEPT } : {},
    });
    await res.body?.cancel();
    if (res.ok) return true;
    if (res.status === 404) return false;
    throw await responseError(res, `${this.location}@${desc.digest}`);
  }

  async push(desc: Descriptor, content: ContentSource, options: PushOptions = {}): Promise<void> {
    if (isManifestType(desc.mediaType)) {
      const bytes = await readAll(
        await content(0),
        MAX_MANIFEST_SIZE,
        `${this.location}@${desc.digest}`,
      );
      if (await sha256(bytes) !== desc.digest) {
        throw new FerryError(
          "digest_mismatch",
          `${this.location}@${desc.digest}: manifest content does not match its digest`,
        );
      }
      await this.#putManifest(desc.digest, desc.mediaType, bytes);
      this.#manifests.set(desc.digest, bytes);
      return;
    }
    const from = options.from;
    const mountFrom = from instanceof RemoteRepository &&
        from.#parts.http.registry === this.#parts.http.registry &&
        from.name !== this.name
      ? from.name
      : undefined;
    await this.#lane(desc.size).run(() => this.#pushBlob(desc, content, mountFrom));
  }

  /** The transfer lane of `bytes`: small blobs are not kept waiting behind layers. */
  #lane(bytes: number): Semaphore {
    const lanes = this.#parts.transfers;
    return bytes <= SMALL_TRANSFER_BYTES ? lanes.small : lanes.large;
  }

  async #pushBlob(desc: Descriptor, content: ContentSource, mountFrom?: string): Promise<void> {
    const what = `${this.location}@${desc.digest}`;
    const policy = this.#parts.options.retry ?? DEFAULT_RETRY;
    for (let attempt = 1;; attempt++) {
      let sourceError: unknown;
      try {
        // A mount needs one token for both repositories: push here, pull there.
        const mount = mountFrom && attempt === 1
          ? `?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(mountFrom)}`
          : "";
        const start = await this.#parts.http.send({
          method: "POST",
          url: `/v2/${this.name}/blobs/uploads/${mount}`,
          scopes: mount ? [...this.#push, `repository:${mountFrom}:pull`] : this.#push,
          headers: { "content-length": "0" },
        });
        if (start.status === 201) return void await start.body?.cancel();
        if (start.status !== 202) throw await responseError(start, `${what}: starting upload`);
        await start.body?.cancel();
        const location = start.headers.get("location");
        if (!location) {
          throw new FerryError("registry", `${what}: upload started without a Location`);
        }
        const base = await this.#parts.http.base() + `/v2/${this.name}/blobs/uploads/`;
        let url: URL;
        try {
          url = new URL(location, base);
        } catch {
          throw new FerryError(
            "registry",
            `${what}: upload started at ${printable(location)}, which is not a URL`,
          );
        }
        url.searchParams.append("digest", desc.digest);
        const put = await this.#parts.http.send({
          method: "PUT",
          url: url.href,
          scopes: this.#push,
          headers: {
            "content-type": "application/octet-stream",
            "content-length": String(desc.size),
          },
          body: async () => watchErrors(await content(0), (err) => sourceError ??= err),
          retry: false,
          // A layer takes as long as the link needs; only the waits are bounded.
          deadline: "answer",
        });
        // A registry may answer before it has read a body whose source failed: the upload then
        // failed, whatever it says.
        if (sourceError !== undefined) {
          await put.body?.cancel();
          throw sourceError;
        }
        if (put.status !== 201 && put.status !== 204 && put.status !== 200) {
          throw await responseError(put, `${what}: upload to ${displayUrl(url)}`);
        }
        await put.body?.cancel();
        return;
      } catch (thrown) {
        // When the source failed, its error is the one to report (the PUT's is its echo).
        const err = sourceError ?? thrown;
        const retryable = err instanceof FerryError ? err.retryable : true;
        if (!retryable || attempt > policy.retries) throw err;
        await sleep(retryDelay(policy, attempt));
      }
    }
  }

  /**
   * The referrers API's list for `subject` (`GET /v2/<name>/referrers/<digest>`, following
   * `Link` pages), or undefined when the registry has no such API (404, 400 or 405: the
   * fallback tag schema applies). Each entry is checked as a descriptor; the caller verifies
   * each manifest it reads.
   */
  async referrers(subject: Descriptor): Promise<Descriptor[] | undefined> {
    // A registry without the API is asked once, not once per image: the answer is registry-wide,
    // so the images that start together wait for the first one's answer.
    const api = this.#parts.referrersApi;
    while (api.known === undefined && api.asking) await api.asking.catch(() => {});
    if (api.known === false) return undefined;
    if (api.known === true) return await this.#referrers(subject);
    const asking = this.#referrers(subject).finally(() => {
      if (api.asking === asking) api.asking = undefined;
    });
    api.asking = asking;
    return await asking;
  }

  async #referrers(subject: Descriptor): Promise<Descriptor[] | undefined> {
    const what = `${this.location}@${subject.digest} referrers`;
    const found: Descriptor[] = [];
    try {
      for await (
        const page of this.#parts.pages(
          `/v2/${this.name}/referrers/${subject.digest}`,
          this.#pull,
          what,
        )
      ) {
        const index = parseManifest(
          new TextEncoder().encode(JSON.stringify(page)),
          OCI_INDEX,
          what,
        );
        if (index.kind !== "index") throw new FerryError("registry", `${what}: not an index`);
        // Counted before they are added, and added one by one: a page of a hundred thousand
        // entries spread into one call's arguments overflows the stack.
        if (found.length + index.manifests.length > MAX_LIST_NAMES) {
          throw new FerryError("too_large", `${what}: more than ${MAX_LIST_NAMES} entries`);
        }
        for (const entry of index.manifests) found.push(entry);
      }
    } catch (err) {
      if (err instanceof RegistryError && [404, 400, 405].includes(err.status)) {
        this.#parts.referrersApi.known = false;
        return undefined;
      }
      throw err;
    }
    this.#parts.referrersApi.known = true;
    return found;
  }

  /**
   * True when the registry indexed every one of `referrers` by its subject (it answered their
   * push with `OCI-Subject`, or has the referrers API); false tells the copy engine to keep the
   * fallback tag instead.
   */
  async addReferrers(subject: Descriptor, referrers: Descriptor[]): Promise<boolean> {
    if (referrers.every((r) => this.#indexed.has(r.digest))) return true;
    return (await this.referrers(subject)) !== undefined;
  }

  async #putManifest(reference: string, mediaType: string, bytes: Uint8Array): Promise<void> {
    const what = `${this.location}${reference.includes(":") ? "@" : ":"}${reference}`;
    const res = await this.#parts.http.send({
      method: "PUT",
      url: `/v2/${this.name}/manifests/${reference}`,
      scopes: this.#push,
      headers: { "content-type": mediaType },
      body: () => bytes as Uint8Array<ArrayBuffer>,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 204) {
      throw await responseError(res, what);
    }
    await res.body?.cancel();
    if (res.headers.has("oci-subject") && reference.includes(":")) {
      if (this.#indexed.size >= 4096) this.#indexed.clear();
      this.#indexed.add(reference as Digest);
    }
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    const bytes = await this.manifestBytes(desc);
    await this.#putManifest(tag, desc.mediaType, bytes);
  }

  /** The repository's tags (`tags/list`, following `Link` pages within `options`' bounds). */
  async tags(options: TagsOptions = {}): Promise<string[]> {
    const tags: string[] = [];
    try {
      for await (
        const page of this.#parts.pages(
          `/v2/${this.name}/tags/list?n=1000`,
          this.#pull,
          `${this.location} tags`,
          options,
        )
      ) {
        addNames(tags, (page as { tags?: unknown }).tags, `${this.location} tags`);
      }
    } catch (err) {
      if (err instanceof FerryError && err.code === "not_found") return [];
      throw err;
    }
    return tags.sort();
  }
}
