/**
 * Building one platform's image: stages, instructions, layers, config and manifest.
 *
 * Stages the last stage does not need (through FROM or COPY --from) are skipped. Metadata
 * instructions change the config and add an `empty_layer` history entry; each COPY and ADD adds
 * exactly one layer, as buildah does with `--layers`.
 *
 * @module
 */
import { basename } from "node:path";
import { type Digest, Sha256 } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import type { ImageStore } from "../image_store/mod.ts";
import {
  cleanPath,
  compileIgnore,
  type Instruction,
  type InstructionSource,
  type ParsedInstructions,
  parseInstructions,
  type Stage,
} from "../kubefile/mod.ts";
import type { AddInstruction, CopyInstruction } from "../kubefile/types.ts";
import { lexInstructions } from "../kubefile/lexer.ts";
import { type DirEntry, type LayerEntry, writeLayer } from "../layer/mod.ts";
import type { Descriptor } from "../manifest.ts";
import { OCI_LAYER_GZIP, OCI_LAYER_TAR } from "../media_types.ts";
import { envToMap, mapToEnv } from "../env_list.ts";
import { formatPlatform, type Platform } from "../platform.ts";
import {
  configBlob,
  configFromBase,
  emptyConfig,
  type HistoryEntry,
  type ImageConfig,
  manifestBlob,
  ociLayerType,
  rfc3339,
} from "./config.ts";
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
import { compilePattern, hasWildcard } from "./glob.ts";
import type { ImageResolver, ResolvedImage } from "./images.ts";
import type { LayerCache } from "./layer_cache.ts";
import { type FinalEntry, LayerStack } from "./layer_view.ts";
import { storeJson, storeLayer } from "./store_blobs.ts";
import type { BuildEvent, BuiltLayer, Compression, PlatformImage } from "./types.ts";
import { LayerListings, type ListedPath, workdirEntries, workdirOwner } from "./workdir.ts";

/** Bumped whenever the bytes a cache key stands for change. */
const CACHE_VERSION = "ferry-layer-2";

/** Options of {@link PlatformBuilder}. */
export interface PlatformBuilderOptions {
  store: ImageStore;
  cache?: LayerCache;
  resolver: ImageResolver;
  platform: Platform;
  sources: InstructionSource[];
  context: BuildContext;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  compression: Compression;
  compressionThreads?: number;
  timestamp?: number;
  onEvent?: (event: BuildEvent) => void;
  warn?: (message: string) => void;
}

/** The image a stage has built so far. */
interface StageState {
  layers: BuiltLayer[];
  config: ImageConfig;
  /** Whether CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** The base image, for the manifest's base annotations. */
  base?: { name: string; digest: Digest };
  /** Directories WORKDIR created that no layer holds yet: the stage's next layer gets them. */
  workdirs: DirEntry[];
  /** Index in the history of the WORKDIR that last created one of {@link workdirs}. */
  workdirHistory?: number;
}

function imageKey(ref: string, platform: Platform): string {
  return `${ref}\0${formatPlatform(platform)}`;
}

/** The stages the last one depends on, the last included. */
export function neededStages(stages: readonly Stage[]): Set<number> {
  const needed = new Set<number>();
  const visit = (index: number) => {
    if (needed.has(index)) return;
    needed.add(index);
    const stage = stages[index];
    if (stage.from.kind === "stage") visit(stage.from.index);
    for (const i of stage.instructions) {
      if (i.kind === "copy" && i.from?.kind === "stage") visit(i.from.index);
    }
  };
  visit(stages.length - 1);
  return needed;
}

/** The original text of each instruction, by `file:line`, for progress lines. */
function instructionTexts(sources: InstructionSource[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const source of sources) {
    for (const raw of lexInstructions(source.text, source.name)) {
      out.set(`${raw.file}:${raw.line}`, raw.original.replace(/\s+/g, " ").trim());
    }
  }
  return out;
}

/** A hasher for a cache key, started with the instruction's parts. */
function keyHasher(parts: unknown): Sha256 {
  const hasher = new Sha256();
  hasher.update(new TextEncoder().encode(`${CACHE_VERSION}\n${JSON.stringify(parts)}\n`));
  return hasher;
}

/** Builds one platform's image. */
export class PlatformBuilder {
  readonly #o: PlatformBuilderOptions;
  readonly #platform: string;
  readonly #created: string;
  readonly #images = new Map<string, ResolvedImage>();
  #texts = new Map<string, string>();
  #stageNames: string[] = [];
  #step = 0;
  #steps = 0;
  readonly #listings: LayerListings;

  constructor(options: PlatformBuilderOptions) {
    this.#o = options;
    this.#platform = formatPlatform(options.platform);
    this.#created = options.timestamp !== undefined
      ? rfc3339(options.timestamp)
      : new Date().toISOString();
    this.#listings = new LayerListings(options.store.target());
  }

  /** The build time in seconds: what directories a WORKDIR creates carry, as in buildah. */
  get #createdSeconds(): number {
    return Math.floor(Date.parse(this.#created) / 1000);
  }

  /** Builds every needed stage and stores the last one's config and manifest. */
  async run(): Promise<PlatformImage> {
    const o = this.#o;
    const platform = o.platform;
    const first = parseInstructions(o.sources, {
      buildArgs: o.buildArgs,
      targetPlatform: platform,
    });
    const needed = neededStages(first.stages);
    await this.#resolveImages(first, needed);
    const parsed = parseInstructions(o.sources, {
      buildArgs: o.buildArgs,
      targetPlatform: platform,
      baseImage: (ref, p) => {
        const img = this.#images.get(imageKey(ref, p ?? platform));
        const c = img?.config.config as Record<string, unknown> | undefined;
        return img
          ? {
            env: Array.isArray(c?.Env) ? c.Env as string[] : undefined,
            shell: Array.isArray(c?.Shell) ? c.Shell as string[] : undefined,
          }
          : undefined;
      },
    });
    this.#texts = instructionTexts(o.sources);
    this.#stageNames = parsed.stages.map((s) => s.name ?? String(s.index));
    this.#steps = parsed.stages.filter((s) => needed.has(s.index))
      .reduce((n, s) => n + 1 + s.instructions.length, 0);

    const states: StageState[] = [];
    for (const stage of parsed.stages) {
      if (!needed.has(stage.index)) continue;
      this.#announce(stage);
      const state = this.#base(stage, states);
      for (const instruction of stage.instructions) {
        this.#announce(instruction);
        await this.#apply(state, instruction, states);
      }
      // No COPY/ADD followed the last WORKDIRs: their directories get a layer of their own.
      if (state.workdirs.length > 0) await this.#workdirLayer(state);
      states[stage.index] = state;
    }
    return await this.#commit(states[parsed.stages.length - 1]);
  }

  #announce(at: { file: string; line: number }): void {
    this.#step++;
    this.#o.onEvent?.({
      type: "step",
      platform: this.#platform,
      step: this.#step,
      steps: this.#steps,
      text: this.#texts.get(`${at.file}:${at.line}`) ?? "",
    });
  }

  /** Finds (or pulls) every image the needed stages use, for their platforms. */
  async #resolveImages(parsed: ParsedInstructions, needed: Set<number>): Promise<void> {
    const platform = this.#o.platform;
    const wanted: { ref: string; platform: Platform; where: string }[] = [];
    for (const stage of parsed.stages) {
      if (!needed.has(stage.index)) continue;
      if (stage.from.kind === "image") {
        wanted.push({
          ref: stage.from.ref,
          platform: stage.platform ?? platform,
          where: `${stage.file}:${stage.line}: FROM ${stage.from.ref}`,
        });
      }
      for (const i of stage.instructions) {
        if (i.kind === "copy" && i.from?.kind === "image") {
          wanted.push({
            ref: i.from.ref,
            platform,
            where: `${i.file}:${i.line}: COPY --from=${i.from.ref}`,
          });
        }
      }
    }
    for (const w of wanted) {
      const key = imageKey(w.ref, w.platform);
      if (this.#images.has(key)) continue;
      try {
        this.#images.set(key, await this.#o.resolver.get(w.ref, w.platform));
      } catch (err) {
        if (!isFerryError(err)) throw err;
        throw new FerryError(err.code, `${w.where}: ${err.message}`, { cause: err });
      }
    }
  }

  #base(stage: Stage, states: StageState[]): StageState {
    const platform = this.#o.platform;
    switch (stage.from.kind) {
      case "scratch":
        return { layers: [], config: emptyConfig(platform), cmdSet: false, workdirs: [] };
      case "stage": {
        const parent = states[stage.from.index];
        return {
          layers: [...parent.layers],
          config: structuredClone(parent.config),
          cmdSet: false,
          workdirs: [],
          ...(parent.base ? { base: parent.base } : {}),
        };
      }
      case "image": {
        const img = this.#images.get(imageKey(stage.from.ref, stage.platform ?? platform))!;
        const where = `${stage.file}:${stage.line}: FROM ${stage.from.ref}`;
        const config = configFromBase(img.config, img.manifest.layers.length, platform, where);
        return {
          layers: img.manifest.layers.map((l, i) => ({
            descriptor: {
              mediaType: ociLayerType(l.mediaType),
              digest: l.digest,
              size: l.size,
              ...(l.urls ? { urls: l.urls } : {}),
            },
            diffId: config.rootfs.diff_ids[i],
            reused: true,
          })),
          config,
          cmdSet: false,
          workdirs: [],
          base: { name: img.name ?? stage.from.ref, digest: img.descriptor.digest },
        };
      }
    }
  }

  #history(state: StageState, text: string, emptyLayer: boolean): void {
    const entry: HistoryEntry = {
      created: this.#created,
      created_by: `/bin/sh -c #(nop) ${text}`,
    };
    if (emptyLayer) entry.empty_layer = true;
    state.config.history.push(entry);
  }

  async #apply(state: StageState, i: Instruction, states: StageState[]): Promise<void> {
    const c = state.config.config;
    switch (i.kind) {
      case "arg":
        return;
      case "env": {
        const env = envToMap(c.Env);
        for (const { key, value } of i.env) env.set(key, value);
        c.Env = mapToEnv(env);
        return this.#history(
          state,
          `ENV ${i.env.map((e) => `${e.key}=${e.value}`).join(" ")}`,
          true,
        );
      }
      case "label": {
        c.Labels = { ...(c.Labels ?? {}) };
        for (const { key, value } of i.labels) c.Labels[key] = value;
        return this.#history(
          state,
          `LABEL ${i.labels.map((l) => `${l.key}=${l.value}`).join(" ")}`,
          true,
        );
      }
      case "cmd":
        c.Cmd = i.command;
        state.cmdSet = true;
        return this.#history(state, `CMD ${JSON.stringify(i.command)}`, true);
      case "entrypoint":
        c.Entrypoint = i.command;
        // As Docker: an ENTRYPOINT drops the CMD inherited from the base.
        if (!state.cmdSet) delete c.Cmd;
        return this.#history(state, `ENTRYPOINT ${JSON.stringify(i.command)}`, true);
      case "workdir": {
        const previous = c.WorkingDir || "/";
        c.WorkingDir = cleanPath(i.path.startsWith("/") ? i.path : `${previous}/${i.path}`);
        this.#history(state, `WORKDIR ${c.WorkingDir}`, true);
        return await this.#workdir(state, i.file, i.line);
      }
      case "user":
        c.User = i.user;
        return this.#history(state, `USER ${i.user}`, true);
      case "maintainer":
        state.config.author = i.maintainer;
        return this.#history(state, `MAINTAINER ${i.maintainer}`, true);
      case "expose":
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of i.ports) c.ExposedPorts[p] = {};
        return this.#history(state, `EXPOSE ${i.ports.join(" ")}`, true);
      case "volume":
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of i.volumes) c.Volumes[v] = {};
        return this.#history(state, `VOLUME ${JSON.stringify(i.volumes)}`, true);
      case "stopsignal":
        c.StopSignal = i.signal;
        return this.#history(state, `STOPSIGNAL ${i.signal}`, true);
      case "healthcheck": {
        const h: Record<string, unknown> = { Test: i.test };
        if (i.interval !== undefined) h.Interval = i.interval;
        if (i.timeout !== undefined) h.Timeout = i.timeout;
        if (i.startPeriod !== undefined) h.StartPeriod = i.startPeriod;
        if (i.startInterval !== undefined) h.StartInterval = i.startInterval;
        if (i.retries !== undefined) h.Retries = i.retries;
        c.Healthcheck = h;
        return this.#history(state, `HEALTHCHECK ${JSON.stringify(i.test)}`, true);
      }
      case "shell":
        c.Shell = i.shell;
        return this.#history(state, `SHELL ${JSON.stringify(i.shell)}`, true);
      case "onbuild":
        c.OnBuild = [...(c.OnBuild ?? []), i.trigger];
        return this.#history(state, `ONBUILD ${i.trigger}`, true);
      case "copy":
      case "add":
        if (i.kind === "copy" && i.from) return await this.#copyFrom(state, i, states);
        return await this.#copyContext(state, i);
    }
  }

  #failer(i: CopyInstruction | AddInstruction) {
    const label = i.kind === "copy" ? "COPY" : "ADD";
    return (
      message: string,
      code: "not_found" | "invalid_input" | "unsupported" = "not_found",
    ): never => {
      throw new FerryError(code, `${i.file}:${i.line}: ${label}: ${message}`);
    };
  }

  #owner(i: CopyInstruction | AddInstruction): Owner | undefined {
    const label = i.kind === "copy" ? "COPY" : "ADD";
    return i.chown ? parseChown(i.chown, `${i.file}:${i.line}: ${label}`) : undefined;
  }

  #keyParts(
    state: StageState,
    i: CopyInstruction | AddInstruction,
    dest: Destination,
    extra: Record<string, unknown>,
  ): Record<string, unknown> {
    return {
      kind: i.kind,
      sources: i.sources,
      dest,
      workdir: state.config.config.WorkingDir ?? "/",
      chown: i.chown ?? null,
      chmod: i.chmod ?? null,
      exclude: i.exclude,
      compression: this.#o.compression,
      clamp: this.#o.timestamp ?? null,
      // Directories of earlier WORKDIRs go into this layer (their time is the build's: left out).
      workdirs: state.workdirs.map((d) => [d.path, d.uid, d.gid]),
      ...extra,
    };
  }

  /** Notes the directories a WORKDIR creates (they go into the stage's next layer). */
  async #workdir(state: StageState, file: string, line: number): Promise<void> {
    const user = state.config.config.User;
    const workdir = state.config.config.WorkingDir ?? "/";
    const created = await workdirEntries({
      workdir,
      user,
      mtime: this.#createdSeconds,
      pending: new Set(state.workdirs.map((d) => d.path)),
      exists: () => this.#listings.paths(state.layers),
      where: `${file}:${line}: WORKDIR ${workdir}`,
    });
    if (created.length === 0) return;
    if (workdirOwner(user).named) {
      this.#o.warn?.(
        `${file}:${line}: WORKDIR ${workdir}: USER ${user} is a name; the directory is owned by root (use numeric ids)`,
      );
    }
    state.workdirs.push(...created);
    state.workdirHistory = state.config.history.length - 1;
  }

  /** A layer holding only the directories of the stage's last WORKDIRs. */
  async #workdirLayer(state: StageState): Promise<void> {
    const o = this.#o;
    const entries = state.workdirs;
    const result = await storeLayer(
      o.store,
      writeLayer(entries, {
        compression: o.compression,
        mtime: o.timestamp,
        threads: o.compressionThreads,
      }),
    );
    this.#listings.set(result.diffId, entries.map((e) => ({ path: e.path, kind: e.kind })));
    o.cache?.setWhiteouts(result.digest, false);
    state.workdirs = [];
    // The WORKDIR's history entry stands for the layer, as the last step's does in buildah.
    delete state.config.history[state.workdirHistory!].empty_layer;
    const layer: BuiltLayer = {
      descriptor: { mediaType: this.#mediaType(), digest: result.digest, size: result.size },
      diffId: result.diffId,
      reused: false,
    };
    state.layers.push(layer);
    state.config.rootfs.diff_ids.push(layer.diffId);
    this.#layerEvent(layer);
  }

  async #copyContext(state: StageState, i: CopyInstruction | AddInstruction): Promise<void> {
    const fail = this.#failer(i);
    const owner = this.#owner(i);
    const dest = resolveDestination(i.dest, state.config.config.WorkingDir ?? "/");
    const label = i.kind === "copy" ? "COPY" : "ADD";
    const excludes = i.exclude.length > 0
      ? compileIgnore(i.exclude, `${i.file}:${i.line}: ${label} --exclude`)
      : undefined;
    const plan = await planContextCopy(this.#o.context, {
      sources: i.sources,
      dest,
      extract: i.kind === "add",
      owner,
      chmod: i.chmod,
      excludes,
      fail,
    });
    const hasher = keyHasher(this.#keyParts(state, i, dest, { from: "context" }));
    hashEntries(hasher, plan.listed, plan.stamps);
    for (const a of plan.archives) {
      hasher.update(
        new TextEncoder().encode(`archive\0${a.path}\0${a.size}\0${a.mtime}\0${a.stamp}\n`),
      );
    }
    const key = hasher.digest();
    const what = plan.sources.length === 1 ? (plan.sources[0].isDir ? "dir" : "file") : "multi";
    // Named by the layer's content (its diffID), as buildah names a COPY by its content hash.
    const createdBy = (diffId: Digest) => `${label} ${what}:${diffId.slice(7)} in ${i.dest} `;
    // What a reused layer holds is known from the plan, unless archives are extracted into it.
    const listing = plan.archives.length === 0
      ? [...state.workdirs, ...plan.listed].map((e) => ({ path: e.path, kind: e.kind }))
      : undefined;
    if (await this.#reuse(state, key, createdBy, listing)) return;
    await this.#write(
      state,
      key,
      createdBy,
      () => contextCopyEntries(plan, { owner, chmod: i.chmod, where: `${i.file}:${i.line}` }),
    );
  }

  async #copyFrom(state: StageState, i: CopyInstruction, states: StageState[]): Promise<void> {
    const fail = this.#failer(i);
    const owner = this.#owner(i);
    const from = i.from!;
    let layers: Descriptor[];
    let diffIds: Digest[];
    let name: string;
    if (from.kind === "stage") {
      const source = states[from.index];
      layers = source.layers.map((l) => l.descriptor);
      diffIds = source.layers.map((l) => l.diffId);
      name = this.#stageNames[from.index];
    } else {
      const img = this.#images.get(imageKey(from.ref, this.#o.platform))!;
      layers = img.manifest.layers;
      diffIds = layers.map((l) => l.digest);
      name = from.ref;
    }
    const dest = resolveDestination(i.dest, state.config.config.WorkingDir ?? "/");
    const key = keyHasher(this.#keyParts(state, i, dest, { from: diffIds })).digest();
    const createdBy = (diffId: Digest) =>
      `COPY --from=${name} dir:${diffId.slice(7)} in ${i.dest} `;
    if (await this.#reuse(state, key, createdBy)) return;
    const stack = new LayerStack(this.#o.store.target(), layers);
    const { paths } = await stack.scan();
    const map = mapSources(
      i.sources,
      dest,
      paths,
      (message, code) =>
        fail(`${message} in ${from.kind === "stage" ? "stage " : ""}${name}`, code),
      i.exclude.length > 0
        ? compileIgnore(i.exclude, `${i.file}:${i.line}: COPY --exclude`)
        : undefined,
    );
    let newest = 0;
    for (const [p, e] of paths) if (map(p, e).length > 0) newest = Math.max(newest, e.mtime);
    const destDir = map.wholeDirs || dest.isDir
      ? dest.path
      : dest.path.split("/").slice(0, -1).join("/");
    await this.#write(state, key, createdBy, async function* () {
      yield* directoryChain(destDir, owner, newest);
      yield* stack.entries(map, {
        uid: owner?.uid,
        gid: owner?.gid,
        mode: i.chmod,
        where: `${i.file}:${i.line}: COPY --from=${name}`,
      });
    });
  }

  #mediaType(): string {
    return this.#o.compression === "gzip" ? OCI_LAYER_GZIP : OCI_LAYER_TAR;
  }

  /** Adds the cached layer of `key` when its blob is still stored; false on a miss. */
  async #reuse(
    state: StageState,
    key: Digest,
    createdBy: (diffId: Digest) => string,
    listing?: ListedPath[],
  ): Promise<boolean> {
    const o = this.#o;
    const mediaType = this.#mediaType();
    const cached = await o.cache?.get(key);
    if (
      !cached || cached.mediaType !== mediaType ||
      !await o.store.target().exists({ mediaType, digest: cached.digest, size: cached.size })
    ) return false;
    if (listing) this.#listings.set(cached.diffId, listing);
    state.workdirs = [];
    this.#add(state, {
      descriptor: { mediaType, digest: cached.digest, size: cached.size },
      diffId: cached.diffId,
      reused: true,
    }, createdBy);
    return true;
  }

  /** Writes a layer of `produce`'s entries into the store and adds it. */
  async #write(
    state: StageState,
    key: Digest,
    createdBy: (diffId: Digest) => string,
    produce: () => AsyncIterable<LayerEntry>,
  ): Promise<void> {
    const o = this.#o;
    const mediaType = this.#mediaType();
    let whiteouts = false;
    const listing: ListedPath[] = [];
    const workdirs = state.workdirs;
    const watched = async function* () {
      // The directories of earlier WORKDIRs come first, as they were made before the copy; the
      // copy's own entries for them are left out (buildah's copy finds them existing).
      const made = new Set(workdirs.map((d) => d.path));
      for (const d of workdirs) {
        listing.push({ path: d.path, kind: d.kind });
        yield d;
      }
      for await (const e of produce()) {
        if (e.kind === "dir" && made.has(e.path)) continue;
        if (basename(e.path).startsWith(".wh.")) whiteouts = true;
        listing.push({ path: e.path, kind: e.kind });
        yield e;
      }
    };
    const result = await storeLayer(
      o.store,
      writeLayer(watched(), {
        compression: o.compression,
        mtime: o.timestamp,
        threads: o.compressionThreads,
      }),
    );
    o.cache?.put(key, {
      mediaType,
      digest: result.digest,
      size: result.size,
      diffId: result.diffId,
    });
    o.cache?.setWhiteouts(result.digest, whiteouts);
    this.#listings.set(result.diffId, listing);
    state.workdirs = [];
    this.#add(state, {
      descriptor: { mediaType, digest: result.digest, size: result.size },
      diffId: result.diffId,
      reused: false,
    }, createdBy);
  }

  #add(state: StageState, layer: BuiltLayer, createdBy: (diffId: Digest) => string): void {
    state.layers.push(layer);
    state.config.rootfs.diff_ids.push(layer.diffId);
    this.#history(state, createdBy(layer.diffId), false);
    this.#layerEvent(layer);
  }

  #layerEvent(layer: BuiltLayer): void {
    this.#o.onEvent?.({
      type: "layer",
      platform: this.#platform,
      digest: layer.descriptor.digest,
      size: layer.descriptor.size,
      diffId: layer.diffId,
      cached: layer.reused,
    });
  }

  /** Applies `--label`, stores config and manifest. */
  async #commit(state: StageState): Promise<PlatformImage> {
    const o = this.#o;
    const config = state.config;
    if (Object.keys(o.labels).length > 0) {
      config.config.Labels = { ...(config.config.Labels ?? {}), ...o.labels };
    }
    config.created = this.#created;
    config.architecture = o.platform.architecture;
    config.os = o.platform.os;
    if (o.platform.variant) config.variant = o.platform.variant;
    else delete config.variant;
    const cfg = configBlob(config);
    await storeJson(o.store, cfg);
    const manifest = manifestBlob(
      cfg.descriptor,
      state.layers.map((l) => l.descriptor),
      state.base
        ? {
          "org.opencontainers.image.base.digest": state.base.digest,
          "org.opencontainers.image.base.name": state.base.name,
        }
        : undefined,
    );
    await storeJson(o.store, manifest);
    return {
      platform: o.platform,
      descriptor: manifest.descriptor,
      config: cfg.descriptor,
      layers: state.layers,
    };
  }
}

/** A mapper from stage paths to destination paths, with what it decided. */
interface SourceMapper {
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
      let pattern;
      try {
        pattern = compilePattern(rel);
      } catch (err) {
        fail((err as Error).message, "invalid_input");
      }
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
