/**
 * The file system of a stack of layers, read as streams: which entry of which layer is final for
 * each path (whiteouts and opaque directories applied), and the final entries re-emitted as layer
 * entries, so that `COPY --from` and a merge can flatten an image without unpacking it to disk.
 *
 * Two passes over the layers: the first reads only headers to find the final entry of every path,
 * the second streams the contents of exactly those entries. Memory holds one record per path,
 * never file contents.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { type LayerEntry, type ReadEntry, readLayer } from "../layer/mod.ts";
import type { Descriptor } from "../manifest.ts";
import type { Target } from "../store.ts";

/** The final state of one path. */
export interface FinalEntry {
  /** Index of the layer holding the entry. */
  layer: number;
  /** What the entry is (file, directory, symlink…). */
  kind: ReadEntry["kind"];
  /** Modification time (seconds). */
  mtime: number;
}

/** What a scan found. */
export interface StackScan {
  /** Final entries by path. */
  paths: Map<string, FinalEntry>;
  /** Whiteouts and opaque markers per layer. */
  whiteouts: number[];
}

/** Where a final entry goes: paths in the new layer (usually one). */
export type PathMapper = (path: string, entry: FinalEntry) => string[];

/** Options of {@link LayerStack.entries}. */
export interface StackEntriesOptions {
  /** Owner of every entry (`--chown`); default: as in the layers. */
  uid?: number;
  /** Group of every entry; default: as in the layers. */
  gid?: number;
  /** Permission bits for files and directories (`--chmod`); default: as in the layers. */
  mode?: number;
  /** Names the source in messages (`stage build`, an image reference). */
  where: string;
}

function isUnder(path: string, dir: string): boolean {
  return dir === "" || path.startsWith(`${dir}/`);
}

/** A stack of layers in one target, base first. */
export class LayerStack {
  readonly #target: Target;
  readonly #layers: readonly Descriptor[];
  #scan?: Promise<StackScan>;

  /** The stack of `layers` (base first), read from `target`. */
  constructor(target: Target, layers: readonly Descriptor[]) {
    this.#target = target;
    this.#layers = layers;
  }

  /** The layers, base first. */
  get layers(): readonly Descriptor[] {
    return this.#layers;
  }

  /** Reads every layer's headers once (memoised). */
  scan(): Promise<StackScan> {
    this.#scan ??= this.#doScan();
    return this.#scan;
  }

  async #doScan(): Promise<StackScan> {
    const paths = new Map<string, FinalEntry>();
    const whiteouts: number[] = [];
    const dropUnder = (dir: string, self: boolean, layer: number) => {
      for (const [p, e] of paths) {
        if (e.layer < layer && ((self && p === dir) || isUnder(p, dir))) paths.delete(p);
      }
    };
    for (const [i, layer] of this.#layers.entries()) {
      let count = 0;
      const where = `${this.#target.location}@${layer.digest}`;
      for await (const entry of readLayer(await this.#target.fetch(layer), { where })) {
        if (entry.kind === "whiteout") {
          count++;
          dropUnder(entry.path, true, i);
          continue;
        }
        if (entry.kind === "opaque") {
          count++;
          dropUnder(entry.path, false, i);
          continue;
        }
        const before = paths.get(entry.path);
        // A non-directory replacing a directory hides what lower layers had below it.
        if (entry.kind !== "dir" && before?.kind === "dir") dropUnder(entry.path, false, i);
        paths.set(entry.path, { layer: i, kind: entry.kind, mtime: entry.mtime });
      }
      whiteouts.push(count);
    }
    return { paths, whiteouts };
  }

  /**
   * Streams the final entries that `map` places, in layer order, as entries for a new layer. A
   * path mapped to several places is written once and hard-linked from the others.
   *
   * @throws {FerryError} `unsupported` for device files and for a hard link whose target is not
   *   copied along.
   */
  async *entries(map: PathMapper, options: StackEntriesOptions): AsyncGenerator<LayerEntry> {
    const { paths } = await this.scan();
    const placed = new Map<string, string>();
    for (const [i, layer] of this.#layers.entries()) {
      const where = `${this.#target.location}@${layer.digest}`;
      for await (const entry of readLayer(await this.#target.fetch(layer), { where })) {
        if (entry.kind === "whiteout" || entry.kind === "opaque") continue;
        const final = paths.get(entry.path);
        if (final?.layer !== i) continue;
        const dests = map(entry.path, final);
        if (dests.length === 0) continue;
        if (entry.kind === "char" || entry.kind === "block" || entry.kind === "fifo") {
          throw new FerryError(
            "unsupported",
            `${options.where}: ${entry.path}: device files and FIFOs cannot be copied`,
          );
        }
        const base = {
          mode: options.mode !== undefined && entry.kind !== "symlink" ? options.mode : entry.mode,
          uid: options.uid ?? entry.uid,
          gid: options.gid ?? entry.gid,
          mtime: entry.mtime,
        };
        const [first, ...more] = dests;
        switch (entry.kind) {
          case "dir":
            for (const path of dests) yield { kind: "dir", path, ...base };
            continue;
          case "symlink":
            for (const path of dests) {
              yield { kind: "symlink", path, ...base, target: entry.target };
            }
            continue;
          case "hardlink": {
            const target = placed.get(entry.target);
            if (target === undefined) {
              throw new FerryError(
                "unsupported",
                `${options.where}: ${entry.path} is a hard link to ${entry.target}, which is not copied along`,
              );
            }
            for (const path of dests) yield { kind: "hardlink", path, ...base, target };
            continue;
          }
          case "file": {
            const body = entry.body;
            yield { kind: "file", path: first, ...base, size: entry.size, open: () => body };
            placed.set(entry.path, first);
            for (const path of more) yield { kind: "hardlink", path, ...base, target: first };
            continue;
          }
        }
      }
    }
  }
}
