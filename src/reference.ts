/**
 * Image references (`registry/repository[:tag][@digest]`), parsed and normalised the way Docker
 * does it (`ParseNormalizedNamed` of the distribution reference grammar):
 *
 * - the first path component is a registry only if it contains `.` or `:`, is `localhost`, or has
 *   an uppercase letter; otherwise the registry is `docker.io`;
 * - `index.docker.io` is spelled `docker.io`, and a one-component Docker Hub name gets `library/`;
 * - a reference may carry a tag, a digest or both, and both are kept.
 *
 * The parsed value never gains an implicit `latest`: {@link tagOrLatest} supplies it where a
 * registry needs some tag.
 *
 * @module
 */
import type { Digest } from "./digest.ts";
import { FerryError, MAX_QUOTED_CHARS } from "./errors.ts";

/** A parsed, normalised image reference. */
export interface Reference {
  /** Registry as written in references, with port if any: `docker.io`, `localhost:5000`. */
  readonly registry: string;
  /** Repository path inside the registry: `library/nginx`. */
  readonly repository: string;
  /** Tag, when the reference names one. */
  readonly tag?: string;
  /** Digest, when the reference pins one (with or without a tag). */
  readonly digest?: Digest;
}

/** Options for {@link parseReference}. */
export interface ParseReferenceOptions {
  /** Where the text came from (`images/shim/list:3`), prefixed to error messages. */
  where?: string;
}

/** Options for {@link formatReference}. */
export interface FormatReferenceOptions {
  /** Drop `docker.io/` and `library/` the way `docker images` shows names (`nginx:1.25`). */
  familiar?: boolean;
}

/** The registry of references without one. */
export const DEFAULT_REGISTRY = "docker.io";
/** The tag registries assume when a reference has neither tag nor digest. */
export const DEFAULT_TAG = "latest";
/** Longest allowed name (registry + `/` + repository), as in the distribution grammar. */
export const NAME_MAX_LENGTH = 255;

const LEGACY_DEFAULT_REGISTRY = "index.docker.io";
const OFFICIAL_PREFIX = "library/";

// Grammar pieces of github.com/distribution/reference (regexp.go).
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const DOMAIN_AND_PORT = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?`;

const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN_AND_PORT}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const ANY_DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
const IMAGE_ID_RE = /^[a-f0-9]{64}$/;

/** Longest part of a hostile text quoted whole in a message; longer ones are cut. */
/** `text` quoted for a one-line message, cut past {@link MAX_QUOTED_CHARS} with its length said. */
function quote(text: string): string {
  if (text.length <= MAX_QUOTED_CHARS) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, MAX_QUOTED_CHARS))}… (${text.length} characters)`;
}

/**
 * Parses an image reference and normalises it (`nginx` → `docker.io/library/nginx`).
 *
 * @throws {FerryError} `invalid_reference` with message `invalid reference "<text>": <why>`.
 */
export function parseReference(text: string, options: ParseReferenceOptions = {}): Reference {
  const fail = (why: string): never => {
    const prefix = options.where ? `${options.where}: ` : "";
    throw new FerryError(
      "invalid_reference",
      `${prefix}invalid reference ${quote(text)}: ${why}`,
    );
  };
  if (text === "") fail("empty reference");
  if (/["'`]/.test(text)) fail("contains a quote character");
  if (/\s/.test(text)) fail("contains whitespace");
  // deno-lint-ignore no-control-regex -- control characters are exactly what is looked for
  if (/[\x00-\x1f\x7f]/.test(text)) fail("contains a control character");
  if (IMAGE_ID_RE.test(text)) {
    fail("a 64-character hexadecimal string is an image ID, not a repository name");
  }

  // The name and tag cannot contain "@", so the first one starts the digest.
  const at = text.indexOf("@");
  const nameAndTag = at === -1 ? text : text.slice(0, at);
  const digestText = at === -1 ? undefined : text.slice(at + 1);

  // "../x" would otherwise read as registry "..": name the real problem.
  const dots = nameAndTag.split("/").find((c) => c === "." || c === "..");
  if (dots) fail(`path component ${quote(dots)} is not allowed`);

  const { registry, remainder } = splitRegistry(nameAndTag);
  // The registry is split off, so any ":" left separates the tag.
  const colon = remainder.indexOf(":");
  const repository = colon === -1 ? remainder : remainder.slice(0, colon);
  const tag = colon === -1 ? undefined : remainder.slice(colon + 1);

  if (registry === "") fail("empty registry name");
  if (!DOMAIN_RE.test(registry)) fail(`invalid registry name ${quote(registry)}`);
  const why = repositoryProblem(repository);
  if (why) fail(why);
  const name = `${registry}/${repository}`;
  if (name.length > NAME_MAX_LENGTH) {
    fail(`name is ${name.length} characters long, the limit is ${NAME_MAX_LENGTH}`);
  }
  if (tag !== undefined && !TAG_RE.test(tag)) {
    fail(
      tag === ""
        ? "empty tag"
        : `invalid tag ${
          quote(tag)
        } (allowed: up to 128 of [A-Za-z0-9_.-], not starting with . or -)`,
    );
  }
  let digest: Digest | undefined;
  if (digestText !== undefined) digest = digestOrFail(digestText, fail);

  return {
    registry,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** Like {@link parseReference}, but returns `undefined` instead of throwing. */
export function tryParseReference(text: string): Reference | undefined {
  try {
    return parseReference(text);
  } catch {
    return undefined;
  }
}

/**
 * Formats a reference: `docker.io/library/nginx:1.25@sha256:…`; with `familiar`, `nginx:1.25@…`.
 */
export function formatReference(ref: Reference, options: FormatReferenceOptions = {}): string {
  let out = options.familiar ? familiarName(ref) : referenceName(ref);
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** The full name without tag or digest: `docker.io/library/nginx`. */
export function referenceName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The short name Docker shows: `nginx`, `bitnami/redis`, `ghcr.io/a/b`. */
export function familiarName(ref: Reference): string {
  if (ref.registry !== DEFAULT_REGISTRY) return referenceName(ref);
  const rest = ref.repository;
  if (rest.startsWith(OFFICIAL_PREFIX) && !rest.slice(OFFICIAL_PREFIX.length).includes("/")) {
    return rest.slice(OFFICIAL_PREFIX.length);
  }
  return rest;
}

/** The reference's tag, or `latest` when it has none. */
export function tagOrLatest(ref: Reference): string {
  return ref.tag ?? DEFAULT_TAG;
}

/**
 * What to ask the registry for: the digest when pinned (it wins over a tag, as in Docker),
 * else the tag, else `latest`.
 */
export function manifestReference(ref: Reference): string {
  return ref.digest ?? tagOrLatest(ref);
}

/**
 * The host serving a registry's API: `docker.io` is served by `registry-1.docker.io`; every other
 * registry serves itself.
 */
export function registryHost(registry: string): string {
  return registry === DEFAULT_REGISTRY || registry === LEGACY_DEFAULT_REGISTRY
    ? "registry-1.docker.io"
    : registry;
}

/**
 * Validates a repository path without registry (`library/nginx`), as registry servers and
 * directory layouts receive them; rejects `..`, escapes, uppercase and empty components.
 *
 * @returns the name unchanged.
 * @throws {FerryError} `invalid_reference`.
 */
export function validateRepositoryName(name: string): string {
  const why = repositoryProblem(name) ??
    (name.length > NAME_MAX_LENGTH
      ? `name is ${name.length} characters long, the limit is ${NAME_MAX_LENGTH}`
      : undefined);
  if (why) {
    throw new FerryError(
      "invalid_reference",
      `invalid repository name ${quote(name)}: ${why}`,
    );
  }
  return name;
}

/** True when `name` is a valid repository path (see {@link validateRepositoryName}). */
export function isRepositoryName(name: string): boolean {
  return repositoryProblem(name) === undefined && name.length <= NAME_MAX_LENGTH;
}

/**
 * Validates a tag: up to 128 characters of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
 *
 * @returns the tag unchanged.
 * @throws {FerryError} `invalid_reference`.
 */
export function validateTag(tag: string): string {
  if (!TAG_RE.test(tag)) {
    throw new FerryError("invalid_reference", `invalid tag ${quote(tag)}`);
  }
  return tag;
}

/** True when `tag` is a valid tag. */
export function isTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Splits off the registry as Docker's `splitDockerDomain` does and normalises Docker Hub names. */
function splitRegistry(name: string): { registry: string; remainder: string } {
  const slash = name.indexOf("/");
  let registry: string;
  let remainder: string;
  const first = slash === -1 ? "" : name.slice(0, slash);
  if (
    slash === -1 ||
    (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)
  ) {
    registry = DEFAULT_REGISTRY;
    remainder = name;
  } else {
    registry = first;
    remainder = name.slice(slash + 1);
  }
  if (registry === LEGACY_DEFAULT_REGISTRY) registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && !remainder.includes("/")) {
    remainder = OFFICIAL_PREFIX + remainder;
  }
  return { registry, remainder };
}

/** Why `path` is not a valid repository path, or `undefined` when it is. */
function repositoryProblem(path: string): string | undefined {
  if (path === "") return "empty repository name";
  for (const component of path.split("/")) {
    if (component === "") return "empty path component";
    if (PATH_COMPONENT_RE.test(component)) continue;
    if (PATH_COMPONENT_RE.test(component.toLowerCase())) {
      return "repository name must be lowercase";
    }
    if (component === "." || component === "..") {
      return `path component ${quote(component)} is not allowed`;
    }
    return `invalid path component ${quote(component)} ` +
      "(allowed: lowercase letters and digits, separated by '.', '_', '__' or dashes)";
  }
  return undefined;
}

function digestOrFail(text: string, fail: (why: string) => never): Digest {
  if (SHA256_RE.test(text)) return text as Digest;
  if (text.startsWith("sha256:")) {
    return fail("a sha256 digest must be 64 lowercase hexadecimal characters");
  }
  if (ANY_DIGEST_RE.test(text)) {
    return fail(`digest algorithm ${quote(text.split(":")[0])} is not supported`);
  }
  return fail(`invalid digest ${quote(text)}`);
}

const REFERRER_TAG_RE = /^sha256-[0-9a-f]{64}(?:\.(?:sig|att|sbom))?$/;

/**
 * True for the tags that name what belongs to an image rather than an image: the referrers
 * fallback tag `sha256-<hex>` and the cosign tags `sha256-<hex>.sig`, `.att`, `.sbom` (see
 * `src/copy/referrers.ts`), also as the tag part of a ref name (`app:sha256-<hex>.sig`). Image
 * lists and syncs leave them out.
 */
export function isReferrerTag(tag: string): boolean {
  return REFERRER_TAG_RE.test(tag.slice(tag.lastIndexOf(":") + 1));
}
