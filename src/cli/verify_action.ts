/**
 * What `ferry verify` does once its command line is parsed. Loaded by the command only when it
 * runs, so that defining it (for parsing, `--help` and completions) stays cheap.
 *
 * @module
 */
import { selectChildren } from "../copy/mod.ts";
import { sha256 } from "../digest.ts";
import { errorMessage, FerryError, isFerryError } from "../errors.ts";
import { type Descriptor, parseManifest } from "../manifest.ts";
import { isIndexType, MAX_MANIFEST_SIZE } from "../media_types.ts";
import { formatPlatform, parsePlatformList, type Platform } from "../platform.ts";
import { defaultRegistryClient, type RegistryClient } from "../remote/mod.ts";
import { type PublicKey, readPublicKey, verifyImage } from "../signature/mod.ts";
import { readAll } from "../streams.ts";
import {
  formatLocation,
  type Location,
  openSource,
  parseLocation,
  signatureHomes,
} from "../transfer/mod.ts";
import { clientOptions } from "./access.ts";
import type { SignaturesSnapshot, VerifiedImage } from "./json.ts";
import type { Output } from "./output.ts";
import type { VerifyOptions } from "./verify.ts";

/** Verifies the signatures of every image `locations` name; fails when any has no valid one. */
export async function runVerify(
  locations: string[],
  opts: VerifyOptions,
  out: Output,
): Promise<void> {
  // Every location parsed and every key read before anything is fetched: a typo fails at once.
  const parsed = locations.map((text) => ({ text, loc: parseLocation(text) }));
  const keys = await Promise.all(opts.key.map(readPublicKey));
  const platforms = opts.platform ? parsePlatformList(opts.platform) : undefined;
  const client = await defaultRegistryClient(clientOptions(opts, out));
  const images: VerifiedImage[] = [];
  try {
    for (const { text, loc } of parsed) {
      images.push(...await verifyLocation(text, loc, { keys, platforms, client }));
    }
  } finally {
    await client.close();
  }
  if (out.json) out.snapshot<SignaturesSnapshot>({ images });
  else {
    for (const image of images) {
      const name = image.source + (image.platform ? ` (${image.platform})` : "");
      out.print(
        image.verified > 0
          ? `${name}: verified: ${image.verified} signature(s) by ${image.keys.join(", ")}`
          : `${name}: ${image.reason}`,
      );
    }
  }
  const failed = images.filter((i) => i.verified === 0).length;
  if (failed > 0) {
    throw new FerryError(
      "untrusted",
      `${failed} of ${images.length} image(s) have no valid signature`,
    );
  }
}

interface Context {
  keys: PublicKey[];
  platforms?: Platform[];
  client: RegistryClient;
}

/**
 * The results for one location: one for the image it names, or one per platform asked for when
 * it names an index. A location that cannot be read is one result with the reason.
 */
async function verifyLocation(
  image: string,
  loc: Location,
  ctx: Context,
): Promise<VerifiedImage[]> {
  let source = formatLocation(loc);
  try {
    const src = await openSource(loc, ctx.client);
    source = src.location;
    try {
      const reference = src.reference!;
      const root = await src.target.resolve(reference);
      const signatures = signatureHomes(loc, src.store, src.target, reference);
      const targets: { desc: Descriptor; index?: Descriptor }[] =
        ctx.platforms && isIndexType(root.mediaType)
          ? (await platformChildren(src.target, root, ctx.platforms, source)).map((desc) => ({
            desc,
            index: root,
          }))
          : [{ desc: root }];
      const results: VerifiedImage[] = [];
      for (const { desc, index } of targets) {
        const result = await verifyImage(src.target, desc, {
          keys: ctx.keys,
          index,
          signatures,
          label: source,
        });
        results.push({
          image,
          source,
          digest: result.digest,
          ...(desc.platform ? { platform: formatPlatform(desc.platform) } : {}),
          verified: result.verified,
          keys: result.keys,
          signatures: result.signatures,
          ...(result.reason !== undefined ? { reason: result.reason } : {}),
        });
      }
      return results;
    } finally {
      await src.store.close();
    }
  } catch (err) {
    if (!isFerryError(err) || err.code === "usage") throw err;
    return [{ image, source, verified: 0, keys: [], signatures: [], reason: errorMessage(err) }];
  }
}

/** The children of the index `root` for `platforms` (the index read bounded and verified). */
async function platformChildren(
  target: { fetch(desc: Descriptor): Promise<ReadableStream<Uint8Array>> },
  root: Descriptor,
  platforms: Platform[],
  where: string,
): Promise<Descriptor[]> {
  if (root.size > MAX_MANIFEST_SIZE) {
    throw new FerryError("too_large", `${where}: index of ${root.size} bytes exceeds 4 MiB`);
  }
  const bytes = await readAll(await target.fetch(root), MAX_MANIFEST_SIZE, where);
  if (await sha256(bytes) !== root.digest) {
    throw new FerryError("digest_mismatch", `${where}: index does not hash to ${root.digest}`);
  }
  const index = parseManifest(bytes, root.mediaType, where);
  if (index.kind !== "index") return [root];
  return selectChildren(index.manifests, platforms, where);
}
