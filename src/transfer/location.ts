/**
 * Image locations as skopeo-style transport strings: parsing them, and writing them back the one
 * way ferry prints them. Opening a location as a store is {@link ./transport.ts}'s job; this
 * module stays free of the stores so that code which only names images loads none of them.
 *
 * | string | store |
 * | --- | --- |
 * | `docker://HOST/NAME[:TAG\|@DIGEST]` | a remote registry |
 * | `registry-dir:PATH:NAME[:TAG\|@DIGEST]` | a registry directory (distribution layout) |
 * | `oci:PATH[:REF]` | an OCI image layout (REF = `org.opencontainers.image.ref.name`) |
 * | `oci-archive:FILE[:REF]` | a tar of an OCI layout |
 * | `docker-archive:FILE[:NAME:TAG\|:@N]` | a `docker save` tar |
 *
 * An archive spec, `TRANSPORT:PATH@REPOSITORY[:TAG]` (a line of a context's
 * `images/skopeo/tar.txt`, an item of `registry save --tars`), names an archive and the repository
 * its image is saved as; {@link parseArchiveSpec} reads both kinds.
 *
 * @module
 */
import { resolve } from "../path.ts";
import { type Digest, isDigest } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { isRepositoryName, isTag, parseReference, validateRepositoryName } from "../reference.ts";
import type { Store, StoreAddress } from "../store.ts";

/** A parsed image location. */
export type Location =
  | { transport: "docker"; registry: string; repository: string; tag?: string; digest?: Digest }
  | { transport: "registry-dir"; path: string; repository: string; tag?: string; digest?: Digest }
  | { transport: "oci"; path: string; ref?: string }
  | { transport: "oci-archive"; path: string; ref?: string }
  | { transport: "docker-archive"; path: string; ref?: string };

const TRANSPORTS = ["docker", "registry-dir", "oci", "oci-archive", "docker-archive"] as const;

function usage(text: string, why: string): never {
  throw new FerryError("usage", `invalid image location ${JSON.stringify(text)}: ${why}`);
}

/** Splits `NAME[:TAG|@DIGEST]` (no registry) into its parts. */
function splitNameRef(
  text: string,
  name: string,
): { repository: string; tag?: string; digest?: Digest } {
  const at = name.indexOf("@");
  const digest = at >= 0 ? name.slice(at + 1) : undefined;
  let rest = at >= 0 ? name.slice(0, at) : name;
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (!rest) usage(text, "no repository name");
  // Reuse the reference grammar for tag and digest checks.
  const ref = parseReference(
    `localhost/${rest}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`,
  );
  return { repository: validateRepositoryName(rest), tag: ref.tag, digest: ref.digest };
}

/** The transports that name a whole store by its path (`registry verify`, `ls-blobs`, `--base`). */
export const STORE_TRANSPORTS = ["registry-dir", "oci", "oci-archive", "docker-archive"] as const;

/** One of {@link STORE_TRANSPORTS}. */
export type StoreTransport = typeof STORE_TRANSPORTS[number];

/**
 * Splits `TRANSPORT:PATH` naming a whole store, not an image in it: the transport, and the path as
 * written (all that follows the prefix, colons included). A text without one of
 * {@link STORE_TRANSPORTS} is a plain path (`transport` undefined).
 */
export function parseStorePath(text: string): { transport?: StoreTransport; path: string } {
  const colon = text.indexOf(":");
  const prefix = colon > 0 ? text.slice(0, colon) : "";
  return (STORE_TRANSPORTS as readonly string[]).includes(prefix)
    ? { transport: prefix as StoreTransport, path: text.slice(colon + 1) }
    : { path: text };
}

/** Parses a transport string. A string without a transport is read as `docker://`. */
export function parseLocation(text: string): Location {
  const colon = text.indexOf(":");
  const prefix = colon > 0 ? text.slice(0, colon) : "";
  const transport = (TRANSPORTS as readonly string[]).includes(prefix) ? prefix : undefined;
  // `nginx:1.25` and `localhost:5000/x` are image names; `dir:/tmp/x` or `foo://x` name a transport.
  if (!transport && /^[a-z][a-z0-9-]*:(?:\/|\.)/.test(text)) {
    usage(text, `unknown transport ${prefix} (want one of ${TRANSPORTS.join(", ")})`);
  }
  const rest = transport ? text.slice(colon + 1) : text;
  switch (transport ?? "docker") {
    case "docker": {
      const body = rest.replace(/^\/\//, "");
      const ref = parseReference(body);
      return {
        transport: "docker",
        registry: ref.registry,
        repository: ref.repository,
        tag: ref.tag,
        digest: ref.digest,
      };
    }
    case "registry-dir": {
      const sep = rest.indexOf(":");
      if (sep <= 0) usage(text, "want registry-dir:PATH:NAME[:TAG]");
      return {
        transport: "registry-dir",
        path: rest.slice(0, sep),
        ...splitNameRef(text, rest.slice(sep + 1)),
      };
    }
    default: {
      const sep = rest.indexOf(":");
      const path = sep >= 0 ? rest.slice(0, sep) : rest;
      const ref = sep >= 0 ? rest.slice(sep + 1) : undefined;
      if (!path) usage(text, "no path");
      return {
        transport: transport as "oci" | "oci-archive" | "docker-archive",
        path,
        ref: ref || undefined,
      };
    }
  }
}

/** `:TAG`, `@DIGEST`, both or neither. */
function tagAndDigest(loc: { tag?: string; digest?: Digest }): string {
  return `${loc.tag !== undefined ? `:${loc.tag}` : ""}${loc.digest ? `@${loc.digest}` : ""}`;
}

/**
 * The one way ferry writes an image location (in JSON output and progress): the string
 * {@link parseLocation} reads back, with the path made absolute and a registry name normalised
 * (`docker://docker.io/library/nginx:1.27`, `oci-archive:/abs/app.tar:1.0`).
 */
export function formatLocation(loc: Location): string {
  switch (loc.transport) {
    case "docker":
      return `docker://${loc.registry}/${loc.repository}${tagAndDigest(loc)}`;
    case "registry-dir":
      return `registry-dir:${resolve(loc.path)}:${loc.repository}${tagAndDigest(loc)}`;
    default:
      return `${loc.transport}:${resolve(loc.path)}${loc.ref ? `:${loc.ref}` : ""}`;
  }
}

/**
 * `loc` naming the image `reference` (a tag, a digest, a layout ref name or a docker-archive's
 * `NAME:TAG`/`@N`) when it names none itself.
 */
export function withReference(loc: Location, reference: string | undefined): Location {
  if (reference === undefined) return loc;
  switch (loc.transport) {
    case "docker":
    case "registry-dir":
      if (loc.tag !== undefined || loc.digest !== undefined) return loc;
      return isDigest(reference) ? { ...loc, digest: reference } : { ...loc, tag: reference };
    default:
      return loc.ref !== undefined ? loc : { ...loc, ref: reference };
  }
}

/**
 * The location string ({@link formatLocation}) of image `reference` (a tag or a digest) of
 * `repository` in a registry (`docker://HOST`) or registry directory (`registry-dir:PATH`) store;
 * for other stores, `reference` appended to the store's `location`.
 */
export function repositoryLocation(store: Store, repository: string, reference: string): string {
  const ref = isDigest(reference) ? { digest: reference } : { tag: reference };
  if (store.address) return formatLocation(imageIn(store.address, repository, ref));
  return `${store.location}/${repository}${tagAndDigest(ref)}`;
}

/** Image `repository` (with `ref`) in the registry or registry directory at `address`. */
function imageIn(
  address: StoreAddress,
  repository: string,
  ref: { tag?: string; digest?: Digest },
): Location {
  return address.transport === "docker"
    ? { transport: "docker", registry: address.registry, repository, ...ref }
    : { transport: "registry-dir", path: address.path, repository, ...ref };
}

/** `registry-dir:PATH`, or a path as written (`/…`, `./…`, `../…`): a registry directory. */
function registryDirPath(text: string): string | undefined {
  if (text.startsWith("registry-dir:")) return text.slice("registry-dir:".length);
  if (text.startsWith("/") || text.startsWith(".")) return text;
  return undefined;
}

/** `docker://` and trailing slashes removed. */
function registryText(text: string): string {
  return text.replace(/^docker:\/\//, "").replace(/\/+$/, "");
}

/**
 * Parses a whole registry or registry directory (one side of `registry sync`): `registry-dir:PATH`
 * or a path starting with `/` or `.`; `docker://HOST[:PORT]` or `HOST[:PORT]`.
 *
 * @throws {FerryError} `usage` for anything else.
 */
export function parseStoreAddress(text: string): StoreAddress {
  const path = registryDirPath(text);
  if (path !== undefined) return { transport: "registry-dir", path };
  if (text.startsWith("docker://") || /^[a-z0-9.-]+(:\d+)?\/?$/i.test(text)) {
    return { transport: "docker", registry: registryText(text) };
  }
  throw new FerryError(
    "usage",
    `${text}: want a registry (HOST[:PORT] or docker://HOST) or a registry directory (a path or registry-dir:PATH)`,
  );
}

/**
 * Where `registry copy` puts `image`: under the same repository path and tag in `registry`, a
 * registry directory (`registry-dir:PATH`, or a path starting with `/` or `.`) or else a registry
 * (`[docker://]HOST[:PORT][/PREFIX]`). `text` names the destination as the user wrote it
 * (`HOST/REPOSITORY:TAG`, `registry-dir:PATH:REPOSITORY:TAG`).
 *
 * @throws {FerryError} for a destination that names no valid image (as {@link parseLocation}).
 */
export function copyDestination(
  registry: string,
  image: { repository: string; tag?: string },
): { location: Location; text: string } {
  const name = `${image.repository}${image.tag ? `:${image.tag}` : ""}`;
  const path = registryDirPath(registry);
  if (path !== undefined) {
    const text = `registry-dir:${path}:${name}`;
    return { location: parseLocation(text), text };
  }
  const text = `${registryText(registry)}/${name}`;
  return { location: parseLocation(`docker://${text}`), text };
}

/** The transports of image archives an archive spec may name. */
export type ArchiveTransport = "docker-archive" | "oci-archive";

const ARCHIVE_TRANSPORTS: readonly ArchiveTransport[] = ["docker-archive", "oci-archive"];

/** A parsed archive spec. */
export interface ArchiveSpec {
  transport: ArchiveTransport;
  /** The archive's path, as the caller's `path` made it from the one written. */
  path: string;
  /**
   * `REPOSITORY:TAG` (`latest` when the spec gives no tag), both validated; split by
   * {@link archiveDestination}.
   */
  destination: string;
}

/** How {@link parseArchiveSpec} reports and places what it reads. */
export interface ArchiveSpecOptions {
  /** Throws the caller's error for a spec that is not valid, saying why. */
  fail: (why: string) => never;
  /**
   * Makes the archive's path from the one written (never empty), calling `fail` for a path the
   * caller does not allow.
   */
  path: (written: string) => string;
}

/**
 * Parses an archive spec, `TRANSPORT:PATH@REPOSITORY[:TAG]`: the first `@` ends the path, the
 * transport is `docker-archive` or `oci-archive`, the path is not empty, and the repository and
 * tag follow the reference grammar.
 */
export function parseArchiveSpec(text: string, options: ArchiveSpecOptions): ArchiveSpec {
  const { fail } = options;
  const at = text.indexOf("@");
  if (at === -1) fail(`${JSON.stringify(text)} is not <transport>:<path>@<repository[:tag]>`);
  const location = text.slice(0, at);
  const colon = location.indexOf(":");
  const transport = colon === -1 ? location : location.slice(0, colon);
  if (!ARCHIVE_TRANSPORTS.includes(transport as ArchiveTransport)) {
    fail(`unsupported transport ${JSON.stringify(transport)} (use docker-archive or oci-archive)`);
  }
  const written = colon === -1 ? "" : location.slice(colon + 1);
  if (written === "") fail("empty archive path");
  const path = options.path(written);
  return {
    transport: transport as ArchiveTransport,
    path,
    destination: normaliseDestination(text.slice(at + 1), fail),
  };
}

/** An archive spec's `destination` (`REPOSITORY:TAG`) as its two parts. */
export function archiveDestination(destination: string): { repository: string; tag: string } {
  const colon = destination.lastIndexOf(":");
  return { repository: destination.slice(0, colon), tag: destination.slice(colon + 1) };
}

/** `REPOSITORY[:TAG]` validated, with `:latest` added when it has no tag. */
function normaliseDestination(text: string, fail: (why: string) => never): string {
  const colon = text.lastIndexOf(":");
  // A ":" before the last "/" would be a registry port, which a destination cannot have.
  const hasTag = colon !== -1 && !text.slice(colon).includes("/");
  const repository = hasTag ? text.slice(0, colon) : text;
  const tag = hasTag ? text.slice(colon + 1) : "latest";
  if (!isRepositoryName(repository)) {
    fail(`invalid destination repository ${JSON.stringify(repository)}`);
  }
  if (!isTag(tag)) fail(`invalid destination tag ${JSON.stringify(tag)}`);
  return `${repository}:${tag}`;
}
