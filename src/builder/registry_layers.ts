/**
 * Layers of a cluster image's `registry/` that keep their digests across versions.
 *
 * A COPY of the build context writes one layer, so with `registry/` in it every new version of a
 * cluster image is one new multi-GB layer, even when two of twenty images changed. Instead, the
 * entries a COPY takes from the context's registry directory (`registry/docker/registry/v2/…`) are
 * split out of its layer into layers of their own:
 *
 * - one layer per blob of at least {@link MIN_BLOB_LAYER_SIZE} bytes (its `<hex>/` directory and
 *   `data`): named by its digest, so an unchanged image's layers are unchanged layers;
 * - one layer per repository: its `repositories/<name>/` tree (links, tags) and the small blobs
 *   (manifests, configs, tiny layers) that the first repository linking them (by name) links;
 * - beyond {@link MAX_REGISTRY_LAYERS} such groups, groups share layers by a hash of their key
 *   (a group's layer then changes only when a group in the same bucket does).
 *
 * A layer's bytes depend only on what it holds, never on file times. Everything below
 * `registry/docker/registry/v2/` is content-defined (blob data is named by its digest; links and
 * tags hold digests), so its times carry nothing: every entry there, in the registry layers and in
 * the COPY's own layer alike, gets one fixed time, 0 (or the `--timestamp` value), and the
 * directories above a registry layer's entries come with mode 0755 and that time, owned as the
 * COPY says. A context whose `registry/` was saved afresh (a new checkout, a CI runner: new files,
 * new times) thus gives the same registry layers as the one the last version was built from.
 * The cache key of a registry layer holds the content of its link files (71 bytes each) rather
 * than their times, so a changed link or tag is seen and a fresh context still finds the layers.
 *
 * The registry layers come before the layer of everything else the COPY writes, which lists every
 * directory again with its metadata, so the merged tree is the context's but for the times below
 * `v2/`. Symlinks, hard links and the files hard links point at stay in that last layer.
 *
 * @module
 */
import { sha256 } from "../digest.ts";
import type { LayerEntry } from "../layer/mod.ts";
import { runBounded } from "../limit.ts";
import { MAX_LINK_SIZE } from "../registry_dir/fs.ts";
import { readAll } from "../streams.ts";
import type { Owner } from "./copy_plan.ts";

/** Most layers the registry content of one COPY is split into. */
export const MAX_REGISTRY_LAYERS = 100;

/** Blobs smaller than this go into their repository's layer, not one of their own. */
export const MIN_BLOB_LAYER_SIZE = 256 * 1024;

/** Link files read at once for a registry layer's cache key. */
const LINK_READ_WIDTH = 16;

/** Where the registry directory is, relative to the build context. */
const REGISTRY_PREFIX = "registry/docker/registry/v2/";

/** One layer of registry content. */
export interface RegistryGroup {
  /** `blob:<hex>`, `repo:<name>` or `bucket:<n>`: stable across builds. */
  key: string;
  /** The entries, in walk order, with the directories above them (mode 0755), at the fixed time. */
  entries: LayerEntry[];
  /**
   * For the cache key, per entry: `""` for blob data and directories (named by content or
   * carrying nothing), else the source's precise times (see `planContextCopy`); for link files
   * {@link registryKeyStamps} puts their content in place of their times.
   */
  stamps: string[];
  /** Indexes (into `entries`) of link files: the cache key holds what they say. */
  links: number[];
}

/** A COPY's entries, split. */
export interface RegistrySplit {
  /** The registry layers, in order. */
  groups: RegistryGroup[];
  /** Indexes (into the COPY's entries) of what stays in its own layer. */
  rest: number[];
  /** Those entries, registry content among them at the fixed time. */
  restEntries: LayerEntry[];
}

/** Options of {@link splitRegistryEntries}. */
export interface SplitOptions {
  /** The COPY's `--chown`: the owner of the directories a registry layer adds. */
  owner?: Owner;
  /** The time of every entry below `registry/docker/registry/v2/` (default 0). */
  mtime?: number;
}

const encoder = new TextEncoder();

/** Compares paths element by element in byte order: the walk's order (directory first). */
function comparePaths(a: string, b: string): number {
  const x = a.split("/");
  const y = b.split("/");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    const p = encoder.encode(x[i]);
    const q = encoder.encode(y[i]);
    const n = Math.min(p.length, q.length);
    for (let j = 0; j < n; j++) if (p[j] !== q[j]) return p[j] - q[j];
    return p.length - q.length;
  }
  return x.length - y.length;
}

/**
 * Splits the registry content out of a COPY's entries; undefined when it holds none.
 *
 * @param entries the COPY's entries (destination paths).
 * @param contextPaths per entry, its path relative to the build context (`""` when it has none:
 *   the destination's directories).
 * @param stamps per entry, its source's precise times.
 */
export async function splitRegistryEntries(
  entries: readonly LayerEntry[],
  contextPaths: readonly string[],
  stamps: readonly string[],
  options: SplitOptions = {},
): Promise<RegistrySplit | undefined> {
  const { owner } = options;
  const mtime = options.mtime ?? 0;
  /** The entry as the image holds it: registry content at the fixed time. */
  const fixed = (i: number): LayerEntry =>
    (contextPaths[i] ?? "").startsWith(REGISTRY_PREFIX) ? { ...entries[i], mtime } : entries[i];
  const members = new Map<string, number[]>();
  const blobSize = new Map<string, number>();
  /** Repositories linking each blob (manifests by revision, others by layer link). */
  const linkers = new Map<string, string[]>();
  const rest: number[] = [];
  const add = (key: string, i: number) => {
    const list = members.get(key) ?? [];
    list.push(i);
    members.set(key, list);
  };
  // A file other entries hard-link to stays with them: a link never points into another layer.
  const linked = new Set(entries.flatMap((e) => e.kind === "hardlink" ? [e.target] : []));
  for (const [i, e] of entries.entries()) {
    const cp = contextPaths[i] ?? "";
    if (
      !cp.startsWith(REGISTRY_PREFIX) || (e.kind !== "file" && e.kind !== "dir") ||
      linked.has(e.path)
    ) {
      rest.push(i);
      continue;
    }
    const sub = cp.slice(REGISTRY_PREFIX.length);
    const blob = /^blobs\/sha256\/([0-9a-f]{2})\/(\1[0-9a-f]{62})(\/data)?$/.exec(sub);
    if (blob && (blob[3] === undefined) === (e.kind === "dir")) {
      if (e.kind === "file") blobSize.set(blob[2], e.size);
      add(`blob:${blob[2]}`, i);
      continue;
    }
    const repo = /^repositories\/(.+?)\/(?:_manifests|_layers|_uploads)(?:\/|$)/.exec(sub);
    if (repo) {
      add(`repo:${repo[1]}`, i);
      const link = /\/(?:_layers|_manifests\/revisions)\/sha256\/([0-9a-f]{64})\/link$/.exec(sub);
      if (link && e.kind === "file") {
        const list = linkers.get(link[1]) ?? [];
        list.push(repo[1]);
        linkers.set(link[1], list);
      }
      continue;
    }
    rest.push(i);
  }
  if (members.size === 0) return undefined;

  // A blob directory without its data, or a small blob: into its first linker's layer.
  for (const [key, list] of [...members]) {
    if (!key.startsWith("blob:")) continue;
    const hex = key.slice(5);
    const size = blobSize.get(hex);
    if (size !== undefined && size >= MIN_BLOB_LAYER_SIZE) continue;
    const repo = linkers.get(hex)?.sort()[0];
    if (repo === undefined || !members.has(`repo:${repo}`)) continue;
    members.get(`repo:${repo}`)!.push(...list);
    members.delete(key);
  }

  let groups = [...members].map(([key, list]) => ({ key, list }));
  if (groups.length > MAX_REGISTRY_LAYERS) {
    const buckets = new Map<string, number[]>();
    for (const g of groups) {
      const n = parseInt((await sha256(g.key)).slice(7, 15), 16) % MAX_REGISTRY_LAYERS;
      const key = `bucket:${String(n).padStart(2, "0")}`;
      buckets.set(key, [...(buckets.get(key) ?? []), ...g.list]);
    }
    groups = [...buckets].map(([key, list]) => ({ key, list }));
  }
  groups.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  return {
    rest,
    restEntries: rest.map(fixed),
    groups: groups.map(({ key, list }) => {
      const own = new Set(list.map((i) => entries[i].path));
      const parents = new Set<string>();
      for (const i of list) {
        const parts = entries[i].path.split("/");
        for (let n = 1; n < parts.length; n++) {
          const dir = parts.slice(0, n).join("/");
          if (!own.has(dir)) parents.add(dir);
        }
      }
      const items: { entry: LayerEntry; stamp: string; link: boolean }[] = [
        ...[...parents].map((path) => ({
          entry: {
            kind: "dir" as const,
            path,
            mode: 0o755,
            uid: owner?.uid ?? 0,
            gid: owner?.gid ?? 0,
            mtime,
          },
          stamp: "",
          link: false,
        })),
        ...list.map((i) => {
          const e = fixed(i);
          const blobData = e.kind === "file" && /\/blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}\/data$/
            .test(contextPaths[i]);
          return {
            entry: e,
            stamp: e.kind === "dir" || blobData ? "" : stamps[i] ?? "",
            link: e.kind === "file" && /\/repositories\/.+\/link$/.test(contextPaths[i]),
          };
        }),
      ];
      items.sort((a, b) => comparePaths(a.entry.path, b.entry.path));
      return {
        key,
        entries: items.map((x) => x.entry),
        stamps: items.map((x) => x.stamp),
        links: items.flatMap((x, n) => x.link ? [n] : []),
      };
    }),
  };
}

/**
 * The cache-key stamps of a registry layer: its `stamps`, with each link file's content in place
 * of its times (what a link says is all it carries; its times change with every fresh save). A
 * link larger than {@link MAX_LINK_SIZE} is no link ferry or docker-registry would read: it keeps
 * its times.
 */
export async function registryKeyStamps(group: RegistryGroup): Promise<string[]> {
  const out = [...group.stamps];
  const failures = await runBounded(group.links, {
    width: LINK_READ_WIDTH,
    run: async (n) => {
      const e = group.entries[n];
      if (e.kind !== "file" || e.size > MAX_LINK_SIZE || !e.open) return;
      const bytes = await readAll(await e.open(), MAX_LINK_SIZE, e.path);
      out[n] = `link:${new TextDecoder().decode(bytes)}`;
    },
  });
  if (failures.length > 0) throw failures[0].error;
  return out;
}
