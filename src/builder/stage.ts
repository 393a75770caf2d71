/**
 * Building one platform's image: stages, instructions, layers, config and manifest.
 *
 * Stages the last stage does not need (through FROM or COPY --from) are skipped. Metadata
 * instructions change the config ({@link ./config_edits.ts}) and add an `empty_layer` history
 * entry; each COPY and ADD is planned ({@link ./copy_step.ts}, keyed by {@link ./cache_key.ts})
 * and adds exactly one layer ({@link ./stage_layers.ts}), as buildah does with `--layers`; the
 * last stage is committed ({@link ./commit.ts}).
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import { FerryError, isFerryError } from "../errors.ts";
import type { ImageStore } from "../image_store/mod.ts";
import {
  type Instruction,
  type InstructionSource,
  type ParsedInstructions,
  parseInstructions,
  type Stage,
} from "../kubefile/mod.ts";
import type { CopyInstruction } from "../kubefile/types.ts";
import { lexInstructions } from "../kubefile/lexer.ts";
import { formatPlatform, type Platform } from "../platform.ts";
import type { LayerSettings } from "./cache_key.ts";
import { commitStage } from "./commit.ts";
import { rfc3339 } from "./config.ts";
import { editConfig } from "./config_edits.ts";
import type { BuildContext } from "./copy_plan.ts";
import { type CopySource, type CopyStep, planContextStep, planStageStep } from "./copy_step.ts";
import type { ImageResolver, ResolvedImage } from "./images.ts";
import type { LayerCache } from "./layer_cache.ts";
import { StageLayers } from "./stage_layers.ts";
import { imageKey, type StageState, startStage } from "./stage_state.ts";
import type { BuildEvent, Compression, PlatformImage } from "./types.ts";
import { workdirEntries, workdirOwner } from "./workdir.ts";

/** Options of {@link PlatformBuilder}. */
export interface PlatformBuilderOptions {
  /** The local image store: base images are read from it, layers and the image go into it. */
  store: ImageStore;
  /** The layer cache (none with `--no-cache`). */
  cache?: LayerCache;
  /** Finds (or pulls) the images FROM and COPY --from name. */
  resolver: ImageResolver;
  /** The platform built. */
  platform: Platform;
  /** The instruction files, in order. */
  sources: InstructionSource[];
  /** The build context COPY and ADD read. */
  context: BuildContext;
  /** `--build-arg` values. */
  buildArgs: Record<string, string>;
  /** `--label` values, applied last. */
  labels: Record<string, string>;
  /** `--compression`. */
  compression: Compression;
  /** `--compression-threads`. */
  compressionThreads?: number;
  /** `--timestamp`: creation time and the newest file time in the layers. */
  timestamp?: number;
  /** Receives `step` and `layer` events. */
  onEvent?: (event: BuildEvent) => void;
  /** Receives warnings (one line each). */
  warn?: (message: string) => void;
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
  readonly #layers: StageLayers;
  readonly #settings: LayerSettings;

  /** A builder of `options.platform`'s image; {@link run} builds it. */
  constructor(options: PlatformBuilderOptions) {
    this.#o = options;
    this.#platform = formatPlatform(options.platform);
    this.#created = options.timestamp !== undefined
      ? rfc3339(options.timestamp)
      : new Date().toISOString();
    this.#layers = new StageLayers({
      store: options.store,
      cache: options.cache,
      compression: options.compression,
      compressionThreads: options.compressionThreads,
      timestamp: options.timestamp,
      platform: this.#platform,
      created: this.#created,
      onEvent: options.onEvent,
    });
    this.#settings = { compression: options.compression, timestamp: options.timestamp };
  }

  /** The build time in seconds: what directories a WORKDIR creates carry, as in buildah. */
  get #createdSeconds(): number {
    return Math.floor(Date.parse(this.#created) / 1000);
  }

  /** Builds every needed stage and stores the last one's config and manifest. */
  async run(): Promise<PlatformImage> {
    try {
      return await this.#run();
    } finally {
      this.#layers.close();
    }
  }

  async #run(): Promise<PlatformImage> {
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
      const state = startStage(stage, states, this.#images, platform);
      for (const instruction of stage.instructions) {
        this.#announce(instruction);
        await this.#apply(state, instruction, states);
      }
      // No COPY/ADD followed the last WORKDIRs: their directories get a layer of their own.
      if (state.workdirs.length > 0) await this.#layers.workdirLayer(state);
      states[stage.index] = state;
    }
    return await commitStage(states[parsed.stages.length - 1], {
      store: o.store,
      platform,
      labels: o.labels,
      created: this.#created,
    });
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

  async #apply(state: StageState, i: Instruction, states: StageState[]): Promise<void> {
    switch (i.kind) {
      case "copy":
      case "add": {
        const steps = i.kind === "copy" && i.from
          ? [
            await planStageStep(
              this.#o.store.target(),
              state,
              i,
              this.#copySource(i, states),
              this.#settings,
            ),
          ]
          : await planContextStep(this.#o.context, state, i, this.#settings);
        for (const step of steps) await this.#addLayer(state, step);
        return;
      }
      case "workdir":
        editConfig(state, i, this.#created);
        return await this.#workdir(state, i.file, i.line);
      default:
        return editConfig(state, i, this.#created);
    }
  }

  /** The layers a COPY --from reads: an earlier stage's or an image's. */
  #copySource(i: CopyInstruction, states: StageState[]): CopySource {
    const from = i.from!;
    if (from.kind === "stage") {
      const source = states[from.index];
      return {
        name: this.#stageNames[from.index],
        stage: true,
        layers: source.layers.map((l) => l.descriptor),
        keys: source.layers.map((l) => l.diffId),
      };
    }
    const img = this.#images.get(imageKey(from.ref, this.#o.platform))!;
    return {
      name: from.ref,
      stage: false,
      layers: img.manifest.layers,
      keys: img.manifest.layers.map((l): Digest => l.digest),
    };
  }

  /** Reuses the cached layer of a planned COPY/ADD, or writes it. */
  async #addLayer(state: StageState, step: CopyStep): Promise<void> {
    const workdirs = step.workdirs ?? true;
    if (await this.#layers.reuse(state, step.key, step.createdBy, step.listing, workdirs)) return;
    const produce = await step.prepare();
    await this.#layers.write(state, step.key, step.createdBy, produce, workdirs);
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
      exists: () => this.#layers.listings.paths(state.layers),
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
}
