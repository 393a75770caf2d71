/**
 * The end of a platform's build: `--label`s applied, then the last stage's config and manifest
 * stored.
 *
 * @module
 */
import type { ImageStore } from "../image_store/mod.ts";
import type { Platform } from "../platform.ts";
import { configBlob, manifestBlob } from "./config.ts";
import type { StageState } from "./stage_state.ts";
import { storeJson } from "./store_blobs.ts";
import type { PlatformImage } from "./types.ts";

/** Options of {@link commitStage}. */
export interface CommitOptions {
  /** The local image store config and manifest go into. */
  store: ImageStore;
  /** The platform built (the config's os, architecture and variant). */
  platform: Platform;
  /** `--label` values, applied over the stage's. */
  labels: Record<string, string>;
  /** The build time (RFC 3339). */
  created: string;
}

/** Applies `--label`, stores config and manifest. */
export async function commitStage(
  state: StageState,
  options: CommitOptions,
): Promise<PlatformImage> {
  const o = options;
  const config = state.config;
  if (Object.keys(o.labels).length > 0) {
    config.config.Labels = { ...(config.config.Labels ?? {}), ...o.labels };
  }
  config.created = o.created;
  config.architecture = o.platform.architecture;
  config.os = o.platform.os;
  if (o.platform.variant) config.variant = o.platform.variant;
  else delete config.variant;
  const cfg = await configBlob(config);
  await storeJson(o.store, cfg);
  const manifest = await manifestBlob(
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
