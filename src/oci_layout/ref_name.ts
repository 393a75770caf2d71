/**
 * How the one namespace of an OCI image layout (the `org.opencontainers.image.ref.name` annotation
 * of each `index.json` entry) maps onto ferry's repositories and tags.
 *
 * A layout holding many images names them the way skopeo and umoci do: the ref name is the full
 * image name with its tag, e.g. `localhost/app:1.0`. ferry exposes that as:
 *
 * - repository `""`: the whole layout; its tags ARE the ref names (`tag(d, "localhost/app:1.0")`
 *   sets exactly that ref name);
 * - repository `n` (non-empty): tag `t` is the ref name `n:t`, and only ref names of that form
 *   (with no `/` after the colon) are its tags.
 *
 * A bare ref name without a `:tag` part (skopeo's `oci:dir:latest` writes `latest`) belongs to
 * repository `""` only.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/** The annotation that names an entry of an OCI layout's `index.json`. */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

// OCI image-layout spec, annotation `org.opencontainers.image.ref.name`:
//   ref       ::= component ("/" component)*
//   component ::= alphanum (separator alphanum)*
//   alphanum  ::= [A-Za-z0-9]+
//   separator ::= [-._:@+] | "--"
const REF_NAME_RE =
  /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** True when `name` follows the OCI grammar for ref names. */
export function isRefName(name: string): boolean {
  return name.length <= 4096 && REF_NAME_RE.test(name);
}

/**
 * The ref name for `tag` in `repository` (see the module doc), validated.
 *
 * @throws {FerryError} `invalid_reference` when the result is not a valid ref name or a tag of a
 * named repository is not a valid tag.
 */
export function refNameOf(repository: string, tag: string, where = "tag"): string {
  if (repository !== "" && !TAG_RE.test(tag)) {
    throw new FerryError("invalid_reference", `${where}: invalid tag ${JSON.stringify(tag)}`);
  }
  const name = repository === "" ? tag : `${repository}:${tag}`;
  if (!isRefName(name)) {
    throw new FerryError("invalid_reference", `${where}: invalid ref name ${JSON.stringify(name)}`);
  }
  return name;
}

/** The tag `refName` has in `repository`, or undefined when it does not belong to it. */
export function tagOfRefName(repository: string, refName: string): string | undefined {
  if (repository === "") return refName;
  const prefix = `${repository}:`;
  if (!refName.startsWith(prefix)) return undefined;
  const tag = refName.slice(prefix.length);
  return tag !== "" && !tag.includes("/") && !tag.includes(":") ? tag : undefined;
}

/**
 * The repository part of a ref name (`localhost:5000/app:1.0` → `localhost:5000/app`), or
 * undefined for a bare ref name (`latest`) or one naming a digest (`app@sha256:…`).
 */
export function repositoryOfRefName(refName: string): string | undefined {
  if (refName.includes("@")) return undefined;
  const colon = refName.lastIndexOf(":");
  if (colon <= 0 || colon < refName.lastIndexOf("/")) return undefined;
  return refName.slice(0, colon);
}
