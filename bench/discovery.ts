/**
 * The discovery benchmark (`deno task bench --only discovery`): `ferry context images` over a
 * generated 10 MB `manifests/` set shaped like real cluster-image contexts (CRDs with large
 * schemas, workloads with containers, env and args, ConfigMaps), against the same command on an
 * empty context (start-up). The figure is seconds per MB of manifests beyond start-up; the target
 * is at most 0.1 s/MB, checked on CPU time, which other work on the machine does not inflate.
 *
 * @module
 */
import { join } from "node:path";
import { timedOk } from "./proc.ts";
import { ResultsSection } from "./results_section.ts";
import { fmtS, type MachineInfo, markdownTable, median } from "./report.ts";

/** What {@link measureDiscovery} measured. */
export interface DiscoveryReport {
  date: string;
  command: string;
  machine?: MachineInfo;
  /** Bytes of the generated manifests. */
  bytes: number;
  /** Files and YAML documents generated. */
  files: number;
  documents: number;
  /** Images `context images` listed (saved and referenced). */
  images: number;
  /** Wall time of each run over the set, and over an empty context, ms. */
  setMs: number[];
  emptyMs: number[];
  /** CPU time (user + system) of the same runs, s. */
  setCpuS: number[];
  emptyCpuS: number[];
  /** Median wall seconds per MB (10^6 bytes) beyond start-up. */
  secondsPerMB: number;
  /**
   * Median CPU seconds per MB beyond start-up: on a machine shared with other work, the figure
   * that load does not inflate; the target is checked on it.
   */
  cpuSecondsPerMB: number;
}

/** The section of RESULTS.md this benchmark owns. */
export const DISCOVERY_SECTION = new ResultsSection(
  "context images (discovery)",
  "discovery-analysis",
);

/** Target of issue 10: seconds per MB of manifests beyond start-up. */
export const TARGET_S_PER_MB = 0.1;

/** Options of {@link measureDiscovery}. */
export interface DiscoveryBenchOptions {
  /** Bytes of manifests to generate (10 MB by default). */
  bytes?: number;
  runs: number;
  workDir: string;
  repoRoot: string;
  command: string;
  machine?: MachineInfo;
  log: (line: string) => void;
}

function crd(i: number): string {
  // A CRD schema: hundreds of properties, some called `image`, descriptions, nested objects.
  const props: string[] = [];
  for (let p = 0; p < 120; p++) {
    props.push(
      `                  field${p}:`,
      `                    description: Field ${p} of resource ${i}; the image and tag it ` +
        `names are resolved by the controller, see docs for every option.`,
      `                    type: ${p % 3 === 0 ? "string" : p % 3 === 1 ? "integer" : "object"}`,
    );
    if (p % 10 === 0) {
      props.push(
        `                  image${p}:`,
        "                    description: Container image name.",
        "                    type: string",
      );
    }
  }
  return [
    "apiVersion: apiextensions.k8s.io/v1",
    "kind: CustomResourceDefinition",
    "metadata:",
    `  name: things${i}.example.com`,
    "spec:",
    "  group: example.com",
    "  names:",
    `    kind: Thing${i}`,
    `    plural: things${i}`,
    "  scope: Namespaced",
    "  versions:",
    "    - name: v1",
    "      served: true",
    "      storage: true",
    "      schema:",
    "        openAPIV3Schema:",
    "          type: object",
    "          properties:",
    "            spec:",
    "              type: object",
    "              properties:",
    "                template:",
    "                  type: object",
    "                  properties:",
    "                    image:",
    "                      type: string",
    "                      description: 'The image to run,",
    "                        with its tag.'",
    "                properties:",
    "                  type: object",
    "                  properties:",
    ...props,
  ].join("\n");
}

function deployment(i: number): string {
  const containers: string[] = [];
  for (let c = 0; c < 3; c++) {
    containers.push(
      `        - name: c${c}`,
      `          image: registry.example.com/team${i % 7}/app${i}-${c}:1.${c}.${i % 10}`,
      "          args:",
      `            - --sidecar-image=registry.example.com/side/s${i % 5}:2.${c}`,
      "            - --log-level=info",
      "          env:",
      `            - name: RELATED_IMAGE_DB_${i}`,
      `              value: registry.example.com/db/pg:${10 + (i % 6)}.${c}`,
      "            - name: LOG_FORMAT",
      "              value: json",
      "          resources:",
      "            limits: {cpu: 500m, memory: 256Mi}",
      "          ports:",
      "            - containerPort: 8080",
    );
  }
  return [
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata:",
    `  name: app${i}`,
    "  labels:",
    `    app.kubernetes.io/name: app${i}`,
    "spec:",
    "  replicas: 2",
    "  selector:",
    `    matchLabels: {app: app${i}}`,
    "  template:",
    "    metadata:",
    `      labels: {app: app${i}}`,
    "    spec:",
    "      containers:",
    ...containers,
  ].join("\n");
}

function configMap(i: number): string {
  const data: string[] = [];
  for (let k = 0; k < 40; k++) data.push(`  key${k}: "value ${k} of config ${i}, plain text"`);
  return [
    "apiVersion: v1",
    "kind: ConfigMap",
    "metadata:",
    `  name: config${i}`,
    "data:",
    ...data,
    "  script.sh: |",
    "    #!/bin/sh",
    `    echo "starting ${i}"`,
  ].join("\n");
}

/**
 * Writes about `bytes` of manifests under `<dir>/manifests`: CRD files (about 60% of the bytes,
 * as in operator contexts), workload files (30%) and ConfigMap files (10%). Deterministic.
 */
export async function generateManifests(
  dir: string,
  bytes: number,
): Promise<{ bytes: number; files: number; documents: number }> {
  const root = join(dir, "manifests");
  await Deno.mkdir(root, { recursive: true });
  let total = 0;
  let files = 0;
  let documents = 0;
  let i = 0;
  // Bytes per kind, kept near 60% CRDs, 30% workloads, 10% ConfigMaps.
  const share = [0.6, 0.3, 0.1];
  const written = [0, 0, 0];
  const make = [crd, deployment, configMap];
  while (total < bytes) {
    const kind = share.map((f, k) => written[k] - f * total).reduce(
      (best, lag, k, all) => lag < all[best] ? k : best,
      0,
    );
    const docs: string[] = [];
    for (let d = 0; d < 8; d++, i++) docs.push(make[kind](i));
    const text = docs.join("\n---\n") + "\n";
    await Deno.writeTextFile(join(root, `part-${String(files).padStart(4, "0")}.yaml`), text);
    const size = new TextEncoder().encode(text).byteLength;
    written[kind] += size;
    total += size;
    documents += docs.length;
    files++;
  }
  return { bytes: total, files, documents };
}

/** Generates the set and times `ferry context images` over it and over an empty context. */
export async function measureDiscovery(options: DiscoveryBenchOptions): Promise<DiscoveryReport> {
  const bytes = options.bytes ?? 10_000_000;
  const setDir = join(options.workDir, "discovery-set");
  const emptyDir = join(options.workDir, "discovery-empty");
  await Deno.mkdir(emptyDir, { recursive: true });
  const generated = await generateManifests(setDir, bytes);
  options.log(
    `\n== discovery: ${generated.files} files, ${generated.documents} documents, ` +
      `${(generated.bytes / 1e6).toFixed(1)} MB of manifests`,
  );
  const ferry = (dir: string) =>
    timedOk(Deno.execPath(), ["run", "-A", "main.ts", "context", "images", "--json", dir], {
      cwd: options.repoRoot,
    });
  // One untimed run warms the module cache.
  const warm = await ferry(setDir);
  const snapshot = JSON.parse(warm.stdout);
  const images = snapshot.images.length + snapshot.referenced.length;
  const setMs: number[] = [];
  const emptyMs: number[] = [];
  const setCpuS: number[] = [];
  const emptyCpuS: number[] = [];
  for (let run = 1; run <= options.runs; run++) {
    const empty = await ferry(emptyDir);
    const set = await ferry(setDir);
    emptyMs.push(empty.wallMs);
    setMs.push(set.wallMs);
    emptyCpuS.push(empty.userS + empty.sysS);
    setCpuS.push(set.userS + set.sysS);
    options.log(
      `run ${run}: set ${fmtS(setMs.at(-1)! / 1000)}, empty ${fmtS(emptyMs.at(-1)! / 1000)}`,
    );
  }
  const mb = generated.bytes / 1e6;
  const secondsPerMB = (median(setMs) - median(emptyMs)) / 1000 / mb;
  const cpuSecondsPerMB = (median(setCpuS) - median(emptyCpuS)) / mb;
  await Deno.remove(setDir, { recursive: true });
  await Deno.remove(emptyDir, { recursive: true });
  return {
    date: new Date().toISOString(),
    command: options.command,
    ...(options.machine ? { machine: options.machine } : {}),
    ...generated,
    images,
    setMs,
    emptyMs,
    setCpuS,
    emptyCpuS,
    secondsPerMB,
    cpuSecondsPerMB,
  };
}

/** Whether the run met the target (on CPU time; see {@link DiscoveryReport.cpuSecondsPerMB}). */
export function discoveryMet(r: DiscoveryReport): boolean {
  return r.cpuSecondsPerMB <= TARGET_S_PER_MB;
}

/** The console summary. */
export function discoverySummary(r: DiscoveryReport): string {
  return `discovery: ${(r.bytes / 1e6).toFixed(1)} MB in ${fmtS(median(r.setMs) / 1000)} ` +
    `(empty context ${fmtS(median(r.emptyMs) / 1000)}): beyond start-up ` +
    `${r.cpuSecondsPerMB.toFixed(3)} CPU s/MB, ${r.secondsPerMB.toFixed(3)} wall s/MB ` +
    `(target ≤ ${TARGET_S_PER_MB}) — ${discoveryMet(r) ? "met" : "missed"}`;
}

/** The `## context images (discovery)` section of RESULTS.md. */
export function discoveryMarkdown(r: DiscoveryReport, analysis: string | undefined): string {
  const m = r.machine;
  return [
    DISCOVERY_SECTION.heading,
    "",
    `Command: \`${r.command}\`, ${r.date.slice(0, 10)}.` +
    (m ? ` Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.deno}.` : ""),
    "",
    `\`ferry context images --json\` over ${r.files} generated files (${r.documents} YAML ` +
    `documents, ${(r.bytes / 1e6).toFixed(1)} MB: 60% CRDs with large schemas, 30% ` +
    `Deployments with containers, env and args, 10% ConfigMaps; ${r.images} images found), ` +
    `against an empty context (start-up).`,
    "",
    markdownTable([
      ["run", "10 MB set: wall", "CPU", "empty context: wall", "CPU"],
      ...r.setMs.map((ms, i) => [
        String(i + 1),
        fmtS(ms / 1000),
        fmtS(r.setCpuS[i]),
        fmtS(r.emptyMs[i] / 1000),
        fmtS(r.emptyCpuS[i]),
      ]),
    ]),
    "",
    `Median beyond start-up: **${r.cpuSecondsPerMB.toFixed(3)} CPU s per MB** ` +
    `(${r.secondsPerMB.toFixed(3)} wall s per MB); target ≤ ${TARGET_S_PER_MB} s/MB: ` +
    `${discoveryMet(r) ? "met" : "missed"}.`,
    "",
    ...DISCOVERY_SECTION.analysisLines(analysis),
  ].join("\n") + "\n";
}
