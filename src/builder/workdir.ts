/**
 * The directories a WORKDIR creates, as buildah creates them: each missing element of the path
 * becomes an empty directory, mode 0755, owned by the USER in force when it is a numeric
 * `uid[:gid]` (a lone uid also gives the gid) and by root otherwise; a directory that exists is
 * left as it is. buildah makes them in the container, so they land in the next layer it commits:
 * with one layer per COPY/ADD, the stage's next COPY/ADD layer.
 *
 * Whether a path exists is answered from the stage's layers: the listings of layers this build
 * wrote, and headers read once from any other layer.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { type DirEntry, type ReadEntry, readLayer } from "../layer/mod.ts";
import type { Descriptor } from "../manifest.ts";
import type { Target } from "../store.ts";

/** One entry of a layer as far as existence goes: its path and kind (whiteouts included). */
export interface ListedPath {
  path: string;
  kind: ReadEntry["kind"];
}

/** What exists in a stack of layers: path → kind of its final entry. */
export type PathKinds = Map<string, ReadEntry["kind"]>;

/** Applies one layer's entries, in order, to what exists (whiteouts and opaque dirs too). */
export function applyListing(paths: PathKinds, listing: Iterable<ListedPath>): void {
  const dropUnder = (dir: string, self: boolean) => {
    for (const p of paths.keys()) {
      if ((self && p === dir) || p.startsWith(`${dir}/`)) paths.delete(p);
    }
  };
  for (const { path, kind } of listing) {
    if (kind === "whiteout") {
      dropUnder(path, true);
      continue;
    }
    if (kind === "opaque") {
      dropUnder(path, false);
      continue;
    }
    if (kind !== "dir" && paths.get(path) === "dir") dropUnder(path, false);
    paths.set(path, kind);
  }
}

/** Reads the headers of a stored layer (never its contents). */
export async function scanListing(target: Target, layer: Descriptor): Promise<ListedPath[]> {
  const out: ListedPath[] = [];
  const where = `${target.location}@${layer.digest}`;
  for await (const entry of readLayer(await target.fetch(layer), { where })) {
    out.push({ path: entry.path, kind: entry.kind });
  }
  return out;
}

/** Listings of layers by diffID, read at most once per build. */
export class LayerListings {
  readonly #target: Target;
  readonly #known = new Map<Digest, Promise<ListedPath[]>>();

  constructor(target: Target) {
    this.#target = target;
  }

  /** Records the listing of a layer without reading it (it was just written or planned). */
  set(diffId: Digest, listing: ListedPath[]): void {
    this.#known.set(diffId, Promise.resolve(listing));
  }

  /** What exists in `layers` (base first). */
  async paths(layers: readonly { descriptor: Descriptor; diffId: Digest }[]): Promise<PathKinds> {
    const paths: PathKinds = new Map();
    for (const layer of layers) {
      let listing = this.#known.get(layer.diffId);
      if (!listing) {
        listing = scanListing(this.#target, layer.descriptor);
        this.#known.set(layer.diffId, listing);
      }
      applyListing(paths, await listing);
    }
    return paths;
  }
}

/**
 * The owner of directories a WORKDIR creates under `USER user`: numeric ids as given (a lone uid
 * gives the gid too), root for names, as buildah does when the image holds no passwd entry for
 * them. `named` is set when a name was given (ferry reads no `/etc/passwd`).
 */
export function workdirOwner(
  user: string | undefined,
): { uid: number; gid: number; named: boolean } {
  if (user === undefined || user === "") return { uid: 0, gid: 0, named: false };
  const [u, g] = user.split(":", 2);
  const id = (part: string) =>
    part === "root"
      ? 0
      : /^\d+$/.test(part) && Number(part) <= 0xffffffff
      ? Number(part)
      : undefined;
  const uid = id(u);
  const gid = g === undefined || g === "" ? uid : id(g);
  if (uid === undefined || gid === undefined) return { uid: 0, gid: 0, named: true };
  return { uid, gid, named: false };
}

/** Options of {@link workdirEntries}. */
export interface WorkdirOptions {
  /** The new working directory, absolute and clean (`/opt/app`). */
  workdir: string;
  /** The USER in force. */
  user?: string;
  /** Modification time of created directories (seconds). */
  mtime: number;
  /** Directories created by earlier WORKDIRs and not yet in a layer. */
  pending: ReadonlySet<string>;
  /** What exists in the stage's layers (asked only when needed). */
  exists: () => Promise<PathKinds>;
  /** Names the instruction in errors (`Kubefile:4: WORKDIR /x`). */
  where: string;
}

/**
 * The directory entries a WORKDIR adds, outermost first (empty when the path exists). A symlink
 * on the way is left to resolve at run time: nothing is created through it.
 *
 * @throws {FerryError} `invalid_input` when an element of the path is not a directory.
 */
export async function workdirEntries(options: WorkdirOptions): Promise<DirEntry[]> {
  const path = options.workdir.replace(/^\/+/, "");
  if (path === "") return [];
  const parts = path.split("/");
  const owner = workdirOwner(options.user);
  let existing: PathKinds | undefined;
  const out: DirEntry[] = [];
  for (let n = 1; n <= parts.length; n++) {
    const p = parts.slice(0, n).join("/");
    if (options.pending.has(p)) continue;
    // Below a directory that does not exist, nothing does.
    if (out.length === 0) {
      existing ??= await options.exists();
      const kind = existing.get(p);
      if (kind === "dir") continue;
      if (kind === "symlink") return [];
      if (kind !== undefined) {
        throw new FerryError("invalid_input", `${options.where}: /${p} is not a directory`);
      }
    }
    out.push({
      kind: "dir",
      path: p,
      mode: 0o755,
      uid: owner.uid,
      gid: owner.gid,
      mtime: options.mtime,
    });
  }
  return out;
}
