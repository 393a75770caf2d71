/**
 * Loads Helm charts, from a directory or a `.tgz` archive, as far as image discovery needs them:
 * `Chart.yaml`, `values.yaml`, `templates/**` and subcharts under `charts/` (directories and
 * archives, recursively).
 *
 * @module
 */

import { join } from "../path.ts";
import { errorMessage, FerryError } from "../errors.ts";
import { stripBom } from "../fs_util.ts";
import { readAll } from "../streams.ts";
import { entryType, TarReader } from "../tar/mod.ts";
import { listFiles } from "./fs_util.ts";
import { type MapNode, parseYamlTree, scalarText, stringOf, type TreeNode } from "./yaml_tree.ts";

/** A text file of a chart. */
export interface ChartFile {
  /** Path inside the chart (`templates/deployment.yaml`). */
  path: string;
  /** Where it is, relative to the context (`charts/demo/templates/deployment.yaml`). */
  file: string;
  /** Content. */
  text: string;
}

/** A dependency declared in `Chart.yaml`. */
export interface ChartDependency {
  /** Chart name of the dependency. */
  name: string;
  /** Name its values section and templates go by instead. */
  alias?: string;
  /** Comma-separated value paths; the first boolean one enables or disables it. */
  condition?: string;
  /** Tags under the parent's `tags:` values that enable it. */
  tags: string[];
}

/** A chart, loaded for discovery. */
export interface LoadedChart {
  /** Where the chart is, relative to the context: `charts/demo`, `charts/demo-1.0.0.tgz`. */
  label: string;
  /** `name` of `Chart.yaml`. */
  name: string;
  /** `appVersion` of `Chart.yaml`, the conventional default image tag. */
  appVersion?: string;
  /** Parsed `Chart.yaml`. */
  metadata: MapNode;
  /** Declared dependencies. */
  dependencies: ChartDependency[];
  /** `values.yaml`, when present. */
  values?: ChartFile;
  /** Files under `templates/`, sorted by path. */
  templates: ChartFile[];
  /** Charts under `charts/`, sorted by path. */
  subcharts: LoadedChart[];
}

/** Upper bound on a chart archive's unpacked size; charts are kilobytes, not gigabytes. */
export const MAX_ARCHIVE_BYTES = 256 * 1024 * 1024;

/**
 * How deep subcharts may nest (charts/a/charts/b/…, directories or archives). Real charts nest two
 * or three levels; the bound stops an archive that contains itself.
 */
export const MAX_CHART_NESTING = 10;

/** What one top-level chart may still cost: unpacked bytes shared by all its nested archives. */
interface LoadBudget {
  unpackedLeft: number;
}

const newBudget = (): LoadBudget => ({ unpackedLeft: MAX_ARCHIVE_BYTES });

/** Files of a chart by path inside it. */
export type ChartFiles = Map<string, Uint8Array>;

/**
 * Loads the chart in directory `dir`; `label` is its path relative to the context.
 *
 * @throws {FerryError} `invalid_input` when it has no valid `Chart.yaml`.
 */
export async function loadChartDirectory(dir: string, label: string): Promise<LoadedChart> {
  const files: ChartFiles = new Map();
  for (const name of ["Chart.yaml", "values.yaml"]) {
    try {
      files.set(name, await Deno.readFile(join(dir, name)));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  for (const sub of ["templates", "charts"]) {
    for (const rel of await listFiles(join(dir, sub))) {
      files.set(`${sub}/${rel}`, await Deno.readFile(join(dir, sub, rel)));
    }
  }
  return await chartFromFiles(files, label, newBudget(), 0);
}

/**
 * Loads the chart archive at `path` (a gzip-compressed tar whose top directory holds the chart).
 *
 * @throws {FerryError} `invalid_input` when it is not a chart archive.
 */
export async function loadChartArchive(path: string, label: string): Promise<LoadedChart> {
  return await chartFromArchive(await archiveStream(path, label), label, newBudget(), 0);
}

/** The archive file at `path`, bounded by {@link MAX_ARCHIVE_BYTES}, as a stream. */
async function archiveStream(path: string, label: string): Promise<ReadableStream<Uint8Array>> {
  const { size } = await Deno.stat(path);
  if (size > MAX_ARCHIVE_BYTES) {
    throw new FerryError(
      "too_large",
      `${label}: chart archive is larger than ${MAX_ARCHIVE_BYTES} bytes`,
    );
  }
  // Read whole: a failed unpack then leaves no file handle behind.
  return new Blob([await Deno.readFile(path)]).stream();
}

async function chartFromArchive(
  archive: ReadableStream<Uint8Array>,
  label: string,
  budget: LoadBudget,
  depth: number,
): Promise<LoadedChart> {
  const files = await unpackChart(archive, label, isChartFile, budget);
  return await chartFromFiles(files, label, budget, depth);
}

/**
 * Every file of the chart archive at `path`, keyed by its path inside the chart (the archive's
 * top directory removed), for rendering a modified copy.
 *
 * @throws {FerryError} `invalid_input` when it is not a chart archive; `too_large` past
 * {@link MAX_ARCHIVE_BYTES}.
 */
export async function readChartArchive(path: string, label: string): Promise<ChartFiles> {
  return await unpackChart(await archiveStream(path, label), label, () => true, newBudget());
}

async function unpackChart(
  archive: ReadableStream<Uint8Array>,
  label: string,
  wanted: (path: string) => boolean,
  budget: LoadBudget,
): Promise<ChartFiles> {
  // The archive's headers are bounded as an image archive's are, its unpacked bytes by
  // MAX_ARCHIVE_BYTES; file contents are read only for the files wanted.
  const tar = new TarReader(archive.pipeThrough(gunzip()).pipeThrough(byteLimit(label, budget)), {
    where: label,
  });
  const entries: { name: string; data: Uint8Array }[] = [];
  try {
    for (let header = await tar.next(); header !== null; header = await tar.next()) {
      if (entryType(header.typeflag) !== "file" || !wanted(stripTop(header.name))) continue;
      const data = await readAll(
        tar.body(header.name),
        MAX_ARCHIVE_BYTES,
        `${label}: ${header.name}`,
      );
      entries.push({ name: header.name.replace(/^\.\//, ""), data });
    }
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw new FerryError(
      "invalid_input",
      `${label}: not a gzip-compressed chart archive (${errorMessage(err)})`,
      { cause: err },
    );
  } finally {
    await tar.cancel();
  }
  // Helm archives hold one top directory named after the chart.
  const top = entries.map((e) => /^([^/]+)\/Chart\.yaml$/.exec(e.name)?.[1]).find((t) =>
    t !== undefined
  );
  if (top === undefined) {
    throw new FerryError("invalid_input", `${label}: not a Helm chart archive (no */Chart.yaml)`);
  }
  const files: ChartFiles = new Map();
  for (const { name, data } of entries) {
    if (name.startsWith(`${top}/`)) files.set(name.slice(top.length + 1), data);
  }
  return files;
}

function gunzip(): TransformStream<Uint8Array, Uint8Array> {
  // DecompressionStream's writable side is typed as BufferSource, a superset of Uint8Array.
  return new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
}

function stripTop(name: string): string {
  const clean = name.replace(/^\.\//, "");
  const slash = clean.indexOf("/");
  return slash === -1 ? "" : clean.slice(slash + 1);
}

function isChartFile(path: string): boolean {
  return path === "Chart.yaml" || path === "values.yaml" || path.startsWith("templates/") ||
    path.startsWith("charts/");
}

/** Counts unpacked bytes against the top-level chart's budget, shared with its nested archives. */
function byteLimit(label: string, budget: LoadBudget): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      budget.unpackedLeft -= chunk.byteLength;
      if (budget.unpackedLeft < 0) {
        throw new FerryError(
          "too_large",
          `${label}: chart archive unpacks to more than ${MAX_ARCHIVE_BYTES} bytes`,
        );
      }
      controller.enqueue(chunk);
    },
  });
}

async function chartFromFiles(
  files: ChartFiles,
  label: string,
  budget: LoadBudget,
  depth: number,
): Promise<LoadedChart> {
  if (depth > MAX_CHART_NESTING) {
    throw new FerryError(
      "too_large",
      `${label}: subcharts nested more than ${MAX_CHART_NESTING} levels deep`,
    );
  }
  const decoder = new TextDecoder();
  const text = (path: string) => {
    const data = files.get(path);
    return data === undefined ? undefined : stripBom(decoder.decode(data));
  };
  const chartYaml = text("Chart.yaml");
  if (chartYaml === undefined) {
    throw new FerryError("invalid_input", `${label}: not a Helm chart (no Chart.yaml)`);
  }
  const metadataFile = `${label}/Chart.yaml`;
  const parsed = parseYamlTree(chartYaml, (line) => ({ file: metadataFile, line }));
  if (parsed.error !== undefined) {
    throw new FerryError(
      "invalid_input",
      `${metadataFile}:${parsed.error.line}: invalid Chart.yaml: ${parsed.error.message}`,
    );
  }
  const metadata = parsed.documents[0];
  if (metadata?.kind !== "map") {
    throw new FerryError("invalid_input", `${metadataFile}: invalid Chart.yaml: not a mapping`);
  }
  const name = stringOf(metadata.entries.get("name"))?.trim();
  if (!name) throw new FerryError("invalid_input", `${metadataFile}: Chart.yaml has no name`);

  const paths = [...files.keys()].sort();
  const chartFile = (path: string): ChartFile => ({
    path,
    file: `${label}/${path}`,
    text: text(path)!,
  });
  const values = files.has("values.yaml") ? chartFile("values.yaml") : undefined;
  const templates = paths.filter((p) => p.startsWith("templates/")).map(chartFile);

  const subcharts: LoadedChart[] = [];
  const subdirs = new Set<string>();
  for (const path of paths) {
    const m = /^charts\/([^/]+)(\/.*)?$/.exec(path);
    if (m === null) continue;
    if (m[2] === undefined) {
      if (/\.t(?:ar\.)?gz$/.test(m[1])) {
        const archive = new Blob([files.get(path)! as Uint8Array<ArrayBuffer>]).stream();
        subcharts.push(await chartFromArchive(archive, `${label}/${path}`, budget, depth + 1));
      }
    } else {
      subdirs.add(m[1]);
    }
  }
  for (const dir of [...subdirs].sort()) {
    const prefix = `charts/${dir}/`;
    const subFiles: ChartFiles = new Map();
    for (const [path, data] of files) {
      if (path.startsWith(prefix)) subFiles.set(path.slice(prefix.length), data);
    }
    // Not a chart; helm itself rejects the parent, and the approximate path has nothing to read.
    if (!subFiles.has("Chart.yaml")) continue;
    subcharts.push(
      await chartFromFiles(subFiles, `${label}/charts/${dir}`, budget, depth + 1),
    );
  }
  subcharts.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));

  return {
    label,
    name,
    appVersion: scalarText(metadata.entries.get("appVersion"))?.trim(),
    metadata,
    dependencies: dependenciesOf(metadata.entries.get("dependencies")),
    values,
    templates,
    subcharts,
  };
}

function dependenciesOf(node: TreeNode | undefined): ChartDependency[] {
  if (node?.kind !== "seq") return [];
  const out: ChartDependency[] = [];
  for (const item of node.items) {
    if (item.kind !== "map") continue;
    const name = stringOf(item.entries.get("name"));
    if (!name) continue;
    const tagsNode = item.entries.get("tags");
    const tags = tagsNode?.kind === "seq"
      ? tagsNode.items.map(stringOf).filter((t): t is string => !!t)
      : [];
    const alias = stringOf(item.entries.get("alias")) || undefined;
    const condition = stringOf(item.entries.get("condition")) || undefined;
    out.push({ name, tags, ...(alias ? { alias } : {}), ...(condition ? { condition } : {}) });
  }
  return out;
}
