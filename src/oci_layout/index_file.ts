/**
 * The `index.json` and `oci-layout` files of an OCI image layout: parsing, editing and writing.
 *
 * Edits keep every field ferry does not understand (other tools' annotations, unknown keys), so
 * ferry can share a layout with skopeo, umoci and buildah.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import { parseDigest } from "../digest.ts";
import { OCI_INDEX } from "../media_types.ts";
import { REF_NAME_ANNOTATION, repositoryOfRefName } from "./ref_name.ts";

/** Content of the `oci-layout` file ferry writes. */
export const OCI_LAYOUT_CONTENT = '{"imageLayoutVersion":"1.0.0"}';

/**
 * Largest `index.json` of a layout directory read: about 250,000 entries, far beyond any image
 * store, and bounded so that a layout off a USB stick cannot make ferry read a huge file whole.
 */
export const MAX_INDEX_FILE_SIZE = 64 * 1024 * 1024;

/** The parsed `index.json` of a layout. */
export interface LayoutIndex {
  /** The entries, in file order. */
  readonly manifests: readonly Descriptor[];
  /** Every other top-level field, kept as read. */
  readonly extra: Readonly<Record<string, unknown>>;
}

/** An index without entries. */
export const EMPTY_INDEX: LayoutIndex = { manifests: [], extra: {} };

/** Checks the `oci-layout` file's version. */
export function checkLayoutFile(bytes: Uint8Array, where: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new FerryError("invalid_input", `${where}: oci-layout is not valid JSON`);
  }
  const version = (doc as Record<string, unknown> | null)?.imageLayoutVersion;
  if (version !== "1.0.0") {
    throw new FerryError(
      "unsupported",
      `${where}: unsupported OCI layout version ${JSON.stringify(version)} (ferry reads 1.0.0)`,
    );
  }
}

/** Parses `index.json` bytes. */
export function parseLayoutIndex(bytes: Uint8Array, where: string): LayoutIndex {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new FerryError("invalid_input", `${where}: index.json is not valid JSON`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new FerryError("invalid_input", `${where}: index.json is not a JSON object`);
  }
  const raw = doc.manifests ?? [];
  if (!Array.isArray(raw)) {
    throw new FerryError("invalid_input", `${where}: index.json "manifests" is not a list`);
  }
  const manifests = raw.map((entry, i) => {
    const d = entry as Record<string, unknown>;
    if (
      typeof d !== "object" || d === null || typeof d.mediaType !== "string" ||
      typeof d.digest !== "string" || typeof d.size !== "number" ||
      !Number.isSafeInteger(d.size) || d.size < 0
    ) {
      throw new FerryError("invalid_input", `${where}: index.json entry ${i} is not a descriptor`);
    }
    // Ref names are read from the annotations: a number or list there is no name to compare.
    if (d.annotations !== undefined && !isStringMap(d.annotations)) {
      throw new FerryError(
        "invalid_input",
        `${where}: index.json entry ${i}: annotations is not a map of strings`,
      );
    }
    return { ...d, digest: parseDigest(d.digest, `${where}: index.json entry ${i}`) } as Descriptor;
  });
  const { manifests: _, ...extra } = doc;
  return { manifests, extra };
}

function isStringMap(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((v) => typeof v === "string");
}

/** Serialises an index (schemaVersion 2, OCI index media type, other fields as read). */
export function serializeLayoutIndex(index: LayoutIndex): Uint8Array {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    ...index.extra,
    manifests: index.manifests,
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** The ref name of an entry, if it has one. */
export function refNameOfEntry(entry: Descriptor): string | undefined {
  return entry.annotations?.[REF_NAME_ANNOTATION];
}

/** The entry named `refName` (the last one when a foreign tool wrote duplicates). */
export function findRef(index: LayoutIndex, refName: string): Descriptor | undefined {
  return index.manifests.findLast((m) => refNameOfEntry(m) === refName);
}

/** Every ref name in the index, sorted, without duplicates. */
export function refNames(index: LayoutIndex): string[] {
  const names = new Set<string>();
  for (const m of index.manifests) {
    const name = refNameOfEntry(m);
    if (name !== undefined) names.add(name);
  }
  return [...names].sort();
}

/** Distinct repository parts of the ref names (see `repositoryOfRefName`), sorted. */
export function repositoryNames(index: LayoutIndex): string[] {
  const names = new Set<string>();
  for (const ref of refNames(index)) {
    const repo = repositoryOfRefName(ref);
    if (repo !== undefined) names.add(repo);
  }
  return [...names].sort();
}

/**
 * The entry an index gets for `desc` named `refName`: media type, digest, size, platform and
 * artifact type of `desc`, and the ref name as its only annotation (annotations of the source
 * index, such as another tool's ref name, would be wrong here).
 */
export function indexEntry(desc: Descriptor, refName?: string): Descriptor {
  return {
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: desc.size,
    ...(desc.platform ? { platform: desc.platform } : {}),
    ...(desc.artifactType ? { artifactType: desc.artifactType } : {}),
    ...(refName !== undefined ? { annotations: { [REF_NAME_ANNOTATION]: refName } } : {}),
  };
}

/** The index with `refName` pointing at `desc`, replacing any entry that had the name. */
export function withRef(index: LayoutIndex, desc: Descriptor, refName: string): LayoutIndex {
  return {
    extra: index.extra,
    manifests: [
      ...index.manifests.filter((m) => refNameOfEntry(m) !== refName),
      indexEntry(desc, refName),
    ],
  };
}

/** The index without entries named `refName`. */
export function withoutRef(index: LayoutIndex, refName: string): LayoutIndex {
  return {
    extra: index.extra,
    manifests: index.manifests.filter((m) => refNameOfEntry(m) !== refName),
  };
}
