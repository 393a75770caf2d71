/**
 * The image a build stage has made so far, and where each stage starts: from scratch, from an
 * earlier stage, or from a base image.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import type { Stage } from "../kubefile/mod.ts";
import type { DirEntry } from "../layer/mod.ts";
import { formatPlatform, type Platform } from "../platform.ts";
import { configFromBase, emptyConfig, type ImageConfig, ociLayerType } from "./config.ts";
import type { ResolvedImage } from "./images.ts";
import type { BuiltLayer } from "./types.ts";

/** The image a stage has built so far. */
export interface StageState {
  /** Its layers so far, base image's first. */
  layers: BuiltLayer[];
  /** Its image config so far (history and diffIDs included). */
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

/** The key of a resolved image: its reference for one platform. */
export function imageKey(ref: string, platform: Platform): string {
  return `${ref}\0${formatPlatform(platform)}`;
}

/**
 * The state a stage starts from: empty for `FROM scratch`, a copy of an earlier stage's, or a
 * base image's layers and config (`images` holds the resolved images by {@link imageKey}).
 */
export function startStage(
  stage: Stage,
  states: readonly StageState[],
  images: ReadonlyMap<string, ResolvedImage>,
  platform: Platform,
): StageState {
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
      const img = images.get(imageKey(stage.from.ref, stage.platform ?? platform))!;
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
