/**
 * Rendering charts with a helm binary, the way Sealos renders them: `helm template` with release
 * name `dryrun`, offline, defaults plus `<chart name>.values.yaml`.
 *
 * @module
 */

import { delimiter, join } from "node:path";
import { errorMessage, FerryError } from "../errors.ts";
import { isFile } from "../fs_util.ts";
import type { Collector } from "./collector.ts";
import { splitLines } from "./line_scanner.ts";
import type { Where } from "./yaml_tree.ts";

/** Environment variable naming the helm binary. */
export const HELM_ENV = "FERRY_HELM";

/** Release name Sealos renders charts with. */
export const RELEASE_NAME = "dryrun";

/** How long one `helm template` may run. */
export const HELM_TIMEOUT_MS = 5 * 60 * 1000;

/**
 * The helm binary to use: `option` when a path, none when `null`; otherwise `$FERRY_HELM`, then
 * `helm` on `PATH`. `undefined` when there is none.
 *
 * @throws {FerryError} `invalid_input` when `option` names a file that does not exist.
 */
export async function resolveHelm(
  option: string | null | undefined,
  collector: Collector,
): Promise<string | undefined> {
  if (option === null) return undefined;
  if (option !== undefined) {
    if (!await isFile(option)) {
      throw new FerryError("invalid_input", `helm binary ${option} does not exist`);
    }
    return option;
  }
  const fromEnv = env(HELM_ENV);
  if (fromEnv) {
    if (await isFile(fromEnv)) return fromEnv;
    collector.warn({
      file: ".",
      message: `$${HELM_ENV} is ${fromEnv}, which does not exist; looking for helm on PATH`,
    });
  }
  for (const dir of (env("PATH") ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "helm");
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

/** Output of one `helm template` run. */
export type RenderResult = { ok: true; manifests: string } | { ok: false; message: string };

/**
 * Runs `helm template dryrun <chart> [-f <values>]` and returns its output, or the last `Error:`
 * line of its stderr (else the last line). A chart whose `kubeVersion` excludes helm's default
 * is rendered again for Kubernetes {@link SEALOS_KUBE_VERSION}, the version Sealos renders for.
 */
export async function renderChart(
  helm: string,
  chartPath: string,
  valuesPath?: string,
): Promise<RenderResult> {
  const args = ["template", RELEASE_NAME, chartPath];
  if (valuesPath !== undefined) args.push("-f", valuesPath);
  const first = await runHelm(helm, args);
  if (first.ok || !/requires kubeVersion/.test(first.message)) return first;
  return await runHelm(helm, [...args, "--kube-version", SEALOS_KUBE_VERSION]);
}

/** Kubernetes version of Sealos's default render capabilities. */
export const SEALOS_KUBE_VERSION = "v1.20.0";

async function runHelm(helm: string, args: string[]): Promise<RenderResult> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(helm, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(HELM_TIMEOUT_MS),
    }).output();
  } catch (err) {
    return { ok: false, message: `cannot run ${helm}: ${errorMessage(err)}` };
  }
  const decoder = new TextDecoder();
  if (!output.success) {
    const lines = decoder.decode(output.stderr).split("\n").map((l) => l.trim()).filter(Boolean);
    const detail = output.signal ? `killed by ${output.signal}` : `exit code ${output.code}`;
    // helm may end with a hint ("Use --debug flag ..."); its last "Error:" line says what failed.
    const error = lines.findLast((l) => l.startsWith("Error:")) ?? lines.at(-1);
    return { ok: false, message: error ?? detail };
  }
  return { ok: true, manifests: decoder.decode(output.stdout) };
}

/**
 * Maps lines of rendered output to the templates they came from: helm heads each document with
 * `# Source: <chart>/<path>`, which maps to `<label>/<path>`, counting lines after the header.
 */
export function renderedLocator(manifests: string, label: string): (line: number) => Where {
  const files: string[] = [];
  const offsets: number[] = [];
  let file = label;
  let start = 0;
  splitLines(manifests).forEach((text, index) => {
    const m = /^# Source: [^/]+\/(.+)$/.exec(text);
    if (m !== null) {
      file = `${label}/${m[1].trim()}`;
      start = index + 1;
    }
    files.push(file);
    offsets.push(start);
  });
  return (line: number) => {
    const i = Math.min(Math.max(line - 1, 0), files.length - 1);
    return { file: files[i], line: Math.max(1, line - offsets[i]) };
  };
}
