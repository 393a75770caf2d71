/**
 * Layer cache keys: what a COPY or ADD layer's bytes depend on, hashed. Two steps with the same
 * key make the same layer, so the cached one is reused.
 *
 * @module
 */
import { Sha256 } from "../digest.ts";
import type { AddInstruction, CopyInstruction } from "../kubefile/types.ts";
import type { Destination } from "./copy_plan.ts";
import type { StageState } from "./stage_state.ts";
import type { Compression } from "./types.ts";

/** Bumped whenever the bytes a cache key stands for change. */
const CACHE_VERSION = "ferry-layer-2";

/** A hasher for a cache key, started with the instruction's parts. */
export async function keyHasher(parts: unknown): Promise<Sha256> {
  const hasher = await Sha256.create();
  hasher.update(new TextEncoder().encode(`${CACHE_VERSION}\n${JSON.stringify(parts)}\n`));
  return hasher;
}

/** What a build's layers are written with, as far as the cache key goes. */
export interface LayerSettings {
  /** `--compression`. */
  compression: Compression;
  /** `--timestamp`: the time every entry is clamped to. */
  timestamp?: number;
}

/** The parts of a COPY/ADD cache key that do not depend on its sources' contents. */
export function copyKeyParts(
  state: StageState,
  i: CopyInstruction | AddInstruction,
  dest: Destination,
  settings: LayerSettings,
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
    compression: settings.compression,
    clamp: settings.timestamp ?? null,
    // Directories of earlier WORKDIRs go into this layer (their time is the build's: left out).
    workdirs: state.workdirs.map((d) => [d.path, d.uid, d.gid]),
    ...extra,
  };
}
