/**
 * What `ferry copy`, `ferry registry copy` and `ferry registry sync` do once their command lines
 * are parsed. Loaded by the commands only when one runs, so that defining them (for parsing,
 * `--help` and completions) stays cheap.
 *
 * @module
 */
import { CopyEngine } from "../copy/mod.ts";
import { hostPlatform, parsePlatformList, type Platform } from "../platform.ts";
import { parseReference } from "../reference.ts";
import { defaultRegistryClient, type RegistryClient } from "../remote/mod.ts";
import {
  copyDestination,
  copyImage,
  type Location,
  openStore,
  parseLocation,
  parseStoreAddress,
  syncError,
  syncRegistries,
  type TransferResult,
} from "../transfer/mod.ts";
import { clientOptions, sideAccess } from "./access.ts";
import type { CopyOptions, SyncOptions } from "./copy.ts";
import { type SyncResult, transferred, type TransferResult as TransferResultJson } from "./json.ts";
import type { Output } from "./output.ts";
import type { TransferTally } from "./tally.ts";
import { imageCheck } from "./verify_key.ts";

/** A client for each side, each with its own credentials. */
async function clients(opts: CopyOptions, out: Output): Promise<[RegistryClient, RegistryClient]> {
  const src = await defaultRegistryClient(clientOptions(sideAccess(opts, "src"), out));
  const dst = await defaultRegistryClient(clientOptions(sideAccess(opts, "dest"), out));
  return [src, dst];
}

function platformsOf(opts: { platform?: string }): Platform[] {
  return opts.platform ? parsePlatformList(opts.platform) : [hostPlatform()];
}

/** The `result` of one copy. */
function transferResult(result: TransferResult, tally: TransferTally): TransferResultJson {
  return {
    type: "result",
    ...transferred(result.source, result.root, result.images, result.referrers),
    destination: result.destination,
    ...(result.tag !== undefined ? { tag: result.tag } : {}),
    totals: { ...tally.totals(), images: 1 },
  };
}

/** Copies the image at `source` to `destination` (`ferry copy`). */
export async function runCopy(
  source: string,
  destination: string,
  o: CopyOptions,
  out: Output,
): Promise<void> {
  const [srcLoc, dstLoc] = [parseLocation(source), parseLocation(destination)];
  const { result, tally } = await copyReported(srcLoc, dstLoc, o, out);
  out.info(`Copied ${source} to ${destination} (${result.root.digest})`);
  out.info(`1 image copied (${tally.summary()})`);
}

/** Copies `image` into `registry` under the same path (`ferry registry copy`). */
export async function runRegistryCopy(
  image: string,
  registry: string,
  o: CopyOptions,
  out: Output,
): Promise<void> {
  const dest = copyDestination(registry, parseReference(image));
  const { tally } = await copyReported(parseLocation(`docker://${image}`), dest.location, o, out);
  out.info(`Copied ${image} to ${dest.text}`);
  out.info(`1 image copied (${tally.summary()})`);
}

/** One image copy with its own pair of clients, its events and its `result` on `out`. */
async function copyReported(
  source: Location,
  destination: Location,
  o: CopyOptions,
  out: Output,
): Promise<{ result: TransferResult; tally: TransferTally }> {
  const check = await imageCheck(o);
  const [sourceClient, destinationClient] = await clients(o, out);
  const tally = out.tally(1);
  try {
    const result = await copyImage(source, destination, {
      sourceClient,
      destinationClient,
      platforms: platformsOf(o),
      all: o.all,
      referrers: o.referrers,
      warn: (m) => out.warn(m),
      onEvent: (e) => out.transfer(e),
      check,
    });
    out.emit(transferResult(result, tally));
    return { result, tally };
  } finally {
    await sourceClient.close();
    await destinationClient.close();
  }
}

/** Copies every repository and tag of `source` into `destination` (`ferry registry sync`). */
export async function runRegistrySync(
  source: string,
  destination: string,
  o: SyncOptions,
  out: Output,
): Promise<void> {
  const check = await imageCheck(o);
  const [sourceClient, destinationClient] = await clients(o, out);
  const src = await openStore(parseStoreAddress(source), sourceClient, { readOnly: true });
  const dst = await openStore(parseStoreAddress(destination), destinationClient);
  const tally = out.tally();
  try {
    const engine = new CopyEngine({ onEvent: (e) => out.transfer(e) });
    const { copied, failed } = await syncRegistries(src, dst, {
      sourceClient,
      destinationClient,
      platforms: platformsOf(o),
      all: o.platform ? o.all : true,
      referrers: o.referrers,
      engine,
      maxParallel: o.maxPullProcs,
      check,
      warn: (m) => out.warn(m),
      onImage: (r) =>
        out.transfer({
          type: "image-done",
          source: r.source,
          destination: r.destination,
          digest: r.root.digest,
          mediaType: r.root.mediaType,
        }),
    });
    out.emit<SyncResult>({ type: "result", copied, failed, totals: tally.totals() });
    if (failed.length) throw syncError(failed, copied + failed.length);
    out.info(`${copied} image${copied === 1 ? "" : "s"} synced (${tally.summary()})`);
  } finally {
    await src.close();
    await dst.close();
    await sourceClient.close();
    await destinationClient.close();
  }
}
