/**
 * Rendering charts with a helm binary, the way Sealos renders them through helm's library: release
 * `dryrun`, Kubernetes v1.20.0, not an install, no `kubeVersion` check, offline, defaults plus
 * `<chart name>.values.yaml`.
 *
 * @module
 */

import { delimiter, dirname, isAbsolute, join } from "../path.ts";
import { parseDocument } from "yaml";
import { errorMessage, FerryError } from "../errors.ts";
import { isFile } from "../fs_util.ts";
import { readChartArchive } from "./chart_loader.ts";
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

/** Kubernetes version of Sealos's default render capabilities (helm's library default). */
export const SEALOS_KUBE_VERSION = "v1.20.0";

/**
 * Namespace ferry renders in. Sealos renders with an empty namespace, which the helm command
 * line cannot give (an empty `--namespace` means `default`). One space is the nearest: not
 * `default` (charts that refuse to install there render, as under Sealos), and an unquoted
 * `namespace: {{ .Release.Namespace }}` still reads as empty.
 */
export const RENDER_NAMESPACE = " ";

/**
 * The `helm template` arguments that reproduce Sealos's render inputs (helm's library defaults):
 * release `dryrun`, `.Capabilities.KubeVersion` v1.20.0, `.Release.IsInstall` false (helm has no
 * way to make both IsInstall and IsUpgrade false; `--is-upgrade` gives IsInstall false), the
 * namespace {@link RENDER_NAMESPACE}. values.schema.json stays enforced, as it is for Sealos.
 */
export function templateArgs(chartPath: string, valuesPath?: string): string[] {
  const args = [
    "template",
    RELEASE_NAME,
    chartPath,
    "--kube-version",
    SEALOS_KUBE_VERSION,
    "--is-upgrade",
    "--namespace",
    RENDER_NAMESPACE,
  ];
  if (valuesPath !== undefined) args.push("-f", valuesPath);
  return args;
}

/**
 * Renders a chart as Sealos does and returns helm's output, or the last `Error:` line of its
 * stderr (else the last line). Sealos does not check a chart's `kubeVersion` constraint, `helm
 * template` does: a chart refused for it is rendered again from a copy whose `Chart.yaml` has no
 * `kubeVersion` (same templates, same capabilities).
 */
export async function renderChart(
  helm: string,
  chartPath: string,
  valuesPath?: string,
): Promise<RenderResult> {
  const first = await runHelm(helm, templateArgs(chartPath, valuesPath));
  if (first.ok || !/requires kubeVersion/.test(first.message)) return first;
  const copy = await Deno.makeTempDir({ prefix: "ferry-chart-" });
  try {
    const unconstrained = await withoutKubeVersion(chartPath, copy);
    return await runHelm(helm, templateArgs(unconstrained, valuesPath));
  } catch (err) {
    if (err instanceof FerryError) return { ok: false, message: err.message };
    throw err;
  } finally {
    await Deno.remove(copy, { recursive: true }).catch(() => {});
  }
}

/**
 * Lays out in `dir` the chart at `chartPath` with `kubeVersion` removed from its `Chart.yaml`;
 * returns the chart directory. A chart directory is linked entry by entry (helm follows the
 * links, as it follows any in a chart); an archive is unpacked (bounded as for discovery).
 */
async function withoutKubeVersion(chartPath: string, dir: string): Promise<string> {
  const target = join(dir, "chart");
  await Deno.mkdir(target);
  let chartYaml: Uint8Array | undefined;
  if ((await Deno.stat(chartPath)).isDirectory) {
    for await (const entry of Deno.readDir(chartPath)) {
      if (entry.name === "Chart.yaml") continue;
      await Deno.symlink(join(chartPath, entry.name), join(target, entry.name));
    }
    chartYaml = await Deno.readFile(join(chartPath, "Chart.yaml"));
  } else {
    const files = await readChartArchive(chartPath, chartPath);
    for (const [path, data] of files) {
      if (path === "Chart.yaml") continue;
      const parts = path.split("/");
      // Archive entries are hostile: nothing may land outside the copy.
      if (parts.some((p) => p === "" || p === "." || p === "..") || isAbsolute(path)) continue;
      const file = join(target, ...parts);
      await Deno.mkdir(dirname(file), { recursive: true });
      await Deno.writeFile(file, data);
    }
    chartYaml = files.get("Chart.yaml");
  }
  if (chartYaml === undefined) throw new FerryError("invalid_input", "no Chart.yaml");
  const doc = parseDocument(new TextDecoder().decode(chartYaml));
  doc.delete("kubeVersion");
  await Deno.writeTextFile(join(target, "Chart.yaml"), doc.toString());
  return target;
}

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

/** A place in a rendered chart; `rendered` when `line` counts rendered output. */
export interface RenderedWhere extends Where {
  /** `line` counts the template's rendered output, not its source. */
  rendered?: true;
}

/**
 * Maps lines of rendered output to the templates they came from. helm heads each document with
 * `# Source: <chart>/<path>`, which maps to `<label>/<path>`. A rendered line found once, as it
 * stands, in that template's source (`sources`, keyed by `<label>/<path>`) is that line of the
 * source; any other is placed in the template's own rendered output, counted as
 * `helm template … --show-only <path>` prints it (`---` and `# Source:` lines included), and
 * marked `rendered`.
 */
export function renderedLocator(
  manifests: string,
  label: string,
  sources: ReadonlyMap<string, string> = new Map(),
): (line: number) => RenderedWhere {
  const lines = splitLines(manifests);
  const places: RenderedWhere[] = [];
  const counted = new Map<string, number>();
  const sourceLines = new Map<string, Map<string, number | null>>();
  const lineIndex = (file: string) => {
    let index = sourceLines.get(file);
    if (index === undefined) {
      index = new Map();
      const text = sources.get(file);
      if (text !== undefined) {
        splitLines(text).forEach((line, i) => {
          const key = line.trim();
          if (key === "") return;
          // Seen twice: the rendered line cannot say which one it came from.
          index!.set(key, index!.has(key) ? null : i + 1);
        });
      }
      sourceLines.set(file, index);
    }
    return index;
  };
  let file = label;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i];
    const m = /^# Source: [^/]+\/(.+)$/.exec(text);
    if (m !== null) {
      file = `${label}/${m[1].trim()}`;
      counted.set(file, (counted.get(file) ?? 0) + 2); // its `---` and `# Source:` lines
      places.push({ file, line: counted.get(file)! });
      continue;
    }
    if (text === "---" && /^# Source: /.test(lines[i + 1] ?? "")) {
      places.push({ file, line: counted.get(file) ?? 1 });
      continue;
    }
    const n = (counted.get(file) ?? 0) + 1;
    counted.set(file, n);
    const source = lineIndex(file).get(text.trim());
    places.push(
      typeof source === "number" ? { file, line: source } : { file, line: n, rendered: true },
    );
  }
  return (line: number) =>
    places[Math.min(Math.max(line - 1, 0), places.length - 1)] ?? { file: label, line: 1 };
}
