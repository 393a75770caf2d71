/**
 * Helm values as trees that remember where each value was set: merging chart defaults with an
 * override file, handing values down to subcharts, and evaluating dependency conditions.
 *
 * @module
 */

import type { ChartDependency } from "./chart_loader.ts";
import type { MapNode, TreeNode } from "./yaml_tree.ts";

/**
 * Deep-merges `override` onto `base` the way Helm coalesces values: maps merge key by key,
 * anything else replaces, and `null` deletes the key. Inputs are not modified.
 */
export function mergeValues(
  base: TreeNode | undefined,
  override: TreeNode | undefined,
): TreeNode | undefined {
  if (override === undefined) return base;
  if (isNull(override)) return undefined;
  if (base?.kind !== "map" || override.kind !== "map") return override;
  const entries = new Map(base.entries);
  for (const [key, value] of override.entries) {
    const merged = mergeValues(base.entries.get(key), value);
    if (merged === undefined) entries.delete(key);
    else entries.set(key, merged);
  }
  return { kind: "map", entries, at: base.at };
}

function isNull(node: TreeNode): boolean {
  return node.kind === "scalar" && node.value === null;
}

/** The node at a dotted path (`sub.enabled`), or `undefined`. */
export function lookup(values: TreeNode | undefined, path: string): TreeNode | undefined {
  let node = values;
  for (const key of path.split(".")) {
    if (node?.kind !== "map") return undefined;
    node = node.entries.get(key);
  }
  return node;
}

function boolAt(values: TreeNode | undefined, path: string): boolean | undefined {
  const node = lookup(values, path);
  return node?.kind === "scalar" && typeof node.value === "boolean" ? node.value : undefined;
}

/**
 * Whether Helm renders `dependency` given the parent's values: the first `condition` path that
 * holds a boolean decides; otherwise any true tag enables and an explicitly false tag disables;
 * otherwise enabled.
 */
export function dependencyEnabled(
  dependency: ChartDependency,
  values: TreeNode | undefined,
): boolean {
  for (const path of (dependency.condition ?? "").split(",")) {
    const trimmed = path.trim();
    if (trimmed === "") continue;
    const value = boolAt(values, trimmed);
    if (value !== undefined) return value;
  }
  const tags = dependency.tags.map((tag) => boolAt(lookup(values, "tags"), tag));
  if (tags.includes(true)) return true;
  if (tags.includes(false)) return false;
  return true;
}

/**
 * Values a subchart sees: its defaults, overridden by the parent's section for it (`key` is the
 * dependency's alias or name), with the parent's `global` merged over its own.
 */
export function subchartValues(
  defaults: TreeNode | undefined,
  parent: TreeNode | undefined,
  key: string,
): TreeNode | undefined {
  const section = parent?.kind === "map" ? parent.entries.get(key) : undefined;
  const merged = mergeValues(defaults, section);
  const parentGlobal = parent?.kind === "map" ? parent.entries.get("global") : undefined;
  if (parentGlobal === undefined) return merged;
  const base: MapNode = merged?.kind === "map"
    ? merged
    : { kind: "map", entries: new Map(), at: parentGlobal.at };
  const global = mergeValues(base.entries.get("global"), parentGlobal);
  const entries = new Map(base.entries);
  if (global !== undefined) entries.set("global", global);
  return { kind: "map", entries, at: base.at };
}

/** `values` without the given top-level keys (the sections handed to subcharts). */
export function withoutKeys(
  values: TreeNode | undefined,
  keys: Iterable<string>,
): TreeNode | undefined {
  if (values?.kind !== "map") return values;
  const entries = new Map(values.entries);
  for (const key of keys) entries.delete(key);
  return { ...values, entries };
}
