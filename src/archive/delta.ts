/**
 * The record a differential archive (`ferry save --base`) carries of the blobs it leaves out.
 *
 * A differential archive is an ordinary oci-archive whose manifests reference some blobs that are
 * not in the tar, because the site already holds them. So that a reader can tell a deliberate
 * omission from damage, the archive holds `ferry-delta.json` at its root:
 *
 * ```json
 * {"schemaVersion":1,"omitted":[{"mediaType":"…","digest":"sha256:…","size":123}]}
 * ```
 *
 * and `index.json` carries the annotation `io.ferry.delta.omitted-blobs` (their count), so a person
 * looking at the layout sees it too. The OCI image layout allows other files next to `oci-layout`
 * and `index.json`; other tools ignore this one, and fail on the first missing blob they need
 * (skopeo: `no such file or directory` naming the blob) rather than producing an image.
 *
 * @module
 */
import { type Digest, isDigest } from "../digest.ts";
import { FerryError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";

/** The file in the archive listing the omitted blobs. */
export const DELTA_FILE = "ferry-delta.json";

/** The `index.json` annotation giving how many blobs a differential archive omits. */
export const DELTA_ANNOTATION = "io.ferry.delta.omitted-blobs";

/** Most bytes of {@link DELTA_FILE} read (about 100 000 entries). */
export const MAX_DELTA_RECORD = 16 * 1024 * 1024;

/** Serialises the record of `omitted` (sorted by digest, so the archive is reproducible). */
export function serializeDeltaRecord(omitted: Iterable<Descriptor>): Uint8Array {
  const list = [...omitted]
    .map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size }))
    .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  return new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, omitted: list }));
}

/**
 * Parses the record (hostile input: every entry is checked).
 *
 * @throws {FerryError} `invalid_input` naming `where` when it is not a valid record.
 */
export function parseDeltaRecord(bytes: Uint8Array, where: string): Map<Digest, Descriptor> {
  const bad = (why: string): never => {
    throw new FerryError("invalid_input", `${where}: invalid ${DELTA_FILE}: ${why}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    bad("not JSON");
  }
  if (typeof doc !== "object" || doc === null) return bad("not an object");
  const { schemaVersion, omitted } = doc as Record<string, unknown>;
  if (schemaVersion !== 1) bad(`unknown schemaVersion ${JSON.stringify(schemaVersion)}`);
  if (!Array.isArray(omitted)) return bad("omitted is not a list");
  const out = new Map<Digest, Descriptor>();
  for (const entry of omitted) {
    const { mediaType, digest, size } = (entry ?? {}) as Record<string, unknown>;
    if (typeof digest !== "string" || !isDigest(digest)) {
      bad(`bad digest ${JSON.stringify(digest)}`);
    }
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      bad(`bad size for ${digest}`);
    }
    if (typeof mediaType !== "string" || mediaType.length > 255) {
      bad(`bad mediaType for ${digest}`);
    }
    out.set(digest as Digest, {
      mediaType: mediaType as string,
      digest: digest as Digest,
      size: size as number,
    });
  }
  return out;
}
