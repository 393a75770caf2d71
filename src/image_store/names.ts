/**
 * How images are named in the local image store, and where the store lives.
 *
 * Every stored image is named by its full, normalised reference with a tag, the way podman and
 * Sealos name them: `docker.io/library/nginx:1.27` for a pull of `nginx:1.27`, and
 * `localhost/app:1.0` for `ferry tag … app:1.0` (an unqualified name given to `build -t` or `tag`
 * belongs to no registry, so it gets `localhost/`, Sealos's rule). An image pulled by digest alone
 * is named `registry/repository@sha256:…`. An image loaded from an archive without any name is
 * recorded under its digest (`sha256:…`), shown as `<none>`.
 *
 * @module
 */
import { join } from "../path.ts";
import { type Digest, isDigest } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { parseReference, type Reference, referenceName } from "../reference.ts";

/** Reads an environment variable; undefined when unset or not permitted. */
export type EnvReader = (name: string) => string | undefined;

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * The store's directory when `--root` is not given: `$FERRY_ROOT`, else `$XDG_DATA_HOME/ferry`,
 * else `~/.local/share/ferry`.
 *
 * @throws {FerryError} `usage` when none of `FERRY_ROOT`, `XDG_DATA_HOME` and `HOME` is set.
 */
export function defaultRoot(env: EnvReader = readEnv): string {
  const explicit = env("FERRY_ROOT");
  if (explicit) return explicit;
  const data = env("XDG_DATA_HOME");
  if (data) return join(data, "ferry");
  const home = env("HOME");
  if (home) return join(home, ".local", "share", "ferry");
  throw new FerryError(
    "usage",
    "cannot place the image store: set --root, FERRY_ROOT, XDG_DATA_HOME or HOME",
  );
}

/** The stored name of a parsed reference: `registry/repository:tag` (`:latest` by default). */
export function nameOfReference(ref: Reference): string {
  const base = referenceName(ref);
  if (ref.tag !== undefined) return `${base}:${ref.tag}`;
  if (ref.digest !== undefined) return `${base}@${ref.digest}`;
  return `${base}:latest`;
}

/**
 * Whether the text names a registry in its first path component (`ghcr.io/x`, `localhost/x`,
 * `host:5000/x`), by Docker's rule.
 */
function hasRegistry(text: string): boolean {
  const slash = text.indexOf("/");
  if (slash < 0) return false;
  const first = text.slice(0, slash);
  return /[.:]/.test(first) || first === "localhost" || first.toLowerCase() !== first;
}

/**
 * The name a pulled or loaded image is stored under: the Docker-normalised reference with its tag
 * (`nginx` → `docker.io/library/nginx:latest`).
 *
 * @throws {FerryError} `invalid_reference` when the text does not parse.
 */
export function remoteImageName(text: string): string {
  return nameOfReference(parseReference(text));
}

/**
 * The name `ferry tag` and `ferry build -t` give an image: an unqualified name becomes
 * `localhost/<name>`, and a missing tag becomes `latest` (`app` → `localhost/app:latest`,
 * `ghcr.io/org/app:1` stays).
 *
 * @throws {FerryError} `invalid_reference` when the text does not parse or names a digest.
 */
export function localImageName(text: string): string {
  const ref = parseReference(hasRegistry(text) ? text : `localhost/${text}`);
  if (ref.digest !== undefined) {
    throw new FerryError(
      "invalid_reference",
      `invalid image name ${JSON.stringify(text)}: a new name cannot contain a digest`,
    );
  }
  return nameOfReference(ref);
}

/**
 * The stored names `text` may stand for, most specific first: the text itself, its
 * Docker-normalised form, and (for a name without registry) its `localhost/` form. Empty when the
 * text parses as no reference.
 */
export function lookupNames(text: string): string[] {
  const names = [text];
  const ref = tryParse(text);
  if (ref) {
    names.push(nameOfReference(ref));
    if (ref.tag !== undefined && ref.digest !== undefined) {
      names.push(`${referenceName(ref)}@${ref.digest}`);
    }
    if (!hasRegistry(text)) {
      const local = tryParse(`localhost/${text}`);
      if (local) names.push(nameOfReference(local));
    }
  }
  return [...new Set(names)];
}

function tryParse(text: string): Reference | undefined {
  try {
    return parseReference(text);
  } catch {
    return undefined;
  }
}

/**
 * A digest or a prefix of one's hex part, as `docker images` IDs are given: `sha256:<hex>`,
 * `<hex>`, with at least 12 hex characters. Returns the lowercase hex prefix, or undefined.
 */
export function digestPrefix(text: string): string | undefined {
  const m = /^(?:sha256:)?([a-f0-9]{12,64})$/.exec(text);
  return m ? m[1] : undefined;
}

/** Whether a stored ref name is the placeholder of an image without a name (its digest). */
export function isUnnamed(refName: string): refName is Digest {
  return isDigest(refName);
}
