/**
 * The config of a merged cluster image, with Sealos's rules (`sealos merge`): labels and
 * environment are the union of the inputs' (a later image wins a key), `PATH` is dropped from the
 * environment (every buildah-built image carries the default one), and ENTRYPOINT and CMD are the
 * concatenation of the inputs' arrays in order. When any input is a `rootfs` image, both type
 * labels say `rootfs`.
 *
 * Sealos writes these values into a generated Sealfile (escaping `$` so that nothing is
 * substituted); ferry sets them in the config directly, so they are kept verbatim.
 *
 * @module
 */
import type { RunConfig } from "../builder/mod.ts";

/** The label keys Sealos reads an image's type from. */
export const TYPE_LABELS: readonly string[] = ["sealos.io.type", "apps.sealos.io/type"];

function record(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function byKey<T>(entries: [string, T][]): [string, T][] {
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Merges the run-time settings (`config` sections) of the inputs, first to last.
 */
export function mergeRunConfigs(configs: readonly Record<string, unknown>[]): RunConfig {
  const labels = new Map<string, string>();
  const env = new Map<string, string>();
  const entrypoint: string[] = [];
  const cmd: string[] = [];
  let rootfs = false;
  for (const c of configs) {
    const l = record(c.Labels);
    for (const [k, v] of Object.entries(l)) labels.set(k, v);
    if (TYPE_LABELS.some((key) => l[key] === "rootfs")) rootfs = true;
    for (const entry of strings(c.Env)) {
      const eq = entry.indexOf("=");
      const key = eq < 0 ? entry : entry.slice(0, eq);
      if (key === "PATH") continue;
      env.set(key, eq < 0 ? "" : entry.slice(eq + 1));
    }
    entrypoint.push(...strings(c.Entrypoint));
    cmd.push(...strings(c.Cmd));
  }
  if (rootfs) { for (const key of TYPE_LABELS) labels.set(key, "rootfs"); }
  const out: RunConfig = {};
  if (env.size > 0) out.Env = byKey([...env]).map(([k, v]) => `${k}=${v}`);
  if (entrypoint.length > 0) out.Entrypoint = entrypoint;
  if (cmd.length > 0) out.Cmd = cmd;
  if (labels.size > 0) out.Labels = Object.fromEntries(byKey([...labels]));
  return out;
}
