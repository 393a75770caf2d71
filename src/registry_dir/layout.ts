/**
 * Paths of the CNCF distribution registry's filesystem storage (`docker/registry/v2`), and the name
 * and tag grammars that make them safe: every path is built from a validated repository name, tag
 * or digest, so nothing can point outside the root.
 *
 * @module
 */
import { type Digest, digestHex } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { isRepositoryName, isTag, NAME_MAX_LENGTH } from "../reference.ts";

/** Longest repository name distribution accepts. */
export const MAX_NAME_LENGTH = NAME_MAX_LENGTH;

// Names come from the one grammar in reference.ts. A valid component never starts with `_`, which
// keeps names clear of the `_layers`, `_manifests` and `_uploads` directories.
export { isRepositoryName, isTag };

/** Validates a repository name; throws `invalid_input` naming `where`. */
export function checkRepositoryName(name: string, where: string): string {
  if (!isRepositoryName(name)) {
    throw new FerryError(
      "invalid_input",
      `${where}: invalid repository name ${
        JSON.stringify(name)
      } (want lowercase [a-z0-9] components separated by '/', joined by '.', '_', '__' or '-', at most ${MAX_NAME_LENGTH} characters)`,
    );
  }
  return name;
}

/** Validates a tag; throws `invalid_reference` naming `where`. */
export function checkTag(tag: string, where: string): string {
  if (!isTag(tag)) {
    throw new FerryError(
      "invalid_reference",
      `${where}: invalid tag ${JSON.stringify(tag)} (want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})`,
    );
  }
  return tag;
}

/** Path builder for one registry root. All inputs must already be validated. */
export class Layout {
  /** The registry root (what docker-registry calls `rootdirectory`). */
  readonly root: string;
  /** `<root>/docker/registry/v2`. */
  readonly v2: string;
  /** `<root>/.ferry-tmp`: staging on the same filesystem, ignored by docker-registry. */
  readonly staging: string;

  constructor(root: string) {
    this.root = root;
    this.v2 = `${root}/docker/registry/v2`;
    this.staging = `${root}/.ferry-tmp`;
  }

  /** `blobs/`. */
  get blobs(): string {
    return `${this.v2}/blobs`;
  }

  /** `repositories/`. */
  get repositories(): string {
    return `${this.v2}/repositories`;
  }

  /** Directory of one blob: `blobs/sha256/<hex[0:2]>/<hex>`. */
  blobDir(digest: Digest): string {
    const hex = digestHex(digest);
    return `${this.v2}/blobs/sha256/${hex.slice(0, 2)}/${hex}`;
  }

  /** The content of one blob: `blobs/sha256/<hex[0:2]>/<hex>/data`. */
  blobData(digest: Digest): string {
    return `${this.blobDir(digest)}/data`;
  }

  /** Staging file of a blob being written. */
  partial(digest: Digest): string {
    return `${this.staging}/${digestHex(digest)}.partial`;
  }

  /** `repositories/<name>`. */
  repository(name: string): string {
    return `${this.v2}/repositories/${name}`;
  }

  /** Link that lets `name` read a layer or config: `_layers/sha256/<hex>/link`. */
  layerLink(name: string, digest: Digest): string {
    return `${this.repository(name)}/_layers/sha256/${digestHex(digest)}/link`;
  }

  /** Link that makes a manifest part of `name`: `_manifests/revisions/sha256/<hex>/link`. */
  revisionLink(name: string, digest: Digest): string {
    return `${this.repository(name)}/_manifests/revisions/sha256/${digestHex(digest)}/link`;
  }

  /** `_manifests/tags`. */
  tagsDir(name: string): string {
    return `${this.repository(name)}/_manifests/tags`;
  }

  /** `_manifests/tags/<tag>`. */
  tagDir(name: string, tag: string): string {
    return `${this.tagsDir(name)}/${tag}`;
  }

  /** Where a tag points now: `_manifests/tags/<tag>/current/link`. */
  tagCurrentLink(name: string, tag: string): string {
    return `${this.tagDir(name, tag)}/current/link`;
  }

  /** History of a tag: `_manifests/tags/<tag>/index/sha256/<hex>/link`. */
  tagIndexLink(name: string, tag: string, digest: Digest): string {
    return `${this.tagDir(name, tag)}/index/sha256/${digestHex(digest)}/link`;
  }

  /** In-flight uploads of docker-registry; ferry only creates it, empty, for parity. */
  uploads(name: string): string {
    return `${this.repository(name)}/_uploads`;
  }
}
