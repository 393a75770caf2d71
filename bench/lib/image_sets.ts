/**
 * The two image sets of the save and serve benchmarks, generated as OCI layouts and pushed into
 * the source registry with skopeo (untimed setup), and the check that a registry directory holds
 * a whole set.
 *
 * - small: 10 images × 3 layers × 5 MiB. Layer 1 is one base shared by all ten, layer 2 one of two
 *   group layers (images 0–4 and 5–9), layer 3 the image's own: 13 distinct layers.
 * - large: 4 images × 4 layers × 100 MiB, nothing shared: 16 distinct layers.
 * - wan (the WAN benchmark's only set): 12 images × 3 layers × 2 MiB. Layer 1 is one of two bases
 *   (images 0–5 and 6–11), layer 2 one of six pair layers, layer 3 the image's own: 20 distinct
 *   layers, 40 MiB.
 *
 * @module
 */
import { join } from "node:path";
import type { Digest } from "../../src/digest.ts";
import {
  type BuiltImage,
  makeLayout,
  pushToRegistry,
  removeTree,
  type SingleImageSpec,
} from "../../tests/support/mod.ts";
import { pool } from "./proc.ts";
import type { BenchRegistry } from "./registry.ts";

/** Where and with what the save and serve methods run. */
export interface BenchContext {
  /** The deno executable running ferry. */
  deno: string;
  /** The ferry checkout (holds main.ts). */
  repoRoot: string;
  /** Scratch space; destinations are created and removed under it. */
  workDir: string;
  /** The source registry holding the image sets. */
  source: BenchRegistry;
}

/** The benchmark's scales (`wan` is the WAN benchmark's set, not a scale of the save one). */
export type Scale = "small" | "large" | "wan";

/** Every scale of the save benchmark, in the order they run. */
export const SCALES: readonly Scale[] = ["small", "large"];

const MIB = 1024 * 1024;

/** The large scale's one huge layer: 2 GiB. */
export const HUGE_LAYER = 2048 * MIB;

/** One blob of the set, with a repository that links it (for raw downloads). */
export interface SetBlob {
  repository: string;
  digest: Digest;
  size: number;
}

/** An image set pushed into the source registry. */
export interface ImageSet {
  scale: Scale;
  /** One line describing the set, for reports. */
  description: string;
  /** References of every image in the source registry (`127.0.0.1:PORT/bench/small-0:1.0`). */
  refs: string[];
  /** Repository and tag of each image, in the order of `refs`. */
  images: { repository: string; tag: string }[];
  /** Distinct layers and configs (what has to cross the wire once). */
  blobs: SetBlob[];
  /** Distinct image manifests. */
  manifests: number;
  /** Bytes of the distinct blobs. */
  uniqueBytes: number;
  /** Bytes of the layers and configs counted per image (what a copy without sharing moves). */
  referencedBytes: number;
}

/** The image specs of a scale. */
export function setSpecs(scale: Scale): { specs: SingleImageSpec[]; description: string } {
  if (scale === "small") {
    const size = 5 * MIB;
    const specs = Array.from({ length: 10 }, (_, i) => ({
      name: `small-${i}`,
      layers: [
        { seed: "bench-small-base", size },
        { seed: `bench-small-group-${i < 5 ? "a" : "b"}`, size },
        { seed: `bench-small-own-${i}`, size },
      ],
    }));
    return {
      specs,
      description: "10 images × 3 layers × 5 MiB; one base layer shared by all, " +
        "one group layer shared by each half (13 distinct layers)",
    };
  }
  if (scale === "wan") {
    const size = 2 * MIB;
    const specs = Array.from({ length: 12 }, (_, i) => ({
      name: `wan-${i}`,
      layers: [
        { seed: `bench-wan-base-${i < 6 ? "a" : "b"}`, size },
        { seed: `bench-wan-pair-${Math.floor(i / 2)}`, size },
        { seed: `bench-wan-own-${i}`, size },
      ],
    }));
    return {
      specs,
      description: "12 images × 3 layers × 2 MiB; two base layers (one per half), six pair " +
        "layers (one per two images) and each image's own (20 distinct layers)",
    };
  }
  const size = 100 * MIB;
  const specs = Array.from({ length: 4 }, (_, i) => ({
    name: `large-${i}`,
    layers: Array.from({ length: 4 }, (_, j) => ({ seed: `bench-large-${i}-${j}`, size })),
  }));
  // One blob far larger than any buffer: peak RSS must not grow with the blob.
  specs.push({ name: "large-huge", layers: [{ seed: "bench-large-huge", size: HUGE_LAYER }] });
  return {
    specs,
    description: "4 images × 4 layers × 100 MiB and one image of one 2 GiB layer, no shared layers",
  };
}

/**
 * Generates the set's layout under `workDir`, pushes every image to `registryHost` as
 * `bench/<name>:1.0`, and removes the layout again (it is as large as the set).
 */
export async function prepareSet(
  scale: Scale,
  workDir: string,
  registryHost: string,
): Promise<ImageSet> {
  const { specs, description } = setSpecs(scale);
  const layoutDir = join(workDir, `layout-${scale}`);
  try {
    const built = (await makeLayout(layoutDir, specs)) as BuiltImage[];
    const images = built.map((b) => ({ repository: `bench/${b.name}`, tag: "1.0" }));
    const refs = images.map((i) => `${registryHost}/${i.repository}:${i.tag}`);
    await pool(built.map((b, i) => ({ b, ref: refs[i] })), 2, async ({ b, ref }) => {
      await pushToRegistry(layoutDir, b.name, ref);
    });
    const blobs = new Map<Digest, SetBlob>();
    let referencedBytes = 0;
    built.forEach((image, i) => {
      for (const desc of [image.config, ...image.layers]) {
        referencedBytes += desc.size;
        if (!blobs.has(desc.digest)) {
          blobs.set(desc.digest, {
            repository: images[i].repository,
            digest: desc.digest,
            size: desc.size,
          });
        }
      }
    });
    const unique = [...blobs.values()];
    return {
      scale,
      description,
      refs,
      images,
      blobs: unique,
      manifests: new Set(built.map((b) => b.digest)).size,
      uniqueBytes: unique.reduce((n, b) => n + b.size, 0),
      referencedBytes,
    };
  } finally {
    await removeTree(layoutDir);
  }
}

/** Number of blobs (with data) stored in a registry directory. */
async function countBlobs(root: string): Promise<number> {
  let blobs = 0;
  const shards = join(root, "docker", "registry", "v2", "blobs", "sha256");
  for await (const shard of Deno.readDir(shards)) {
    for await (const blob of Deno.readDir(join(shards, shard.name))) {
      try {
        await Deno.stat(join(shards, shard.name, blob.name, "data"));
        blobs++;
      } catch {
        // a directory without data does not count
      }
    }
  }
  return blobs;
}

/** Throws unless `root` holds every blob and manifest of the set and every tag. */
export async function verifyRegistryDir(root: string, set: ImageSet, who: string): Promise<void> {
  const blobs = await countBlobs(root);
  const want = set.blobs.length + set.manifests;
  if (blobs !== want) throw new Error(`${who}: ${root} holds ${blobs} blobs, want ${want}`);
  const v2 = join(root, "docker", "registry", "v2");
  for (const image of set.images) {
    const link = join(v2, "repositories", image.repository, "_manifests", "tags", image.tag);
    await Deno.stat(join(link, "current", "link")).catch(() => {
      throw new Error(`${who}: ${root} has no tag ${image.repository}:${image.tag}`);
    });
  }
}
