/**
 * Reading what a stored image is: its manifests, configs, platforms and size, for `ferry images`
 * and `ferry inspect`. Only manifests and configs are read (small JSON documents); layers are
 * never opened here.
 *
 * @module
 */
import type { Digest } from "../digest.ts";
import { FerryError } from "../errors.ts";
import { type Descriptor, type ImageManifest, type Manifest, parseManifest } from "../manifest.ts";
import { DOCKER_LIST, DOCKER_MANIFEST, MAX_MANIFEST_SIZE } from "../media_types.ts";
import { formatPlatform, type Platform } from "../platform.ts";
import type { Target } from "../store.ts";
import { readAll } from "../streams.ts";

/** Largest image config read (configs with long histories exceed the 4 MiB manifest limit). */
const MAX_CONFIG_SIZE = 16 * 1024 * 1024;

/** The parts of an image config (`config` section included) that `inspect` shows. */
export interface ImageConfigSummary {
  /** When the image was built (RFC 3339), as the config says. */
  created?: string;
  author?: string;
  os?: string;
  architecture?: string;
  variant?: string;
  env: string[];
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  user?: string;
  labels: Record<string, string>;
}

/** One layer of an image manifest. */
export interface LayerInfo {
  digest: Digest;
  size: number;
  mediaType: string;
}

/** One single-platform image: manifest, config and layers. */
export interface ImageFacts {
  /** The manifest descriptor. */
  descriptor: Descriptor;
  /** `os/arch[/variant]` from the config (or the index entry), when known. */
  platform?: string;
  config: ImageConfigSummary;
  /** The config blob's descriptor. */
  configDescriptor: Descriptor;
  layers: LayerInfo[];
}

/** What an image (single manifest or index) holds. */
export interface ImageOverview {
  /** The root descriptor (manifest or index). */
  descriptor: Descriptor;
  /** The parsed root. */
  manifest: Manifest;
  /** Entries of an index (all of them, attestations included); empty for a single image. */
  children: Descriptor[];
  /** Platforms of the images held, `os/arch[/variant]` (attestation entries left out). */
  platforms: string[];
  /** Bytes of every blob the image uses (manifests, configs, layers), shared ones counted once. */
  size: number;
  /** The newest `created` of the image configs. */
  created?: string;
  /** Whether the image uses Docker media types (invisible to skopeo 1.9 and umoci in a layout). */
  dockerTyped: boolean;
}

/** Reads and parses the manifest `desc` from `target`. */
export async function readManifest(target: Target, desc: Descriptor): Promise<Manifest> {
  const where = `${target.location}@${desc.digest}`;
  const bytes = await readAll(await target.fetch(desc), MAX_MANIFEST_SIZE, where);
  return parseManifest(bytes, desc.mediaType, where);
}

/** Reads the image config `desc` as JSON (an object; anything else is an error). */
export async function readConfig(
  target: Target,
  desc: Descriptor,
): Promise<Record<string, unknown>> {
  const where = `${target.location}@${desc.digest}`;
  const bytes = await readAll(await target.fetch(desc), MAX_CONFIG_SIZE, where);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new FerryError("invalid_input", `${where}: image config is not valid JSON`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new FerryError("invalid_input", `${where}: image config is not a JSON object`);
  }
  return doc as Record<string, unknown>;
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The fields of a config document that `inspect` shows. */
export function summariseConfig(doc: Record<string, unknown>): ImageConfigSummary {
  const c = (typeof doc.config === "object" && doc.config !== null ? doc.config : {}) as Record<
    string,
    unknown
  >;
  const labels: Record<string, string> = {};
  if (typeof c.Labels === "object" && c.Labels !== null) {
    for (const [k, v] of Object.entries(c.Labels)) if (typeof v === "string") labels[k] = v;
  }
  return {
    created: text(doc.created),
    author: text(doc.author),
    os: text(doc.os),
    architecture: text(doc.architecture),
    variant: text(doc.variant),
    env: strings(c.Env) ?? [],
    entrypoint: strings(c.Entrypoint),
    cmd: strings(c.Cmd),
    workingDir: text(c.WorkingDir),
    user: text(c.User),
    labels,
  };
}

function configPlatform(config: ImageConfigSummary): string | undefined {
  if (!config.os || !config.architecture) return undefined;
  return formatPlatform({
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  });
}

/** Whether an index entry is an image for a real platform (not an attestation). */
function isPlatformImage(p: Platform | undefined): p is Platform {
  return p !== undefined && p.os !== "unknown" && p.architecture !== "unknown";
}

/** Reads one single-platform image: its manifest and config. */
export async function readImage(target: Target, desc: Descriptor): Promise<ImageFacts> {
  const manifest = await readManifest(target, desc);
  if (manifest.kind !== "manifest") {
    throw new FerryError("invalid_input", `${target.location}@${desc.digest}: not an image`);
  }
  return await imageFactsOf(target, desc, manifest);
}

async function imageFactsOf(
  target: Target,
  desc: Descriptor,
  manifest: ImageManifest,
): Promise<ImageFacts> {
  let config: ImageConfigSummary = { env: [], labels: {} };
  try {
    config = summariseConfig(await readConfig(target, manifest.config));
  } catch (err) {
    // An artifact's config need not be an image config; its layers are still worth listing.
    if (!(err instanceof FerryError) || err.code === "not_found") throw err;
  }
  const platform = configPlatform(config) ??
    (isPlatformImage(desc.platform) ? formatPlatform(desc.platform) : undefined);
  return {
    descriptor: desc,
    ...(platform ? { platform } : {}),
    config,
    configDescriptor: manifest.config,
    layers: manifest.layers.map((l) => ({
      digest: l.digest,
      size: l.size,
      mediaType: l.mediaType,
    })),
  };
}

/**
 * Reads an image's manifest (and for an index, every child held) with their configs: platforms,
 * total size, newest creation time. Children the store does not hold are left out of the size.
 */
export async function overview(target: Target, desc: Descriptor): Promise<ImageOverview> {
  const manifest = await readManifest(target, desc);
  const blobs = new Map<Digest, number>([[desc.digest, desc.size]]);
  const platforms: string[] = [];
  let created: string | undefined;
  let dockerTyped = desc.mediaType === DOCKER_MANIFEST || desc.mediaType === DOCKER_LIST;
  const addImage = (facts: ImageFacts) => {
    blobs.set(facts.descriptor.digest, facts.descriptor.size);
    blobs.set(facts.configDescriptor.digest, facts.configDescriptor.size);
    for (const l of facts.layers) blobs.set(l.digest, l.size);
    if (facts.config.created && (!created || facts.config.created > created)) {
      created = facts.config.created;
    }
    if (facts.descriptor.mediaType === DOCKER_MANIFEST) dockerTyped = true;
  };
  if (manifest.kind === "manifest") {
    const facts = await imageFactsOf(target, desc, manifest);
    addImage(facts);
    if (facts.platform) platforms.push(facts.platform);
    return {
      descriptor: desc,
      manifest,
      children: [],
      platforms,
      size: sum(blobs),
      created,
      dockerTyped,
    };
  }
  for (const child of manifest.manifests) {
    if (!(await target.exists(child))) continue;
    const sub = await readManifest(target, child);
    if (sub.kind !== "manifest") continue; // nested indexes are rare; their size is left out
    const facts = await imageFactsOf(target, child, sub);
    addImage(facts);
    if (isPlatformImage(child.platform)) platforms.push(formatPlatform(child.platform));
  }
  return {
    descriptor: desc,
    manifest,
    children: manifest.manifests,
    platforms,
    size: sum(blobs),
    created,
    dockerTyped,
  };
}

function sum(blobs: Map<Digest, number>): number {
  let total = 0;
  for (const size of blobs.values()) total += size;
  return total;
}
