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
 * @module
 */
import { resolve } from "node:path";
import { type Digest, isDigest } from "./digest.ts";
import { FerryError } from "./errors.ts";
import { parseReference, validateRepositoryName } from "./reference.ts";
import type { Store } from "./store.ts";

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
 * `repository` in a registry (`docker://HOST`) or registry directory (`registry-dir:PATH`) store.
 */
export function repositoryLocation(store: Store, repository: string, reference: string): string {
  const ref = isDigest(reference) ? { digest: reference } : { tag: reference };
  if (store.location.startsWith("docker://")) {
    const registry = store.location.slice("docker://".length);
    return formatLocation({ transport: "docker", registry, repository, ...ref });
  }
  if (store.location.startsWith("registry-dir:")) {
    const path = store.location.slice("registry-dir:".length);
    return formatLocation({ transport: "registry-dir", path, repository, ...ref });
  }
  return `${store.location}/${repository}${tagAndDigest(ref)}`;
}
