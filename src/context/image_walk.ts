/**
 * The YAML-aware image walk: what a structured look at manifests and chart values finds beyond
 * the Sealos line scanner.
 *
 * It reports
 * - string values of `image` keys, including JSON-style `"image": "nginx"`;
 * - string values of other keys ending in `image`/`Image` (`initImage`) when they carry a tag or digest;
 * - `repository` + `tag` (+ `registry`, `digest`) splits, and `image: {repository|name, tag}` maps;
 * - container `args`/`command` entries `--image=repo:tag`, `--sidecar-image=…` (or the value
 *   in the next entry);
 * - `env` entries whose name ends in `IMAGE` or starts with `RELATED_IMAGE_`, when the value
 *   carries a tag or digest.
 *
 * Finds in `env` values and `args` are marked {@link WalkFind.referencedIn}: operators list every
 * version they support there, so they are references, not images a workload runs.
 *
 * Over chart values (no helm), the walk must not guess how a template joins the pieces: a map
 * with more than one name (`repository` and `name`), or an image without a tag, is reported as
 * {@link WalkResult.unsure} instead of becoming an image.
 *
 * @module
 */

import { parseReference } from "../reference.ts";
import { normaliseImage } from "./line_scanner.ts";
import { scalarText, stringOf, type TreeNode, type Where } from "./yaml_tree.ts";

/** One image found by the walk. */
export interface WalkFind {
  /** Normalised image. */
  image: string;
  /** Where its (repository) value is. */
  at: Where;
  /** Set when found in an `env` value or a container's `args`/`command`. */
  referencedIn?: "env" | "args";
}

/** Something in chart values that looks like an image but cannot be assembled with confidence. */
export interface WalkUnsure {
  /** Where it is. */
  at: Where;
  /** What is missing or ambiguous. */
  message: string;
}

/** An `image` value that is neither a reference nor a template. */
export interface WalkProblem {
  /** The value as written. */
  value: string;
  /** Where it is. */
  at: Where;
  /** Why it is not a reference. */
  message: string;
}

/** Options of {@link walkImages}. */
export interface ImageWalkOptions {
  /**
   * The tree is chart values read without helm: the template, unseen, decides how pieces join,
   * so only complete references become images and the rest are {@link WalkResult.unsure}.
   */
  values?: boolean;
}

/** Everything the walk found in one tree. */
export interface WalkResult {
  /** Images, in document order. */
  finds: WalkFind[];
  /** `image` values that are not references. */
  problems: WalkProblem[];
  /** Chart-values entries that were not turned into images (only with `values`). */
  unsure: WalkUnsure[];
}

const ARG_RE = /^--?(?:[A-Za-z0-9]+[-_.])*image(?:=(.*))?$/i;
const ENV_NAME_RE = /(?:^|_)IMAGE$|^RELATED_IMAGE_/i;

/** Walks `root` for images; see the module documentation for the rules. */
export function walkImages(root: TreeNode, options: ImageWalkOptions = {}): WalkResult {
  const result: WalkResult = { finds: [], problems: [], unsure: [] };
  visit(root, undefined, options, result);
  return result;
}

function visit(
  node: TreeNode,
  key: string | undefined,
  options: ImageWalkOptions,
  out: WalkResult,
) {
  if (node.kind === "scalar") return;
  if (node.kind === "seq") {
    for (const item of node.items) visit(item, undefined, options, out);
    return;
  }
  splitImage(node.entries, key !== undefined && isImageKey(key), options, out);
  for (const [k, value] of node.entries) {
    if (value.kind === "scalar") {
      if (isImageKey(k)) imageValue(k, value, node.entries, options, out);
      continue;
    }
    if (value.kind === "seq") {
      if (k === "args" || k === "command") argImages(value.items, out);
      if (k === "env") envImages(value.items, out);
    }
    visit(value, k, options, out);
  }
}

/** `image`, `initImage`, `sidecar-image`, `base_image`: a key whose value is an image. */
function isImageKey(key: string): boolean {
  return key === "image" || (key.length > "image".length && /image$/i.test(key));
}

function imageValue(
  key: string,
  node: TreeNode,
  siblings: Map<string, TreeNode>,
  options: ImageWalkOptions,
  out: WalkResult,
) {
  const raw = stringOf(node);
  if (raw === undefined) return;
  let value = raw.trim();
  if (value === "" || isTemplated(value)) return;
  if (key === "image") {
    try {
      parseReference(value);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      out.problems.push({ value, at: node.at, message });
      return;
    }
  } else if (!pinned(value)) {
    // `pullImage: "yes"` is a valid name; only trust other *image keys with a tag or digest.
    return;
  }
  if (options.values && !pinned(value)) {
    // `image: repo` next to `imageTag: 1.0` is the one split a template joins one way only.
    const tag = scalarText(siblings.get(`${key}Tag`))?.trim();
    if (tag === undefined || isTemplated(tag)) {
      out.unsure.push({
        at: node.at,
        message: `${key}: ${JSON.stringify(value)} has no tag in the chart's values; the ` +
          "template decides it (render with helm to list it)",
      });
      return;
    }
    value = `${value}:${tag}`;
  }
  const image = normaliseImage(value);
  if (image !== undefined) out.finds.push({ image, at: node.at });
}

/** Keys that, beside `repository`, name part of an image's path in chart values. */
const NAME_KEYS = ["name", "image", "imageName", "org", "organization", "project", "namespace"];

/** A `repository` (+ `registry`, `tag`, `digest`) map, or `name` + tag under an image key. */
function splitImage(
  entries: Map<string, TreeNode>,
  underImageKey: boolean,
  options: ImageWalkOptions,
  out: WalkResult,
) {
  const repoNode = entries.get("repository") ?? (underImageKey ? entries.get("name") : undefined);
  const repository = stringOf(repoNode)?.trim();
  if (repoNode === undefined || !repository || isTemplated(repository)) return;
  const tagKey = options.values && !entries.has("tag") ? "imageTag" : "tag";
  const hasTag = entries.has(tagKey) || entries.has("digest");
  if (!hasTag && !underImageKey) return;
  const registry = stringOf(entries.get("registry"))?.trim();
  let text = registry ? `${registry.replace(/\/+$/, "")}/${repository}` : repository;
  const tag = scalarText(entries.get(tagKey))?.trim();
  const digest = stringOf(entries.get("digest"))?.trim();
  if (options.values) {
    // Two names (`repository: mysql`, `name: mysql-operator`): the template joins them, unseen.
    const others = entries.has("repository")
      ? NAME_KEYS.filter((k) => stringOf(entries.get(k))?.trim())
      : [];
    const missing = others.length > 0
      ? `both repository and ${others.join(", ")} name it; the template decides how they join`
      : !tag && !digest && !pinned(text)
      ? "it has no tag in the chart's values; the template decides it"
      : undefined;
    if (missing !== undefined) {
      out.unsure.push({
        at: repoNode.at,
        message: `image ${
          JSON.stringify(text)
        } not listed: ${missing} (render with helm to list it)`,
      });
      return;
    }
  }
  if (tag) text += `:${tag}`;
  if (digest && !text.includes("@")) text += `@${digest}`;
  if (isTemplated(text)) return;
  const image = normaliseImage(text);
  if (image !== undefined) out.finds.push({ image, at: repoNode.at });
}

function argImages(items: TreeNode[], out: WalkResult) {
  for (let i = 0; i < items.length; i++) {
    const arg = stringOf(items[i])?.trim();
    if (arg === undefined) continue;
    const match = ARG_RE.exec(arg);
    if (match === null) continue;
    // `--image repo:tag` spreads over two entries.
    const valueNode = match[1] === undefined ? items[i + 1] : items[i];
    const value = match[1] ?? stringOf(items[i + 1]);
    if (valueNode === undefined || value === undefined) continue;
    const text = value.trim().replace(/^(["'])(.*)\1$/, "$2");
    if (text === "" || isTemplated(text)) continue;
    const image = normaliseImage(text);
    if (image !== undefined) out.finds.push({ image, at: valueNode.at, referencedIn: "args" });
  }
}

function envImages(items: TreeNode[], out: WalkResult) {
  for (const item of items) {
    if (item.kind !== "map") continue;
    const name = stringOf(item.entries.get("name"));
    const valueNode = item.entries.get("value");
    const value = stringOf(valueNode)?.trim();
    if (!name || !ENV_NAME_RE.test(name) || !value || valueNode === undefined) continue;
    // `MONGODB_IMAGE: mongo` would save mongo:latest, which nothing runs: require a tag or digest.
    if (isTemplated(value) || !pinned(value)) continue;
    const image = normaliseImage(value);
    if (image !== undefined) out.finds.push({ image, at: valueNode.at, referencedIn: "env" });
  }
}

/** Go templates, shell and env substitutions: values ferry cannot know. */
function isTemplated(text: string): boolean {
  return text.includes("{{") || text.includes("${") || text.includes("$(");
}

/** Whether a reference names a tag or digest (`nginx:1`, `a/b@sha256:…`). */
function pinned(text: string): boolean {
  try {
    const ref = parseReference(text);
    return ref.tag !== undefined || ref.digest !== undefined;
  } catch {
    return false;
  }
}
