/**
 * `charts/`: Helm charts (Sealos `ParseChartImages`).
 *
 * Every first-level directory (which must be a chart) and `*.tgz` file is a chart. Its values are
 * the chart defaults plus `charts/<Chart.yaml name>.values.yaml` when present. With helm, the
 * chart is rendered as Sealos renders it and the output goes through the line scanner and the
 * YAML walk. Without helm, discovery is approximate: the merged values, the `helm.sh/images` and
 * `artifacthub.io/images` annotations, and literal `image:` lines of templates.
 *
 * @module
 */

import { extname, join } from "../path.ts";
import { FerryError } from "../errors.ts";
import { Semaphore } from "../limit.ts";
import { isFile, readTextIfExists } from "../fs_util.ts";
import { dependencyEnabled, mergeValues, subchartValues, withoutKeys } from "./chart_values.ts";
import { loadChartArchive, loadChartDirectory, type LoadedChart } from "./chart_loader.ts";
import type { Collector } from "./collector.ts";
import { listDir } from "./fs_util.ts";
import {
  RELEASE_NAME,
  renderChart,
  renderedLocator,
  resolveHelm,
  SEALOS_KUBE_VERSION,
} from "./helm.ts";
import { walkImages } from "./image_walk.ts";
import { scanLines } from "./line_scanner.ts";
import { scanManifestText } from "./manifests.ts";
import type { DiscoveryRule } from "./types.ts";
import { parseYamlTree, stringOf, type TreeNode, type Where } from "./yaml_tree.ts";

/** Directory of the charts, relative to the context. */
export const CHARTS_DIR = "charts";

/** Annotations that list a chart's images (`- image: repo:tag` entries). */
export const IMAGE_ANNOTATIONS = ["helm.sh/images", "artifacthub.io/images"];

/** Warning given once when charts are present and helm is not used. */
export const NO_HELM_WARNING: string = "helm was not found or is disabled, so chart discovery is " +
  "approximate (values, image annotations, literal image: lines of templates); install helm " +
  "or set $FERRY_HELM for the images Sealos would find";

/** Charts rendered at once. */
const HELM_CONCURRENCY = 4;

interface ChartEntry {
  chart: LoadedChart;
  /** Absolute path of the chart directory or archive. */
  path: string;
}

/** Adds the images of every chart under `<context>/charts` to `collector`. */
export async function scanCharts(
  contextDir: string,
  collector: Collector,
  helmOption: string | null | undefined,
): Promise<void> {
  const root = join(contextDir, CHARTS_DIR);
  const entries: ChartEntry[] = [];
  for (const entry of await listDir(root)) {
    const path = join(root, entry.name);
    const label = `${CHARTS_DIR}/${entry.name}`;
    if (entry.isDirectory) {
      if (!await isFile(join(path, "Chart.yaml"))) {
        throw new FerryError(
          "invalid_input",
          `${label}: not a Helm chart (no Chart.yaml); every directory under ${CHARTS_DIR}/ ` +
            "must be a chart",
        );
      }
      entries.push({ chart: await loadChartDirectory(path, label), path });
    } else if (entry.isFile && entry.name.endsWith("tgz")) {
      entries.push({ chart: await loadChartArchive(path, label), path });
    }
  }
  if (entries.length === 0) return;

  const helm = await resolveHelm(helmOption, collector);
  if (helm === undefined) collector.warn({ file: CHARTS_DIR, message: NO_HELM_WARNING });

  // Render a few at a time, report in chart order so warnings come out the same every time.
  const slots = new Semaphore(HELM_CONCURRENCY);
  const rendered = await Promise.all(entries.map(async ({ chart, path }) => {
    const valuesFile = `${CHARTS_DIR}/${chart.name}.values.yaml`;
    const valuesPath = join(contextDir, valuesFile);
    const hasValues = await isFile(valuesPath);
    const render = helm === undefined
      ? undefined
      : await slots.run(() => renderChart(helm, path, hasValues ? valuesPath : undefined));
    return { chart, valuesFile: hasValues ? valuesFile : undefined, render };
  }));

  for (const { chart, valuesFile, render } of rendered) {
    if (render?.ok) {
      scanManifestText(render.manifests, chart.label, collector, {
        lineRule: "chart",
        walkRule: "chart",
        locate: renderedLocator(render.manifests, chart.label, templateSources(chart)),
      });
      continue;
    }
    if (render !== undefined) {
      collector.problem("invalid_input", {
        file: chart.label,
        message: `helm template failed: ${explainHelmError(render.message, chart.label)}` +
          (collector.strict ? "" : "; falling back to approximate discovery"),
      });
    }
    const override = valuesFile === undefined ? undefined : parseValues(
      await readTextIfExists(join(contextDir, valuesFile)) ?? "",
      valuesFile,
      collector,
    );
    scanChartWithoutHelm(chart, override, collector);
  }
}

/** Template texts of a chart and its subcharts, keyed by their context-relative file. */
function templateSources(chart: LoadedChart, into = new Map<string, string>()) {
  for (const t of chart.templates) into.set(t.file, t.text);
  for (const sub of chart.subcharts) templateSources(sub, into);
  return into;
}

/**
 * Approximate discovery in one chart and its enabled subcharts: merged values, image
 * annotations and literal template lines. `override` is the parsed `<name>.values.yaml`.
 */
export function scanChartWithoutHelm(
  chart: LoadedChart,
  override: TreeNode | undefined,
  collector: Collector,
): void {
  const defaults = chart.values === undefined
    ? undefined
    : parseValues(chart.values.text, chart.values.file, collector);
  scanApproximate(chart, mergeValues(defaults, override), collector);
}

function scanApproximate(chart: LoadedChart, values: TreeNode | undefined, collector: Collector) {
  const subcharts = chart.subcharts.flatMap((sub) => {
    const declared = chart.dependencies.filter((d) => d.name === sub.name);
    if (declared.length === 0) return [{ sub, key: sub.name, enabled: true }];
    return declared.map((d) => ({
      sub,
      key: d.alias ?? d.name,
      enabled: dependencyEnabled(d, values),
    }));
  });

  // Subchart sections are read by the subcharts themselves, merged with their defaults.
  const own = withoutKeys(values, subcharts.map((s) => s.key));
  if (own !== undefined) {
    const { finds, unsure } = walkImages(own, { values: true });
    add(finds, "chart-values", collector);
    for (const entry of unsure) collector.warn({ ...entry.at, message: entry.message });
  }
  scanAnnotations(chart, collector);
  for (const template of chart.templates) {
    const ext = extname(template.path).toLowerCase();
    if (ext !== ".yaml" && ext !== ".yml") continue;
    for (const find of scanLines(template.text, (line) => line.includes("{{"))) {
      collector.add(find.image, {
        file: template.file,
        line: find.line,
        rule: "chart-template-line",
      });
    }
  }
  for (const { sub, key, enabled } of subcharts) {
    if (!enabled) continue;
    const defaults = sub.values === undefined
      ? undefined
      : parseValues(sub.values.text, sub.values.file, collector);
    scanApproximate(sub, subchartValues(defaults, values, key), collector);
  }
}

/**
 * helm's error, with a chart's own `fail`/`required` message marked as the chart's: such messages
 * are written for `helm install` users and may name helm flags (`-n`) that ferry does not have;
 * ferry renders every chart with Sealos's fixed inputs instead.
 */
export function explainHelmError(message: string, label: string): string {
  const m = /^(?:Error: )?execution error at \(([^/]+)\/([^:]+):(\d+):\d+\): (.*)$/.exec(message);
  if (m === null) return message;
  return `${label}/${m[2]}:${m[3]}: the chart stopped rendering with its own message ` +
    `${JSON.stringify(m[4])} (it was rendered as Sealos renders it: release ${RELEASE_NAME}, ` +
    `Kubernetes ${SEALOS_KUBE_VERSION}, not an install; ferry has no helm flags to change that)`;
}

function scanAnnotations(chart: LoadedChart, collector: Collector) {
  const annotations = chart.metadata.entries.get("annotations");
  if (annotations?.kind !== "map") return;
  for (const key of IMAGE_ANNOTATIONS) {
    const node = annotations.entries.get(key);
    const text = stringOf(node);
    if (node === undefined || text === undefined) continue;
    // Lines of a block scalar start after its `|` line; other styles stay on the key's line.
    const locate = (line: number): Where =>
      node.kind === "scalar" && node.block
        ? { file: node.at.file, line: node.at.line + line }
        : node.at;
    const parsed = parseYamlTree(text, locate);
    if (parsed.error !== undefined) {
      collector.warn({
        ...locate(parsed.error.line),
        message: `annotation ${key} is not valid YAML (${parsed.error.message})`,
      });
    }
    for (const doc of parsed.documents) add(walkImages(doc).finds, "chart-annotation", collector);
  }
}

function add(finds: { image: string; at: Where }[], rule: DiscoveryRule, collector: Collector) {
  for (const find of finds) collector.add(find.image, { ...find.at, rule });
}

function parseValues(text: string, file: string, collector: Collector): TreeNode | undefined {
  const parsed = parseYamlTree(text, (line) => ({ file, line }));
  if (parsed.error !== undefined) {
    collector.warn({
      file,
      line: parsed.error.line,
      message: `not valid YAML (${parsed.error.message}); values ignored`,
    });
    return undefined;
  }
  return parsed.documents[0];
}
