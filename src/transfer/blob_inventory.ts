/**
 * What blobs a location holds, for differential archives: `ferry registry ls-blobs LOCATION`
 * prints them, and `ferry save --base LOCATION` leaves them out.
 *
 * A location is a registry directory, an OCI layout (the image store is one), an oci-archive or
 * docker-archive, or a digest list: the text `ls-blobs` prints (one `sha256:…` per line, optionally
 * followed by a size; blank lines and `#` comments ignored) or its `--json` object. An archive
 * counts with the blobs it omits when it is itself differential: a site that loaded it holds them.
 *
 * Nothing here is verified: the list says what a site claims to hold. That is safe because the
 * load at the site checks every omitted blob against its own store before storing anything.
 *
 * @module
 */
import { join, resolve } from "../path.ts";
import { type ArchiveReader, OciArchiveReader, openArchive } from "../archive/mod.ts";
import { type Digest, isDigest } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import { isMissing } from "../fs_util.ts";
import { parseManifest } from "../manifest.ts";
import { MAX_MANIFEST_SIZE } from "../media_types.ts";
import { OciLayout } from "../oci_layout/mod.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import { readAll } from "../streams.ts";
import { parseStorePath } from "./location.ts";

/** Most blobs one location may list (a bound on memory for a hostile or mistaken input). */
export const MAX_INVENTORY_BLOBS = 1_000_000;

/** Most bytes of a digest list read. */
export const MAX_DIGEST_LIST_BYTES = 128 * 1024 * 1024;

/** The kinds of location an inventory is read from. */
export type InventoryKind =
  | "registry-dir"
  | "oci"
  | "oci-archive"
  | "docker-archive"
  | "digest-list";

/** The blobs one location holds. */
export interface BlobInventory {
  /** The location as given, made absolute. */
  path: string;
  kind: InventoryKind;
  /** Sizes by digest (undefined when a digest list gives none). */
  blobs: Map<Digest, number | undefined>;
}

/**
 * Lists the blobs at `location`: a path (its kind detected) or `registry-dir:PATH`, `oci:PATH`,
 * `oci-archive:PATH`, `docker-archive:PATH`.
 *
 * @throws {FerryError} `not_found` when nothing is there, `invalid_input` when it is no store,
 *   archive or digest list (one line naming the path and the line or entry).
 */
export async function listBlobs(location: string): Promise<BlobInventory> {
  const named = parseStorePath(location);
  const path = resolve(named.path);
  let kind: InventoryKind = named.transport ?? await detect(path);
  const blobs = new Map<Digest, number | undefined>();
  const add = (digest: Digest, size: number | undefined) => {
    if (!blobs.has(digest) && blobs.size >= MAX_INVENTORY_BLOBS) {
      throw new FerryError(
        "too_large",
        `${path}: more than ${MAX_INVENTORY_BLOBS} blobs; list fewer at once`,
      );
    }
    blobs.set(digest, size);
  };
  switch (kind) {
    case "registry-dir": {
      const dir = await RegistryDir.open(path, { readOnly: true });
      try {
        for (const { digest, size } of await dir.storedBlobs()) {
          if (size !== undefined) add(digest, size);
        }
      } finally {
        await dir.close();
      }
      break;
    }
    case "oci": {
      const layout = await OciLayout.open(path, { create: false });
      try {
        for (const { digest, size } of await layout.storedBlobs()) add(digest, size);
      } finally {
        await layout.close();
      }
      break;
    }
    case "oci-archive":
    case "docker-archive":
      kind = await archiveBlobs(path, kind, add);
      break;
    case "digest-list":
      await digestListBlobs(path, add);
      break;
  }
  return { path, kind, blobs };
}

async function detect(path: string): Promise<InventoryKind> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (isMissing(err)) throw new FerryError("not_found", `${path}: no such file or directory`);
    throw err;
  }
  if (info.isDirectory) {
    if (await isKind(join(path, "oci-layout"), "file")) return "oci";
    if (await isKind(join(path, "docker/registry/v2"), "dir")) return "registry-dir";
    throw new FerryError(
      "invalid_input",
      `${path}: neither a registry directory (no docker/registry/v2) nor an OCI layout (no oci-layout)`,
    );
  }
  const head = new Uint8Array(512);
  const file = await Deno.open(path);
  let n = 0;
  try {
    while (n < head.length) {
      const got = await file.read(head.subarray(n));
      if (got === null) break;
      n += got;
    }
  } finally {
    file.close();
  }
  const gzip = n >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const ustar = n === 512 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar";
  if (gzip || ustar) return "oci-archive"; // opening it tells the two formats apart
  return "digest-list";
}

async function isKind(path: string, kind: "file" | "dir"): Promise<boolean> {
  try {
    const info = await Deno.lstat(path);
    return kind === "file" ? info.isFile : info.isDirectory;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/** The blobs an archive carries, plus those a differential archive omits; gives its format. */
async function archiveBlobs(
  path: string,
  kind: "oci-archive" | "docker-archive",
  add: (digest: Digest, size: number) => void,
): Promise<"oci-archive" | "docker-archive"> {
  let archive: ArchiveReader;
  try {
    // A docker-archive's classic images get the OCI manifests `ferry load` stores.
    archive = await openArchive(path, {
      synthesize: "oci",
      ...(kind === "docker-archive" ? { format: kind } : {}),
    });
  } catch (err) {
    if (isMissing(err)) throw new FerryError("not_found", `${path}: no such file`);
    throw err;
  }
  try {
    if (archive instanceof OciArchiveReader) {
      for (const b of archive.blobs()) add(b.digest, b.size);
      for (const d of archive.omitted().values()) add(d.digest, d.size);
      return "oci-archive";
    }
    // A docker-archive: what its images use and it holds.
    const target = archive.repository("");
    const seen = new Set<Digest>();
    const visit = async (digest: Digest, mediaType: string, size: number, depth: number) => {
      if (seen.has(digest) || depth > 2) return;
      seen.add(digest);
      const desc = { digest, mediaType, size };
      if (!(await target.exists(desc))) return;
      add(digest, size);
      const where = `${path}@${digest}`;
      const m = parseManifest(
        await readAll(await target.fetch(desc), MAX_MANIFEST_SIZE, where),
        mediaType,
        where,
      );
      const blobs = m.kind === "index" ? [] : [m.config, ...m.layers];
      for (const b of blobs) if (await target.exists(b)) add(b.digest, b.size);
      if (m.kind === "index") {
        for (const c of m.manifests) await visit(c.digest, c.mediaType, c.size, depth + 1);
      }
    };
    for (const image of await archive.images()) {
      const d = image.descriptor;
      await visit(d.digest, d.mediaType, d.size, 0);
    }
    return "docker-archive";
  } finally {
    await archive.close();
  }
}

/** A digest list: `ls-blobs` text (`sha256:… [SIZE]` lines) or its `--json` object. */
async function digestListBlobs(
  path: string,
  add: (digest: Digest, size: number | undefined) => void,
): Promise<void> {
  let bytes: Uint8Array;
  const file = await Deno.open(path);
  try {
    bytes = await readAll(file.readable, MAX_DIGEST_LIST_BYTES, path);
  } catch (err) {
    if (isFerryError(err, "too_large")) {
      throw new FerryError(
        "too_large",
        `${path}: a digest list is at most ${MAX_DIGEST_LIST_BYTES} bytes`,
      );
    }
    throw err;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FerryError(
      "invalid_input",
      `${path}: not a store, an archive or a digest list (not text)`,
    );
  }
  if (text.trimStart().startsWith("{")) return jsonList(path, text, add);
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    const [digest, size, ...rest] = line.split(/\s+/);
    if (!isDigest(digest) || rest.length > 0 || (size !== undefined && !/^\d{1,15}$/.test(size))) {
      throw new FerryError(
        "invalid_input",
        `${path}:${i + 1}: not a digest list line (want sha256:<64 hex> [size]): ${
          JSON.stringify(line.slice(0, 100))
        }`,
      );
    }
    add(digest, size === undefined ? undefined : Number(size));
  }
}

function jsonList(
  path: string,
  text: string,
  add: (digest: Digest, size: number | undefined) => void,
): void {
  const bad = (why: string): never => {
    throw new FerryError(
      "invalid_input",
      `${path}: not a ferry registry ls-blobs --json list: ${why}`,
    );
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    bad("invalid JSON");
  }
  const blobs = (doc as { blobs?: unknown })?.blobs;
  if (!Array.isArray(blobs)) return bad("no blobs list");
  blobs.forEach((b, i) => {
    const { digest, size } = (b ?? {}) as Record<string, unknown>;
    if (typeof digest !== "string" || !isDigest(digest)) bad(`blobs[${i}]: bad digest`);
    if (
      size !== undefined && (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0)
    ) {
      bad(`blobs[${i}]: bad size`);
    }
    add(digest as Digest, size as number | undefined);
  });
}
