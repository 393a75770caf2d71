/**
 * `ferry build`: a cluster image from a build context, without a daemon or a container runtime.
 *
 * 1. Unless turned off, the context's images are saved into `CONTEXT/registry` exactly as
 *    `ferry registry save CONTEXT` does (the Kubefile decides whether they enter the image, by
 *    `COPY registry ./registry`).
 * 2. The instruction files are parsed (syntax errors name file and line before anything is
 *    fetched), base images are found in the local store or pulled into it.
 * 3. Each platform is built stage by stage: metadata instructions change the config, each COPY or
 *    ADD writes one layer (or reuses the cached layer of unchanged inputs), straight into the store.
 * 4. The config and manifest (and for several platforms an index) are stored and named.
 *
 * @module
 */
import { join, resolve } from "../path.ts";
import { discoverImages, formatWarning, referencedNotice } from "../context/mod.ts";
import { errorMessage, FerryError } from "../errors.ts";
import { localImageName } from "../image_store/mod.ts";
import {
  compileIgnore,
  findInstructionFiles,
  type InstructionSource,
  parseInstructions,
  readIgnoreFile,
  readInstructionFiles,
} from "../kubefile/mod.ts";
import { formatPlatform, hostPlatform, type Platform } from "../platform.ts";
import { parseReference } from "../reference.ts";
import { archiveSource, saveImages } from "../transfer/save.ts";
import { indexBlob } from "./config.ts";
import type { BuildContext } from "./copy_plan.ts";
import { ImageResolver } from "./images.ts";
import { LayerCache } from "./layer_cache.ts";
import { platformRegistryFilter } from "./registry_filter.ts";
import { PlatformBuilder } from "./stage.ts";
import { holdWriteSession, storeJson } from "./store_blobs.ts";
import type { BuildOptions, BuildResult, PlatformImage } from "./types.ts";

/** Instruction sources, parsed once up front so that syntax errors come before any work. */
interface Prepared {
  sources: InstructionSource[];
  names: string[];
  context: BuildContext;
}

async function prepare(options: BuildOptions): Promise<Prepared> {
  const dir = resolve(options.context);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    throw new FerryError("invalid_input", `build context ${options.context} does not exist`);
  }
  if (!info.isDirectory) {
    throw new FerryError("invalid_input", `build context ${options.context} is not a directory`);
  }
  const names = [...new Set((options.tags ?? []).map(imageName))];
  const paths = await findInstructionFiles(dir, options.files);
  const sources = await readInstructionFiles(paths, dir);
  // Fail on syntax before saving images or pulling anything.
  const first = parseInstructions(sources, {
    buildArgs: options.buildArgs,
    targetPlatform: (options.platforms ?? [hostPlatform()])[0],
  });
  if (first.unusedBuildArgs.length > 0) {
    options.warn?.(
      `build args not consumed by any ARG: ${first.unusedBuildArgs.join(", ")}`,
    );
  }
  const ignoreFile = await readIgnoreFile(dir);
  const ignore = ignoreFile ? compileIgnore(ignoreFile.lines, ignoreFile.name) : undefined;
  return { sources, names, context: { dir, realDir: await Deno.realPath(dir), ignore } };
}

/** The stored name of `-t NAME`, with the problem of a name that does not parse. */
function imageName(tag: string): string {
  try {
    return localImageName(tag);
  } catch (err) {
    // The name as given explains the problem better than its `localhost/` form.
    parseReference(tag);
    throw err;
  }
}

/** Saves the context's images into `CONTEXT/registry`; returns how many. */
async function saveContextImages(
  options: BuildOptions,
  contextDir: string,
  platforms: Platform[],
): Promise<number> {
  const found = await discoverImages(contextDir, { strict: options.strict });
  for (const w of found.warnings) options.warn?.(formatWarning(w));
  const images = found.images.map((i) => i.image);
  if (options.includeReferenced) images.push(...found.referenced.map((i) => i.image));
  else if (found.referenced.length > 0) {
    options.notice?.(referencedNotice(found.referenced.length, true));
  }
  if (images.length === 0 && found.archives.length === 0) return 0;
  if (!options.client) {
    throw new FerryError("usage", "saving the context's images needs registry access");
  }
  const registryDir = join(contextDir, "registry");
  // Saving unchanged images again touches no file, so the layer cache still recognises registry/.
  const saved = await saveImages({
    registryDir,
    images,
    archives: found.archives.map(archiveSource),
    platforms,
    all: options.all,
    referrers: options.referrers,
    check: options.check,
    maxParallel: options.maxPullProcs,
    client: options.client,
    onEvent: options.onEvent,
    warn: options.warn,
  });
  return saved.length;
}

/**
 * Builds an image from a context into the local image store.
 *
 * @throws {FerryError} one line naming the problem: `Kubefile:12: COPY: source "x" not found in
 *   the build context`, a name that does not parse, an image that cannot be pulled…
 */
export async function build(options: BuildOptions): Promise<BuildResult> {
  const platforms = options.platforms && options.platforms.length > 0
    ? options.platforms
    : [hostPlatform()];
  const prepared = await prepare(options);
  const { store } = options;
  await holdWriteSession(store);

  const savedImages = options.saveImages === false
    ? 0
    : await saveContextImages(options, prepared.context.dir, platforms);

  const cache = options.cache === false ? undefined : new LayerCache(store.root);
  const resolver = new ImageResolver(store, {
    client: options.client,
    platforms,
    onEvent: options.onEvent,
    onPull: (image) => options.onEvent?.({ type: "pull", image }),
    check: options.check,
  });
  const images: PlatformImage[] = [];
  try {
    for (const platform of platforms) {
      // Each platform's image carries only that platform's saved images (unless --all).
      const exclude = platforms.length > 1 && !options.all
        ? await platformRegistryFilter(prepared.context.dir, platform)
        : undefined;
      const builder = new PlatformBuilder({
        store,
        cache,
        resolver,
        platform,
        sources: prepared.sources,
        context: { ...prepared.context, ...(exclude ? { exclude } : {}) },
        buildArgs: options.buildArgs ?? {},
        labels: options.labels ?? {},
        compression: options.compression ?? "gzip",
        compressionThreads: options.compressionThreads,
        timestamp: options.timestamp,
        onEvent: options.onEvent,
        warn: options.warn,
      });
      const image = await builder.run();
      images.push(image);
      options.onEvent?.({
        type: "built",
        platform: formatPlatform(platform),
        digest: image.descriptor.digest,
        config: image.config.digest,
      });
    }
  } finally {
    await cache?.flush().catch((err) => {
      options.warn?.(`layer cache not updated: ${errorMessage(err)}`);
    });
  }

  let descriptor = images[0].descriptor;
  if (images.length > 1) {
    const index = await indexBlob(images.map((i) => ({ ...i.descriptor, platform: i.platform })));
    await storeJson(store, index);
    descriptor = index.descriptor;
  }
  const names = prepared.names;
  for (const name of names.length > 0 ? names : [descriptor.digest]) {
    await store.setName(descriptor, name);
  }
  return { descriptor, names, images, savedImages };
}
