/**
 * Checking a registry directory that arrived (off a USB stick, out of an archive): every blob
 * hashes to its name, every link names a present blob, every manifest's references are present and
 * every tag resolves. Problems are collected, not thrown, so one run lists them all.
 *
 * Everything is read through the directory's {@link StoreRoot}: no symlink below the root is
 * followed, and a symlink where a file or directory should be is reported as a problem.
 *
 * @module
 */
import { type Digest, parseDigest, Sha256 } from "../digest.ts";
import { errorMessage } from "../errors.ts";
import { runBounded } from "../limit.ts";
import { type Descriptor, parseManifest } from "../manifest.ts";
import { MAX_MANIFEST_SIZE } from "../media_types.ts";
import { fileReadable, readAll } from "../streams.ts";
import { stripBom } from "../fs_util.ts";
import { listDirs, MAX_LINK_SIZE } from "./fs.ts";
import { Layout } from "./layout.ts";
import type { RegistryDir } from "./registry_dir.ts";

/** Blobs hashed at once by default. */
export const DEFAULT_VERIFY_WIDTH = 3;
/** Link and manifest files read at once. */
export const LINK_READ_WIDTH = 16;
/** Problems kept by default; past it they are only counted. */
export const DEFAULT_MAX_PROBLEMS = 100;

const HEX_RE = /^[a-f0-9]{64}$/;

/** What is wrong. */
export type VerifyProblemKind =
  /** A blob's bytes do not hash to its name. */
  | "corrupt-blob"
  /** A link, manifest or tag names a blob that is not stored. */
  | "missing-blob"
  /** A manifest refers to a blob or child manifest the repository does not link. */
  | "missing-link"
  /** A link file is unreadable, damaged, or names another digest than its path. */
  | "bad-link"
  /** A tag points at a manifest the repository does not hold. */
  | "missing-manifest"
  /** A stored manifest cannot be parsed. */
  | "bad-manifest"
  /** Something that is not what the layout puts there (a symlink, a stray file, an I/O error). */
  | "unreadable";

/** One problem found. */
export interface VerifyProblem {
  kind: VerifyProblemKind;
  /** The file or directory concerned (absolute). */
  path: string;
  /** The blob or manifest concerned, when there is one. */
  digest?: Digest;
  /** One line saying what is wrong. */
  message: string;
}

/** One blob hashed, with the running totals. */
export interface VerifyProgress {
  /** The blob hashed. */
  digest: Digest;
  /** Its bytes hashed. */
  size: number;
  /** Whether they hash to `digest`. */
  ok: boolean;
  /** Blobs hashed so far, of `total` to hash. */
  done: number;
  total: number;
  /** Bytes hashed so far, of `totalBytes` to hash. */
  bytes: number;
  totalBytes: number;
}

/** Options of {@link verifyRegistryDir}. */
export interface VerifyOptions {
  /** Blobs hashed at once (default {@link DEFAULT_VERIFY_WIDTH}). */
  width?: number;
  /** Told of each blob hashed, with the running totals. */
  onBlob?: (progress: VerifyProgress) => void;
  /** Problems kept (default {@link DEFAULT_MAX_PROBLEMS}); the rest are counted in `moreProblems`. */
  maxProblems?: number;
}

/**
 * The problems of one check: the first `max` kept, the rest only counted, so a directory that is
 * wrong everywhere costs bounded memory and output.
 */
export class ProblemList {
  /** The problems kept, in the order found. */
  readonly kept: VerifyProblem[] = [];
  /** Problems found past the cap. */
  more = 0;
  #max: number;

  constructor(max = DEFAULT_MAX_PROBLEMS) {
    this.#max = max;
  }

  /** Records one problem. */
  add(kind: VerifyProblemKind, path: string, message: string, digest?: Digest): void {
    if (this.kept.length >= this.#max) {
      this.more++;
      return;
    }
    this.kept.push({ kind, path, ...(digest ? { digest } : {}), message });
  }

  /** Problems found in all. */
  get count(): number {
    return this.kept.length + this.more;
  }
}

/** What {@link verifyRegistryDir} found. */
export interface VerifyReport {
  /** Blobs hashed. */
  blobs: number;
  /** Bytes hashed. */
  bytes: number;
  /** Repositories checked. */
  repositories: number;
  /** Tags checked. */
  tags: number;
  /** Problems, in the order found (blobs first, then repository by repository), at most the cap. */
  problems: VerifyProblem[];
  /** Problems found past the cap (see {@link VerifyOptions.maxProblems}). */
  moreProblems: number;
}

/** Checks every blob, link, manifest and tag of `dir`; never throws for what it finds. */
export async function verifyRegistryDir(
  dir: RegistryDir,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const root = dir.storeRoot;
  const layout = new Layout(dir.root);
  const problems = new ProblemList(options.maxProblems);
  const problem = (kind: VerifyProblemKind, path: string, message: string, digest?: Digest) =>
    problems.add(kind, path, message, digest);
  const guard = async <T>(path: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      problem("unreadable", path, `${path}: ${errorMessage(err)}`);
      return undefined;
    }
  };

  // Blobs: find every data file, then hash them a few at a time, streamed.
  const found: { digest: Digest; path: string; size: number }[] = [];
  const stored = await dir.storedBlobs({
    onStray: (path, error) =>
      problem(
        "unreadable",
        path,
        error === undefined
          ? `${path}: not a blob directory of this layout`
          : `${path}: ${errorMessage(error)}`,
      ),
  });
  for (const { digest, size } of stored) {
    const path = layout.blobData(digest);
    if (size !== undefined) found.push({ digest, path, size });
    else problem("missing-blob", path, `${path}: blob directory without data`, digest);
  }
  const total = found.length;
  const totalBytes = found.reduce((n, b) => n + b.size, 0);
  let done = 0;
  let bytes = 0;
  const present = new Set<Digest>();
  const failures = await runBounded(found, {
    width: options.width ?? DEFAULT_VERIFY_WIDTH,
    run: async ({ digest, path, size }) => {
      const hasher = await Sha256.create();
      const file = await root.open(path);
      for await (const chunk of fileReadable(file, { size })) hasher.update(chunk);
      present.add(digest);
      const got = hasher.digest();
      if (got !== digest) {
        problem("corrupt-blob", path, `${path}: content hashes to ${got}, not ${digest}`, digest);
      }
      bytes += hasher.size;
      done++;
      options.onBlob?.({
        digest,
        size: hasher.size,
        ok: got === digest,
        done,
        total,
        bytes,
        totalBytes,
      });
    },
  });
  for (const { item, error } of failures) {
    problem("unreadable", item.path, `${item.path}: ${errorMessage(error)}`, item.digest);
  }

  // Links, manifests and tags, repository by repository. The files of a listing are read
  // LINK_READ_WIDTH at a time first (reads, not checks: problems are still found in order).
  const reads = new Map<string, Uint8Array | { size?: number; error?: unknown }>();
  const readSmall = async (path: string, limit: number) => {
    try {
      const size = await root.fileSize(path);
      if (size === undefined || size > limit) return { size };
      return await readAll(fileReadable(await root.open(path)), limit, path);
    } catch (error) {
      return { error };
    }
  };
  const prefetch = async (paths: string[], limit: number) => {
    await runBounded(paths, {
      width: LINK_READ_WIDTH,
      run: async (path) => void reads.set(path, await readSmall(path, limit)),
    });
  };
  /** A prefetched file's bytes (read now if it was not); throws what reading threw. */
  const take = async (path: string, limit: number): Promise<Uint8Array | undefined> => {
    const got = reads.get(path) ?? await readSmall(path, limit);
    reads.delete(path);
    if (got instanceof Uint8Array) return got;
    if (got.error !== undefined) throw got.error;
    if (got.size !== undefined) throw new Error(`${got.size} bytes, more than ${limit}`);
    return undefined;
  };
  const readLink = async (path: string, expect?: Digest): Promise<Digest | undefined> => {
    try {
      const bytes = await take(path, MAX_LINK_SIZE);
      if (bytes === undefined) {
        problem("bad-link", path, `${path}: link missing`, expect);
        return undefined;
      }
      const digest = parseDigest(stripBom(new TextDecoder().decode(bytes)).trim(), path);
      if (expect !== undefined && digest !== expect) {
        problem("bad-link", path, `${path}: link names ${digest}, not ${expect}`, expect);
        return undefined;
      }
      return digest;
    } catch (err) {
      problem("bad-link", path, `${path}: damaged link: ${errorMessage(err)}`, expect);
      return undefined;
    }
  };
  /** The digests linked under `<dir>/sha256/<hex>/link` whose link is sound. */
  const linkedUnder = async (linkRoot: string): Promise<Set<Digest>> => {
    const out = new Set<Digest>();
    const hexes = (await guard(linkRoot, () => listDirs(root, linkRoot))) ?? [];
    await prefetch(
      hexes.filter((hex) => HEX_RE.test(hex)).map((hex) => `${linkRoot}/${hex}/link`),
      MAX_LINK_SIZE,
    );
    for (const hex of hexes) {
      const path = `${linkRoot}/${hex}/link`;
      if (!HEX_RE.test(hex)) {
        problem("unreadable", `${linkRoot}/${hex}`, `${linkRoot}/${hex}: not a digest directory`);
        continue;
      }
      const digest = await readLink(path, `sha256:${hex}`);
      if (digest === undefined) continue;
      if (!present.has(digest)) {
        problem("missing-blob", path, `${path}: links ${digest}, which is not stored`, digest);
      }
      out.add(digest);
    }
    return out;
  };

  const repositories = (await guard(layout.repositories, () => dir.repositories())) ?? [];
  let tagCount = 0;
  for (const name of repositories) {
    const repoDir = layout.repository(name);
    const layers = await linkedUnder(`${repoDir}/_layers/sha256`);
    const revisions = await linkedUnder(`${repoDir}/_manifests/revisions/sha256`);
    const stored = [...revisions].filter((digest) => present.has(digest));
    for (const [i, digest] of stored.entries()) {
      // Manifests are read ahead a batch at a time: at most a batch of them is held at once.
      if (i % LINK_READ_WIDTH === 0) {
        const batch = stored.slice(i, i + LINK_READ_WIDTH);
        await prefetch(batch.map((d) => layout.blobData(d)), MAX_MANIFEST_SIZE);
      }
      const path = layout.blobData(digest);
      let refs: { blobs: Descriptor[]; children: Descriptor[] };
      try {
        const bytes = await take(path, MAX_MANIFEST_SIZE);
        if (bytes === undefined) throw new Error("no data");
        const m = parseManifest(bytes, undefined, path);
        refs = m.kind === "index"
          ? { blobs: [], children: m.manifests }
          : { blobs: [m.config, ...m.layers], children: [] };
      } catch (err) {
        problem("bad-manifest", path, `${name}@${digest}: ${errorMessage(err)}`, digest);
        continue;
      }
      for (const ref of refs.blobs) {
        // Foreign layers live at their URLs, not in the registry.
        if (!present.has(ref.digest) && ref.urls?.length) continue;
        if (!present.has(ref.digest)) {
          problem(
            "missing-blob",
            layout.blobData(ref.digest),
            `${name}@${digest} needs blob ${ref.digest}, which is not stored`,
            ref.digest,
          );
        } else if (!layers.has(ref.digest)) {
          problem(
            "missing-link",
            layout.layerLink(name, ref.digest),
            `${name}@${digest} needs blob ${ref.digest}, which ${name} does not link`,
            ref.digest,
          );
        }
      }
      for (const child of refs.children) {
        if (!present.has(child.digest)) {
          problem(
            "missing-blob",
            layout.blobData(child.digest),
            `${name}@${digest} needs manifest ${child.digest}, which is not stored`,
            child.digest,
          );
        } else if (!revisions.has(child.digest)) {
          problem(
            "missing-link",
            layout.revisionLink(name, child.digest),
            `${name}@${digest} needs manifest ${child.digest}, which ${name} does not link`,
            child.digest,
          );
        }
      }
    }
    const tagsDir = layout.tagsDir(name);
    const tags = (await guard(tagsDir, () => listDirs(root, tagsDir))) ?? [];
    await prefetch(tags.map((tag) => `${tagsDir}/${tag}/current/link`), MAX_LINK_SIZE);
    for (const tag of tags) {
      tagCount++;
      const path = `${tagsDir}/${tag}/current/link`;
      const digest = await readLink(path);
      if (digest === undefined) continue;
      if (!revisions.has(digest) || !present.has(digest)) {
        problem(
          "missing-manifest",
          path,
          `${name}:${tag} points at ${digest}, which ${name} does not hold`,
          digest,
        );
      }
    }
  }
  return {
    blobs: done,
    bytes,
    repositories: repositories.length,
    tags: tagCount,
    problems: problems.kept,
    moreProblems: problems.more,
  };
}
