/**
 * What `ferry copy`, `ferry registry copy` and `ferry registry sync` do once their command lines
 * are parsed. Loaded by the commands only when one runs, so that defining them (for parsing,
 * `--help` and completions) stays cheap.
 *
 * @module
 */
import { CopyEngine } from "../copy/mod.ts";
import { FerryError } from "../errors.ts";
import { hostPlatform, parsePlatformList, type Platform } from "../platform.ts";
import { parseReference } from "../reference.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import type { RegistryClient } from "../remote/mod.ts";
import type { Store } from "../store.ts";
import { copyImage, syncError, syncRegistries, type TransferResult } from "../transfer.ts";
import { type Location, parseLocation } from "../location.ts";
import { registryClient } from "./client.ts";
import type { CopyOptions, SyncOptions } from "./copy.ts";
import { type SyncResult, transferred, type TransferResult as TransferResultJson } from "./json.ts";
import type { Output } from "./output.ts";

/** Two clients with credentials kept apart (Sealos issue 4802: destination got source creds). */
async function clients(opts: CopyOptions, out: Output): Promise<[RegistryClient, RegistryClient]> {
  const src = await registryClient({
    authfile: opts.srcAuthfile ?? opts.authfile,
    creds: opts.srcCreds,
    tlsVerify: opts.srcTlsVerify ?? opts.tlsVerify,
    certDir: opts.certDir,
  }, out);
  const dst = await registryClient({
    authfile: opts.destAuthfile ?? opts.authfile,
    creds: opts.destCreds,
    tlsVerify: opts.destTlsVerify ?? opts.tlsVerify,
    certDir: opts.certDir,
  }, out);
  return [src, dst];
}

function platformsOf(opts: { platform?: string }): Platform[] {
  return opts.platform ? parsePlatformList(opts.platform) : [hostPlatform()];
}

/** The `result` of one copy. */
function transferResult(result: TransferResult): TransferResultJson {
  return {
    type: "result",
    ...transferred(result.source, result.root, result.images),
    destination: result.destination,
    ...(result.tag !== undefined ? { tag: result.tag } : {}),
  };
}

/** Opens a sync side: a registry host or a registry directory. */
async function openSide(text: string, client: RegistryClient, readOnly: boolean): Promise<Store> {
  if (text.startsWith("registry-dir:")) return await RegistryDir.open(text.slice(13), { readOnly });
  if (text.startsWith("docker://")) return client.registry(text.slice(9).replace(/\/+$/, ""));
  if (text.startsWith("/") || text.startsWith(".")) {
    return await RegistryDir.open(text, { readOnly });
  }
  if (/^[a-z0-9.-]+(:\d+)?\/?$/i.test(text)) return client.registry(text.replace(/\/+$/, ""));
  throw new FerryError(
    "usage",
    `${text}: want a registry (HOST[:PORT] or docker://HOST) or a registry directory (a path or registry-dir:PATH)`,
  );
}

/** Copies the image at `source` to `destination` (`ferry copy`). */
export async function runCopy(
  source: string,
  destination: string,
  o: CopyOptions,
  out: Output,
): Promise<void> {
  const [srcLoc, dstLoc] = [parseLocation(source), parseLocation(destination)];
  const result = await copyReported(srcLoc, dstLoc, o, out);
  out.info(`Copied ${source} to ${destination} (${result.root.digest})`);
}

/** Copies `image` into `registry` under the same path (`ferry registry copy`). */
export async function runRegistryCopy(
  image: string,
  registry: string,
  o: CopyOptions,
  out: Output,
): Promise<void> {
  const ref = parseReference(image);
  const path = `${ref.repository}${ref.tag ? `:${ref.tag}` : ""}`;
  const dest =
    registry.startsWith("/") || registry.startsWith(".") || registry.startsWith("registry-dir:")
      ? `registry-dir:${registry.replace(/^registry-dir:/, "")}:${path}`
      : `docker://${registry.replace(/^docker:\/\//, "").replace(/\/+$/, "")}/${path}`;
  await copyReported(parseLocation(`docker://${image}`), parseLocation(dest), o, out);
  out.info(`Copied ${image} to ${dest.replace(/^docker:\/\//, "")}`);
}

/** One image copy with its own pair of clients, its events and its `result` on `out`. */
async function copyReported(
  source: Location,
  destination: Location,
  o: CopyOptions,
  out: Output,
): Promise<TransferResult> {
  const [sourceClient, destinationClient] = await clients(o, out);
  try {
    const result = await copyImage(source, destination, {
      sourceClient,
      destinationClient,
      platforms: platformsOf(o),
      all: o.all,
      onEvent: (e) => out.transfer(e),
    });
    out.emit(transferResult(result));
    return result;
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
  const [sourceClient, destinationClient] = await clients(o, out);
  const src = await openSide(source, sourceClient, true);
  const dst = await openSide(destination, destinationClient, false);
  try {
    const engine = new CopyEngine({ onEvent: (e) => out.transfer(e) });
    const { copied, failed } = await syncRegistries(src, dst, {
      sourceClient,
      destinationClient,
      platforms: platformsOf(o),
      all: o.platform ? o.all : true,
      engine,
      maxParallel: o.maxPullProcs,
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
    out.emit<SyncResult>({ type: "result", copied, failed });
    if (failed.length) throw syncError(failed, copied + failed.length);
    out.info(`${copied} image${copied === 1 ? "" : "s"} synced`);
  } finally {
    await src.close();
    await dst.close();
    await sourceClient.close();
    await destinationClient.close();
  }
}
