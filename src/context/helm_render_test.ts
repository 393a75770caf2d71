/**
 * Charts rendered with the real helm get Sealos's render inputs: Kubernetes v1.20.0, no
 * `kubeVersion` check, not an install, not the `default` namespace.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { peer, peerTest } from "../../tests/support/peers.ts";
import { scanCharts } from "./charts.ts";
import { Collector } from "./collector.ts";
import { packChart } from "./testdata/fixtures.ts";

async function withContext(
  files: Record<string, string>,
  fn: (ctx: string) => Promise<void>,
): Promise<void> {
  const ctx = await Deno.makeTempDir({ prefix: "ferry-helm-" });
  try {
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(join(ctx, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(ctx, path), text);
    }
    await fn(ctx);
  } finally {
    await Deno.remove(ctx, { recursive: true });
  }
}

const CHART = "apiVersion: v2\nname: demo\nversion: 3.3.0\n";

async function scan(ctx: string, strict = false) {
  const collector = new Collector(strict);
  await scanCharts(ctx, collector, peer("helm"));
  return { images: collector.images().map((i) => i.image), warnings: collector.warnings };
}

peerTest("helm: .Capabilities.KubeVersion is v1.20.0, as Sealos renders", ["helm"], async () => {
  await withContext({
    "charts/demo/Chart.yaml": CHART,
    "charts/demo/templates/pod.yaml":
      "kind: Pod\nspec:\n  containers:\n    - image: registry.k8s.io/kube-scheduler:{{ .Capabilities.KubeVersion.GitVersion }}\n",
  }, async (ctx) => {
    assert.deepEqual(await scan(ctx), {
      images: ["registry.k8s.io/kube-scheduler:v1.20.0"],
      warnings: [],
    });
  });
});

peerTest("helm: a kubeVersion constraint excluding v1.20 is not enforced (directory and archive)", [
  "helm",
], async () => {
  const chartYaml = `${CHART}kubeVersion: ">=1.25.0-0"\n`;
  const pod =
    "kind: Pod\nspec:\n  containers:\n    - image: example.com/app:{{ .Chart.Version }}-{{ .Capabilities.KubeVersion.Minor }}\n";
  await withContext({
    "charts/demo/Chart.yaml": chartYaml,
    "charts/demo/templates/pod.yaml": pod,
  }, async (ctx) => {
    assert.deepEqual(await scan(ctx), { images: ["example.com/app:3.3.0-20"], warnings: [] });
    // The copy rendered in its place is gone afterwards; the chart itself is untouched.
    assert.equal(await Deno.readTextFile(join(ctx, "charts/demo/Chart.yaml")), chartYaml);
  });
  await withContext({}, async (ctx) => {
    await Deno.mkdir(join(ctx, "charts"));
    const archive = await packChart(
      new Map([["Chart.yaml", chartYaml], ["templates/pod.yaml", pod]]),
      "demo",
    );
    await Deno.writeFile(join(ctx, "charts/demo-3.3.0.tgz"), archive);
    assert.deepEqual(await scan(ctx), { images: ["example.com/app:3.3.0-20"], warnings: [] });
  });
});

peerTest(
  "helm: .Release.IsInstall is false and the namespace is not default",
  ["helm"],
  async () => {
    await withContext({
      "charts/demo/Chart.yaml": CHART,
      "charts/demo/templates/sa.yaml":
        `{{- if and .Release.IsInstall (eq .Release.Namespace "default") }}
{{- fail "do not install into the default namespace; use -n" }}
{{- end }}
kind: Pod
spec:
  containers:
    - image: example.com/op:{{ if .Release.IsInstall }}install{{ else }}render{{ end }}
`,
    }, async (ctx) => {
      assert.deepEqual(await scan(ctx, true), { images: ["example.com/op:render"], warnings: [] });
    });
  },
);

peerTest("helm: a chart's own fail message is marked as the chart's, no fallback under strict", [
  "helm",
], async () => {
  await withContext({
    "charts/demo/Chart.yaml": CHART,
    "charts/demo/values.yaml": "image: {repository: example.com/app, tag: '1'}\n",
    "charts/demo/templates/sa.yaml": `{{ fail "pass -n to choose a namespace" }}\n`,
  }, async (ctx) => {
    await assert.rejects(() => scan(ctx, true), (err: Error) => {
      assert.match(
        err.message,
        /^charts\/demo: helm template failed: charts\/demo\/templates\/sa\.yaml:1: the chart stopped rendering with its own message "pass -n to choose a namespace" \(.*ferry has no helm flags/,
      );
      assert.doesNotMatch(err.message, /falling back/);
      return true;
    });
  });
});
