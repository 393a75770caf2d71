/**
 * Planning a COPY or ADD: its cache key, its history text, what the layer will list, and (only
 * when the cache misses) the entries to write — from the build context or from an earlier
 * stage's or an image's final file system.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { cleanPath, compileIgnore } from "../kubefile/mod.ts";
import type { AddInstruction, CopyInstruction } from "../kubefile/types.ts";
import type { LayerEntry } from "../layer/mod.ts";
import type { Descriptor } from "../manifest.ts";
import type { Target } from "../store.ts";
import { copyKeyParts, keyHasher, type LayerSettings } from "./cache_key.ts";
import {
  type BuildContext,
  contextCopyEntries,
  type Destination,
  directoryChain,
  hashEntries,
  type Owner,
  parseChown,
  planContextCopy,
  resolveDestination,
} from "./copy_plan.ts";
import { compileSourcePattern, hasWildcard } from "./glob.ts";
import { type FinalEntry, LayerStack } from "./layer_view.ts";
import { type RegistryGroup, registryKeyStamps, splitRegistryEntries } from "./registry_layers.ts";
import type { StageState } from "./stage_state.ts";
import type { ListedPath } from "./workdir.ts";

/** A planned COPY/ADD layer. */
export interface CopyStep {
  /** The layer cache key. */
  key: Digest;
  /** The history entry's text, named by the layer's diffID. */
  createdBy: (diffId: Digest) => string;
  /** What a reused layer holds, when the plan knows it without reading the layer. */
  listing?: ListedPath[];
  /** Reads what the layer is made of (called on a cache miss only); gives its entries. */
  prepare: () => Promise<() => AsyncIterable<LayerEntry>>;
  /**
   * Whether the layer takes the directories of the WORKDIRs before it (default true). The
   * registry layers of a COPY do not, so that their bytes depend on their content alone.
   */
  workdirs?: boolean;
}

/** An error naming the instruction (`file:line: COPY: …`). */
function failer(i: CopyInstruction | AddInstruction) {
  const label = i.kind === "copy" ? "COPY" : "ADD";
  return (
    message: string,
    code: "not_found" | "invalid_input" | "unsupported" = "not_found",
  ): never => {
    throw new FerryError(code, `${i.file}:${i.line}: ${label}: ${message}`);
  };
}

function ownerOf(i: CopyInstruction | AddInstruction): Owner | undefined {
  const label = i.kind === "copy" ? "COPY" : "ADD";
  return i.chown ? parseChown(i.chown, `${i.file}:${i.line}: ${label}`) : undefined;
}

/**
 * Plans a COPY or ADD from the build context (sources are read and stamped for the key): one
 * layer, or, when it copies the context's registry directory, the registry's layers first (see
 * ./registry_layers.ts) and then one layer of the rest.
 */
export async function planContextStep(
  context: BuildContext,
  state: StageState,
  i: CopyInstruction | AddInstruction,
  settings: LayerSettings,
): Promise<CopyStep[]> {
  const fail = failer(i);
  const owner = ownerOf(i);
  const dest = resolveDestination(i.dest, state.config.config.WorkingDir ?? "/");
  const label = i.kind === "copy" ? "COPY" : "ADD";
  const excludes = i.exclude.length > 0
    ? compileIgnore(i.exclude, `${i.file}:${i.line}: ${label} --exclude`)
    : undefined;
  const plan = await planContextCopy(context, {
    sources: i.sources,
    dest,
    extract: i.kind === "add",
    owner,
    chmod: i.chmod,
    excludes,
    fail,
  });
  const split = plan.archives.length === 0
    ? await splitRegistryEntries(plan.listed, plan.contextPaths, plan.stamps, {
      owner,
      mtime: settings.timestamp,
    })
    : undefined;
  const steps: CopyStep[] = [];
  if (split) {
    for (const group of split.groups) steps.push(await registryStep(group, i, settings));
    plan.listed = split.restEntries;
    plan.stamps = split.rest.map((n) => plan.stamps[n]);
    plan.contextPaths = split.rest.map((n) => plan.contextPaths[n]);
  }
  const hasher = await keyHasher(
    copyKeyParts(state, i, dest, settings, { from: "context", split: split !== undefined }),
  );
  hashEntries(hasher, plan.listed, plan.stamps);
  for (const a of plan.archives) {
    hasher.update(
      new TextEncoder().encode(`archive\0${a.path}\0${a.size}\0${a.mtime}\0${a.stamp}\n`),
    );
  }
  const what = plan.sources.length === 1 ? (plan.sources[0].isDir ? "dir" : "file") : "multi";
  steps.push({
    key: hasher.digest(),
    // Named by the layer's content (its diffID), as buildah names a COPY by its content hash.
    createdBy: (diffId) => `${label} ${what}:${diffId.slice(7)} in ${i.dest} `,
    // What a reused layer holds is known from the plan, unless archives are extracted into it.
    listing: plan.archives.length === 0
      ? [...state.workdirs, ...plan.listed].map((e) => ({ path: e.path, kind: e.kind }))
      : undefined,
    prepare: () =>
      Promise.resolve(() =>
        contextCopyEntries(plan, { owner, chmod: i.chmod, where: `${i.file}:${i.line}` })
      ),
  });
  return steps;
}

/**
 * One registry layer of a COPY: keyed by what it holds (paths, modes, owners, sizes; what links
 * say; the source times of other files not named by their digest), not by the instruction, so the
 * next version's build finds it whatever else changed, from a fresh context too.
 */
async function registryStep(
  group: RegistryGroup,
  i: CopyInstruction | AddInstruction,
  settings: LayerSettings,
): Promise<CopyStep> {
  const label = i.kind === "copy" ? "COPY" : "ADD";
  const hasher = await keyHasher({
    kind: "registry-layer",
    compression: settings.compression,
    clamp: settings.timestamp ?? null,
  });
  hashEntries(hasher, group.entries, await registryKeyStamps(group));
  return {
    key: hasher.digest(),
    createdBy: (diffId) => `${label} registry ${group.key} dir:${diffId.slice(7)} in ${i.dest} `,
    listing: group.entries.map((e) => ({ path: e.path, kind: e.kind })),
    workdirs: false,
    prepare: () =>
      Promise.resolve(async function* () {
        yield* group.entries;
      }),
  };
}

/** Where a COPY --from reads: an earlier stage's or an image's layers. */
export interface CopySource {
  /** The stage's name (or index) or the image reference, for messages and history. */
  name: string;
  /** Whether it is a stage of this build (else an image). */
  stage: boolean;
  /** Its layers, base first. */
  layers: Descriptor[];
  /** What the cache key holds for the layers (diffIDs of a stage, digests of an image). */
  keys: Digest[];
}

/** Plans a COPY --from (the source's file system is scanned on a cache miss only). */
export async function planStageStep(
  target: Target,
  state: StageState,
  i: CopyInstruction,
  from: CopySource,
  settings: LayerSettings,
): Promise<CopyStep> {
  const fail = failer(i);
  const owner = ownerOf(i);
  const { name } = from;
  const dest = resolveDestination(i.dest, state.config.config.WorkingDir ?? "/");
  return {
    key: (await keyHasher(copyKeyParts(state, i, dest, settings, { from: from.keys }))).digest(),
    createdBy: (diffId) => `COPY --from=${name} dir:${diffId.slice(7)} in ${i.dest} `,
    prepare: async () => {
      const stack = new LayerStack(target, from.layers);
      const { paths } = await stack.scan();
      const map = mapSources(
        i.sources,
        dest,
        paths,
        (message, code) => fail(`${message} in ${from.stage ? "stage " : ""}${name}`, code),
        i.exclude.length > 0
          ? compileIgnore(i.exclude, `${i.file}:${i.line}: COPY --exclude`)
          : undefined,
      );
      let newest = 0;
      for (const [p, e] of paths) if (map(p, e).length > 0) newest = Math.max(newest, e.mtime);
      const destDir = map.wholeDirs || dest.isDir
        ? dest.path
        : dest.path.split("/").slice(0, -1).join("/");
      return async function* () {
        yield* directoryChain(destDir, owner, newest);
        yield* stack.entries(map, {
          uid: owner?.uid,
          gid: owner?.gid,
          mode: i.chmod,
          where: `${i.file}:${i.line}: COPY --from=${name}`,
        });
      };
    },
  };
}

/** A mapper from stage paths to destination paths, with what it decided. */
export interface SourceMapper {
  (path: string, entry?: FinalEntry): string[];
  /** Whether some source is a directory (its contents go into the destination). */
  wholeDirs: boolean;
}

function joinPath(a: string, b: string): string {
  return a === "" ? b : b === "" ? a : `${a}/${b}`;
}

/**
 * Maps COPY --from sources onto the final paths of a stage or image: a directory's contents go
 * into the destination, a file to the destination (or into it when it ends in `/`).
 */
export function mapSources(
  sources: string[],
  dest: Destination,
  paths: Map<string, FinalEntry>,
  fail: (message: string, code?: "not_found" | "invalid_input") => never,
  exclude?: (rel: string, isDir: boolean) => boolean,
): SourceMapper {
  type Rule = { dir: string } | { file: string; to: string };
  const rules: Rule[] = [];
  const isDir = (p: string) =>
    p === "" || paths.get(p)?.kind === "dir" ||
    (!paths.has(p) && [...paths.keys()].some((k) => k.startsWith(`${p}/`)));
  for (const source of sources) {
    const rel = cleanPath(`/${source}`).replace(/^\/+/, "");
    let matches: string[];
    if (hasWildcard(rel)) {
      const pattern = compileSourcePattern(rel, fail);
      matches = [...paths.keys()].filter((p) => pattern.matches(p)).sort();
      if (matches.length === 0) fail(`no source files match ${JSON.stringify(source)}`);
    } else {
      if (rel !== "" && !isDir(rel) && !paths.has(rel)) {
        fail(`source ${JSON.stringify(source)} not found`);
      }
      matches = [rel];
    }
    for (const m of matches) {
      if (isDir(m)) rules.push({ dir: m });
      else {
        rules.push({
          file: m,
          to: dest.isDir ? joinPath(dest.path, m.slice(m.lastIndexOf("/") + 1)) : dest.path,
        });
      }
    }
  }
  if (rules.length > 1 && !dest.isDir) {
    fail(
      `with several sources the destination must be a directory ending in "/"`,
      "invalid_input",
    );
  }
  if (rules.some((r) => "file" in r && r.to === "")) {
    fail("cannot copy a file onto the root directory", "invalid_input");
  }
  const mapper = Object.assign((path: string, entry?: FinalEntry) => {
    const out: string[] = [];
    const skip = (rel: string) => exclude?.(rel, entry?.kind === "dir") ?? false;
    for (const r of rules) {
      if ("dir" in r) {
        const rel = r.dir === ""
          ? path
          : path.startsWith(`${r.dir}/`)
          ? path.slice(r.dir.length + 1)
          : undefined;
        if (rel !== undefined && !skip(rel)) out.push(joinPath(dest.path, rel));
      } else if (path === r.file && !skip(path.slice(path.lastIndexOf("/") + 1))) out.push(r.to);
    }
    return [...new Set(out)];
  }, { wholeDirs: rules.some((r) => "dir" in r) });
  return mapper;
}
