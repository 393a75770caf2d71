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
 * - `env` entries whose name ends in `IMAGE` or starts with `RELATED_IMAGE_`.
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
export interface WalkOptions {
  /**
   * Tag for `repository` maps whose tag is empty or missing: charts conventionally render
   * `{{ .Values.image.tag | default .Chart.AppVersion }}`.
   */
  defaultTag?: string;
}

/** Everything the walk found in one tree. */
export interface WalkResult {
  /** Images, in document order. */
  finds: WalkFind[];
  /** `image` values that are not references. */
  problems: WalkProblem[];
}

const ARG_RE = /^--?(?:[A-Za-z0-9]+[-_.])*image(?:=(.*))?$/i;
const ENV_NAME_RE = /(?:^|_)IMAGE$|^RELATED_IMAGE_/i;

/** Walks `root` for images; see the module documentation for the rules. */
export function walkImages(root: TreeNode, options: WalkOptions = {}): WalkResult {
  const result: WalkResult = { finds: [], problems: [] };
  visit(root, undefined, options, result);
  return result;
}

function visit(node: TreeNode, key: string | undefined, options: WalkOptions, out: WalkResult) {
  if (node.kind === "scalar") return;
  if (node.kind === "seq") {
    for (const item of node.items) visit(item, undefined, options, out);
    return;
  }
  splitImage(node.entries, key !== undefined && isImageKey(key), options, out);
  for (const [k, value] of node.entries) {
    if (value.kind === "scalar") {
      if (isImageKey(k)) imageValue(k, value, out);
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

function imageValue(key: string, node: TreeNode, out: WalkResult) {
  const raw = stringOf(node);
  if (raw === undefined) return;
  const value = raw.trim();
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
  const image = normaliseImage(value);
  if (image !== undefined) out.finds.push({ image, at: node.at });
}

/** A `repository` (+ `registry`, `tag`, `digest`) map, or `name` + tag under an image key. */
function splitImage(
  entries: Map<string, TreeNode>,
  underImageKey: boolean,
  options: WalkOptions,
  out: WalkResult,
) {
  const repoNode = entries.get("repository") ?? (underImageKey ? entries.get("name") : undefined);
  const repository = stringOf(repoNode)?.trim();
  if (repoNode === undefined || !repository || isTemplated(repository)) return;
  const hasTag = entries.has("tag") || entries.has("digest");
  if (!hasTag && !underImageKey) return;
  const registry = stringOf(entries.get("registry"))?.trim();
  let text = registry ? `${registry.replace(/\/+$/, "")}/${repository}` : repository;
  const tag = scalarText(entries.get("tag"))?.trim() ?? options.defaultTag;
  const digest = stringOf(entries.get("digest"))?.trim();
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
    if (image !== undefined) out.finds.push({ image, at: valueNode.at });
  }
}

function envImages(items: TreeNode[], out: WalkResult) {
  for (const item of items) {
    if (item.kind !== "map") continue;
    const name = stringOf(item.entries.get("name"));
    const valueNode = item.entries.get("value");
    const value = stringOf(valueNode)?.trim();
    if (!name || !ENV_NAME_RE.test(name) || !value || valueNode === undefined) continue;
    if (isTemplated(value)) continue;
    const image = normaliseImage(value);
    if (image !== undefined) out.finds.push({ image, at: valueNode.at });
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
