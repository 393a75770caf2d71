/**
 * What `ferry build` and `ferry merge` do once their command lines are parsed. Loaded by the
 * commands only when they run, so that defining them (for parsing, `--help` and completions)
 * stays cheap.
 *
 * @module
 */
import { resolve } from "../path.ts";
import { build, type BuildEvent } from "../builder/mod.ts";
import { FerryError } from "../errors.ts";
import { ImageStore, pushImage } from "../image_store/mod.ts";
import { type MergeEvent, mergeImages } from "../merge/mod.ts";
import { formatPlatform, parsePlatform, parsePlatformList } from "../platform.ts";
import { defaultRegistryClient, type RegistryClient } from "../remote/mod.ts";
import { type AccessOptions, clientOptions } from "./access.ts";
import type { BuildOptions, MergeOptions } from "./build.ts";
import {
  type BuildResult,
  type BuiltEvent,
  type InputEvent,
  type LayerEvent,
  type MergeResult,
  type PullEvent,
  type StepEvent,
  type Transfer,
  transferred,
} from "./json.ts";
import { type Output, shortDigest } from "./output.ts";
import { parseEpoch } from "./parse.ts";
import { imageCheck } from "./verify_key.ts";

/** `--timestamp`, else `SOURCE_DATE_EPOCH` (the reproducible-builds convention). */
function timestampOf(given: number | undefined): number | undefined {
  if (given !== undefined) return given;
  const env = Deno.env.get("SOURCE_DATE_EPOCH");
  return env === undefined || env === "" ? undefined : parseEpoch(env, "SOURCE_DATE_EPOCH");
}

/** Progress lines and JSON events of a build or merge. */
function reporter(out: Output, multi: boolean) {
  return (e: BuildEvent | MergeEvent) => {
    switch (e.type) {
      case "blobs-planned":
      case "blob-start":
      case "blob-progress":
      case "blob-done":
      case "manifest":
      case "referrer":
      case "warning":
      case "image-done":
      case "image-failed":
        return out.transfer(e);
      case "step":
        out.emit<StepEvent>({
          type: "step",
          platform: e.platform,
          step: e.step,
          steps: e.steps,
          text: e.text,
        });
        return out.info(`${multi ? `[${e.platform}] ` : ""}STEP ${e.step}/${e.steps}: ${e.text}`);
      case "layer":
        out.emit<LayerEvent>({
          type: "layer",
          platform: e.platform,
          digest: e.digest,
          size: e.size,
          diffId: e.diffId,
          reused: e.cached,
        });
        return out.info(
          `--> layer ${shortDigest(e.digest)}${e.cached ? " (unchanged inputs: reused)" : ""}`,
        );
      case "pull":
        out.emit<PullEvent>({ type: "pull", image: e.image });
        return out.info(`Pulling ${e.image}`);
      case "built":
        out.emit<BuiltEvent>({
          type: "built",
          platform: e.platform,
          digest: e.digest,
          config: e.config,
        });
        return out.info(`${multi ? `[${e.platform}] ` : ""}--> ${shortDigest(e.digest)}`);
      case "input":
        out.emit<InputEvent>({
          type: "input",
          image: e.image,
          reused: e.reused,
          skipped: e.skipped,
          flattened: e.flattened,
        });
        return out.info(
          e.flattened
            ? `${e.image}: whiteouts in its layers, flattened into one layer`
            : `${e.image}: ${e.reused} layer${e.reused === 1 ? "" : "s"} reused` +
              (e.skipped > 0 ? ` (${e.skipped} shared with the previous image)` : ""),
        );
    }
  };
}

async function withStore<T>(root: string | undefined, fn: (store: ImageStore) => Promise<T>) {
  const store = await ImageStore.open({ root });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function withClient<T>(
  opts: AccessOptions,
  out: Output,
  fn: (client: RegistryClient) => Promise<T>,
): Promise<T> {
  const client = await defaultRegistryClient(clientOptions(opts, out));
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Builds the image of `context` into the local image store, as `opts` say. */
export async function runBuild(context: string, o: BuildOptions, out: Output): Promise<void> {
  const platforms = o.platform ? parsePlatformList(o.platform.join(",")) : undefined;
  const timestamp = timestampOf(o.timestamp);
  const check = await imageCheck(o);
  await withClient(o, out, (client) =>
    withStore(o.root, async (store) => {
      const progress = reporter(out, (platforms?.length ?? 1) > 1);
      const result = await build({
        context,
        store,
        files: o.file,
        tags: o.tag,
        platforms,
        buildArgs: o.buildArg,
        labels: o.label,
        saveImages: o.saveImage,
        referrers: o.referrers,
        check,
        includeReferenced: o.includeReferenced,
        maxPullProcs: o.maxPullProcs,
        all: o.all,
        client,
        compression: o.compression,
        compressionThreads: o.compressionThreads,
        timestamp,
        cache: o.cache,
        onEvent: progress,
        warn: (m) => out.warn(m),
        notice: (m) => out.info(m),
      });
      for (const name of result.names) out.info(`Successfully tagged ${name}`);
      let exported: Transfer | undefined;
      if (o.output) {
        const pushed = await pushImage(
          store,
          result.names[0] ?? result.descriptor.digest,
          o.output,
          { client, onEvent: progress, referrers: o.referrers, warn: (m) => out.warn(m) },
        );
        exported = {
          ...transferred(pushed.source, pushed.descriptor, pushed.images, pushed.referrers),
          destination: pushed.destination,
          ...(pushed.tag !== undefined ? { tag: pushed.tag } : {}),
        };
        out.info(`Copied to ${pushed.destination}`);
      }
      if (out.json) {
        out.emit<BuildResult>({
          type: "result",
          context: resolve(context),
          digest: result.descriptor.digest,
          mediaType: result.descriptor.mediaType,
          names: result.names,
          savedImages: result.savedImages,
          images: result.images.map((i) => ({
            platform: formatPlatform(i.platform),
            digest: i.descriptor.digest,
            config: i.config.digest,
            layers: i.layers.map((l) => ({
              digest: l.descriptor.digest,
              size: l.descriptor.size,
              diffId: l.diffId,
              reused: l.reused,
            })),
          })),
          ...(exported ? { output: exported } : {}),
        });
      } else out.print(result.descriptor.digest);
    }));
}

/** Merges `images` into one image in the local image store, as `opts` say. */
export async function runMerge(images: string[], o: MergeOptions, out: Output): Promise<void> {
  if (images.length < 2) throw new FerryError("usage", "merge needs at least two images");
  if (!o.tag || o.tag.length === 0) {
    throw new FerryError("usage", "merge needs a name for the result: -t NAME");
  }
  if ((o.platform?.length ?? 0) > 1 || o.platform?.[0].includes(",")) {
    throw new FerryError("usage", "--platform may be given once, with one platform");
  }
  const platform = o.platform ? parsePlatform(o.platform[0]) : undefined;
  await withClient(o, out, (client) =>
    withStore(o.root, async (store) => {
      const result = await mergeImages({
        store,
        images,
        tags: o.tag!,
        platform,
        client,
        compression: o.compression,
        compressionThreads: o.compressionThreads,
        timestamp: timestampOf(o.timestamp),
        onEvent: reporter(out, false),
      });
      for (const name of result.names) out.info(`Successfully tagged ${name}`);
      if (out.json) {
        out.emit<MergeResult>({
          type: "result",
          digest: result.descriptor.digest,
          mediaType: result.descriptor.mediaType,
          names: result.names,
          images: [{
            platform: formatPlatform(result.platform),
            digest: result.descriptor.digest,
            config: result.config.digest,
            layers: result.layers.map((l) => ({
              digest: l.descriptor.digest,
              size: l.descriptor.size,
              diffId: l.diffId,
              reused: l.reused,
              image: l.image,
            })),
          }],
        });
      } else out.print(result.descriptor.digest);
    }));
}
