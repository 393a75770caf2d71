/**
 * Checking an image location that arrived: a registry directory (see
 * ../registry_dir/verify.ts), an OCI layout (the local image store is one), an oci-archive or a
 * docker-archive (`ferry save` writes archives that are both). For a layout or archive: every
 * `index.json` / `manifest.json` entry resolves, every manifest and index is stored, hashes to its
 * digest and parses, every blob they name is stored with the descriptor's size and hashes to its
 * digest, and every other stored blob (`blobs/sha256/*`) hashes to its name. Problems are
 * collected (the first few kept, the rest counted), not thrown.
 *
 * @module
 */
import { type Digest, Sha256, sha256 } from "../digest.ts";
import { readAll } from "../streams.ts";
import { errorMessage, FerryError, isFerryError } from "../errors.ts";
import { type Descriptor, parseManifest } from "../manifest.ts";
import { isManifestType, MAX_MANIFEST_SIZE } from "../media_types.ts";
import { runBounded } from "../limit.ts";
import { StoreRoot } from "../store_root.ts";
import type { Target } from "../store.ts";
import {
  DEFAULT_VERIFY_WIDTH,
  ProblemList,
  RegistryDir,
  type VerifyOptions,
  verifyRegistryDir,
  type VerifyReport,
} from "../registry_dir/mod.ts";
import type { OciLayout } from "../oci_layout/mod.ts";
import { type Location, parseLocation, parseStorePath } from "./location.ts";

/** What {@link verifyLocation} found. */
export interface LocationVerifyReport extends VerifyReport {
  /** The location checked (`registry-dir:/abs`, `oci:/abs`, `oci-archive:/abs/file.tar`…). */
  location: string;
  /** Entries of `index.json` / `manifest.json` checked (0 for a registry directory). */
  images: number;
  /** Blobs a differential archive (`ferry save --base`) leaves out on purpose, not checked. */
  omitted: number;
}

/** A layout or archive as the checker reads it. */
interface ImageSource {
  location: string;
  /** Entries of `index.json` / `manifest.json`, each with where it is written. */
  roots: { desc: Descriptor; where: string }[];
  /** Every stored blob, referenced or not, when the format lets them be listed. */
  stored: { digest: Digest; size: number }[];
  /** The stored size of the blob `desc` names, undefined when it is not stored. */
  size(desc: Descriptor): Promise<number | undefined>;
  /** Opens a stored blob. */
  open(desc: Descriptor): Promise<ReadableStream<Uint8Array>>;
  /** Where a blob is, for problem lines. */
  path(digest: Digest): string;
  /** Blobs left out on purpose (a differential archive's `ferry-delta.json`). */
  omitted?: ReadonlyMap<Digest, Descriptor>;
}

/**
 * Parses `text` as `ferry copy` does, except that a string without a transport is a registry
 * directory; a reference part (`:REF`, `:NAME:TAG`) is refused, since the whole store is checked.
 */
export function verifyTarget(text: string): Location {
  const named = parseStorePath(text);
  if (named.transport === undefined || named.transport === "registry-dir") {
    return { transport: "registry-dir", path: named.path, repository: "" };
  }
  const loc = parseLocation(text);
  if ("ref" in loc && loc.ref !== undefined) {
    throw new FerryError(
      "usage",
      `${text}: verify checks a whole layout or archive; name it without :${loc.ref}`,
    );
  }
  return loc;
}

/** Checks the store at `text` (see {@link verifyTarget}); never throws for what it finds inside. */
export async function verifyLocation(
  text: string,
  options: VerifyOptions = {},
): Promise<LocationVerifyReport> {
  const loc = verifyTarget(text);
  switch (loc.transport) {
    case "registry-dir": {
      await refuseOtherFormats(loc.path, text);
      const dir = await RegistryDir.open(loc.path, { readOnly: true });
      try {
        return {
          ...await verifyRegistryDir(dir, options),
          location: dir.location,
          images: 0,
          omitted: 0,
        };
      } finally {
        await dir.close();
      }
    }
    case "oci": {
      // Layout and archive code is loaded only for the locations that need it.
      const { OciLayout } = await import("../oci_layout/mod.ts");
      const layout = await OciLayout.open(loc.path, { create: false });
      try {
        return await verifySource(await layoutSource(layout), options);
      } finally {
        await layout.close();
      }
    }
    case "oci-archive":
    case "docker-archive": {
      const { openArchive } = await import("../archive/mod.ts");
      const archive = await openArchive(loc.path, { format: loc.transport });
      try {
        const target = archive.repository("");
        const stored = "storedBlobs" in archive ? archive.storedBlobs() : [];
        const sizes = new Map(stored.map((b) => [b.digest, b.size]));
        const images = await archive.images();
        return await verifySource({
          location: archive.location,
          roots: images.map((image, i) => ({
            desc: image.descriptor,
            where: `${loc.transport === "oci-archive" ? "index.json" : "manifest.json"} entry ${
              i + 1
            }${image.names.length ? ` (${image.names.join(", ")})` : ""}`,
          })),
          stored,
          omitted: "omitted" in archive ? archive.omitted() : undefined,
          // A docker-archive serves blobs it makes (its manifests) and lists none: asked whether
          // it has the descriptor's size, it is read only when it has not.
          size: async (desc) =>
            "storedBlobs" in archive
              ? sizes.get(desc.digest)
              : await target.exists(desc)
              ? desc.size
              : await sizeByReading(target, desc.digest),
          open: (desc) => target.fetch(desc),
          path: (digest) => `${archive.path}#blobs/sha256/${digest.slice(7)}`,
        }, options);
      } finally {
        await archive.close();
      }
    }
    default:
      throw new FerryError(
        "usage",
        `${text}: verify reads registry directories, layouts and archives`,
      );
  }
}

/** A plain path naming a file or an OCI layout is a mistake worth one line, not "no problems". */
async function refuseOtherFormats(path: string, text: string): Promise<void> {
  const info = await Deno.stat(path).catch(() => undefined);
  if (info?.isFile) {
    throw new FerryError(
      "usage",
      `${text} is a file: name an archive oci-archive:${text} or docker-archive:${text}`,
    );
  }
  const layout = await Deno.lstat(`${path}/oci-layout`).catch(() => undefined);
  const docker = await Deno.lstat(`${path}/docker`).catch(() => undefined);
  if (layout && !docker) {
    throw new FerryError("usage", `${text} is an OCI layout: name it oci:${text}`);
  }
}

/**
 * The size of a blob of a docker-archive, which serves some blobs it makes (its manifests): by
 * reading it, undefined when absent.
 */
async function sizeByReading(target: Target, digest: Digest): Promise<number | undefined> {
  try {
    const stream = await target.fetch({ mediaType: "application/octet-stream", digest, size: 0 });
    let n = 0;
    for await (const chunk of stream) n += chunk.byteLength;
    return n;
  } catch (err) {
    if (isFerryError(err, "not_found")) return undefined;
    throw err;
  }
}

async function layoutSource(layout: OciLayout): Promise<ImageSource> {
  const root = await StoreRoot.open(layout.root);
  const blobDir = `${layout.root}/blobs/sha256`;
  const stored = await layout.storedBlobs();
  const target = layout.repository("");
  return {
    location: layout.location,
    roots: (await layout.entries()).map((desc, i) => ({
      desc,
      where: `index.json entry ${i + 1}${
        desc.annotations?.["org.opencontainers.image.ref.name"]
          ? ` (${desc.annotations["org.opencontainers.image.ref.name"]})`
          : ""
      }`,
    })),
    stored,
    size: (desc) => root.fileSize(`${blobDir}/${desc.digest.slice(7)}`),
    open: (desc) => target.fetch(desc),
    path: (digest) => `${blobDir}/${digest.slice(7)}`,
  };
}

/** Walks the manifests from the roots, then hashes every blob once. */
async function verifySource(
  source: ImageSource,
  options: VerifyOptions,
): Promise<LocationVerifyReport> {
  const problems = new ProblemList(options.maxProblems);
  const checked = new Set<Digest>();
  /** Blobs to hash: what a descriptor says of them, and who named them. */
  const blobs = new Map<Digest, { size?: number; where: string }>();
  let bytes = 0;
  let hashedCount = 0;
  /** Manifests hashed on the walk, told of with the blobs once the totals are known. */
  const walked: { digest: Digest; size: number; ok: boolean }[] = [];
  const omitted = new Set<Digest>();

  const queue = source.roots.map((r) => ({ ...r, manifest: true }));
  while (queue.length > 0) {
    const { desc, where, manifest } = queue.shift()!;
    if (checked.has(desc.digest) || (!manifest && blobs.has(desc.digest))) continue;
    const path = source.path(desc.digest);
    const size = await source.size(desc).catch((err) => {
      problems.add("unreadable", path, `${path}: ${errorMessage(err)}`, desc.digest);
      return null;
    });
    if (size === null) continue;
    if (size === undefined) {
      // Foreign layers live at their URLs.
      if (!manifest && desc.urls?.length) continue;
      if (source.omitted?.has(desc.digest)) {
        omitted.add(desc.digest);
        continue;
      }
      problems.add(
        "missing-blob",
        path,
        `${where} needs ${desc.digest}, which is not stored`,
        desc.digest,
      );
      continue;
    }
    if (size !== desc.size) {
      problems.add(
        "corrupt-blob",
        path,
        `${where} names ${desc.digest} of ${desc.size} bytes; ${size} are stored`,
        desc.digest,
      );
      if (!manifest) blobs.set(desc.digest, { where });
      continue;
    }
    if (!manifest) {
      blobs.set(desc.digest, { size, where });
      continue;
    }
    checked.add(desc.digest);
    let parsed;
    try {
      if (size > MAX_MANIFEST_SIZE) {
        throw new FerryError("too_large", `larger than ${MAX_MANIFEST_SIZE} bytes`);
      }
      const bytesRead = await readAll(await source.open(desc), MAX_MANIFEST_SIZE, path);
      bytes += bytesRead.byteLength;
      hashedCount++;
      const got = await sha256(bytesRead);
      walked.push({ digest: desc.digest, size: bytesRead.byteLength, ok: got === desc.digest });
      if (got !== desc.digest) {
        problems.add(
          "corrupt-blob",
          path,
          `${path}: content hashes to ${got}, not ${desc.digest}`,
          desc.digest,
        );
        continue;
      }
      parsed = parseManifest(bytesRead, desc.mediaType, where);
    } catch (err) {
      problems.add(
        "bad-manifest",
        path,
        `${where}: ${desc.digest}: ${errorMessage(err)}`,
        desc.digest,
      );
      continue;
    }
    const named = `${where} > ${desc.digest.slice(7, 19)}`;
    if (parsed.kind === "index") {
      for (const child of parsed.manifests) {
        queue.push({ desc: child, where: named, manifest: isManifestType(child.mediaType) });
      }
    } else {
      for (const blob of [parsed.config, ...parsed.layers]) {
        queue.push({ desc: blob, where: named, manifest: false });
      }
    }
  }

  // Every stored blob is hashed too, referenced or not: a damaged one is damaged either way.
  for (const { digest, size } of source.stored) {
    if (!checked.has(digest) && !blobs.has(digest)) blobs.set(digest, { size, where: "stored" });
  }
  const todo = [...blobs.entries()].filter(([, b]) => b.size !== undefined);
  const total = todo.length + hashedCount;
  const totalBytes = todo.reduce((n, [, b]) => n + b.size!, bytes);
  {
    let done = 0;
    let sum = 0;
    for (const w of walked) {
      sum += w.size;
      options.onBlob?.({ ...w, done: ++done, total, bytes: sum, totalBytes });
    }
  }
  const failures = await runBounded(todo, {
    width: options.width ?? DEFAULT_VERIFY_WIDTH,
    run: async ([digest, { size }]) => {
      const hasher = await Sha256.create();
      for await (const chunk of await source.open({ mediaType: "", digest, size: size! })) {
        hasher.update(chunk);
      }
      const got = hasher.digest();
      if (got !== digest) {
        const path = source.path(digest);
        problems.add(
          "corrupt-blob",
          path,
          `${path}: content hashes to ${got}, not ${digest}`,
          digest,
        );
      }
      bytes += hasher.size;
      hashedCount++;
      options.onBlob?.({
        digest,
        size: hasher.size,
        ok: got === digest,
        done: hashedCount,
        total,
        bytes,
        totalBytes,
      });
    },
  });
  for (const { item: [digest], error } of failures) {
    const path = source.path(digest);
    problems.add("unreadable", path, `${path}: ${errorMessage(error)}`, digest);
  }
  return {
    location: source.location,
    images: source.roots.length,
    omitted: omitted.size,
    blobs: hashedCount,
    bytes,
    repositories: 0,
    tags: 0,
    problems: problems.kept,
    moreProblems: problems.more,
  };
}
