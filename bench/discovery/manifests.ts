/**
 * The discovery benchmark's input: a `manifests/` set shaped like real cluster-image contexts
 * (CRDs with large schemas, workloads with containers, env and args, ConfigMaps), generated to a
 * size, deterministically.
 *
 * @module
 */
import { join } from "node:path";

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
