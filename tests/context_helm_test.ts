/**
 * Chart discovery with a real helm binary (on the PATH, named by $FERRY_HELM, or installed by
 * scripts/install_helm.sh into .tools/bin/helm). Without one, the tests are skipped locally and
 * fail under CI.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { discoverImages, type DiscoveryResult } from "../src/context/mod.ts";
import {
  copyTree,
  FIXTURE_CONTEXT,
  packChart,
  readTree,
} from "../src/context/testdata/fixtures.ts";
import { ignoreUnless, requirePeer } from "./support/mod.ts";

// Found like every peer (PATH, $FERRY_HELM, .tools/bin); ignored locally without one, failing under CI.
const ignore = ignoreUnless(["helm"]);
const helm = (): string => requirePeer("helm");

const DIGEST = `sha256:${"c".repeat(64)}`;

function chartSummary(result: DiscoveryResult): string[] {
  return result.images
    .filter(({ sources }) => sources.some((s) => s.file.startsWith("charts/")))
    .map(({ image, sources }) =>
      [image, ...sources.map((s) => `${s.file}:${s.line}:${s.rule}`)].join(" ")
    );
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ferry-helm-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "helm renders the fixture chart: values override applied, disabled parts absent",
  ignore,
  async fn() {
    const result = await discoverImages(FIXTURE_CONTEXT, { helm: helm() });
    assert.deepEqual(chartSummary(result), [
      "docker.io/library/alpine:3.19 charts/demo/templates/deployment.yaml:16:chart",
      // A literal template line maps to the template; a rendered one counts rendered lines.
      "docker.io/library/busybox:1.36 charts/demo/templates/deployment.yaml:23:chart " +
      "images/shim/base.txt:3:shim manifests/deploy.yaml:10:manifest-line",
      "docker.io/library/nginx:1.27.1 charts/demo/templates/deployment.yaml:21:chart",
      "docker.io/library/redis:7.2.5 charts/demo/charts/cache/templates/statefulset.yaml:19:chart",
      `quay.io/prometheus/nginx-exporter:1.3.0@${DIGEST} charts/demo/templates/deployment.yaml:25:chart`,
    ]);
    const names = result.images.map((i) => i.image);
    // `extra` is behind `{{ if .Values.extra.enabled }}`, `queue` behind a false condition.
    assert.ok(!names.includes("docker.io/example/extra:9.9"));
    assert.ok(!names.includes("docker.io/library/rabbitmq:3.13"));
    // The chart default tag (appVersion 1.25.0) is overridden by charts/demo.values.yaml.
    assert.ok(!names.some((n) => n.startsWith("docker.io/library/nginx:1.25")));
    assert.ok(
      !result.warnings.some((w) => /helm/.test(w.message)),
      JSON.stringify(result.warnings),
    );
    // The shim's busybox:1.36 is the chart's image; three manifest images are only referenced.
    assert.equal(result.images.length, 19);
    assert.equal(result.referenced.length, 3);
  },
});

Deno.test({
  name:
    "without helm the values-based result contains the enabled images and says helm was not found",
  ignore,
  async fn() {
    const withHelm = await discoverImages(FIXTURE_CONTEXT, { helm: helm() });
    const without = await discoverImages(FIXTURE_CONTEXT, { helm: null });
    const approximate = new Set(without.images.map((i) => i.image));
    // Only an image whose tag the template decides is missing, and a warning names it instead.
    assert.deepEqual(
      withHelm.images.map((i) => i.image).filter((i) => !approximate.has(i)),
      ["docker.io/library/redis:7.2.5"],
    );
    assert.ok(
      without.warnings.some((w) =>
        w.file === "charts/demo/charts/cache/values.yaml" && w.line === 2 &&
        w.message.startsWith('image "redis" not listed')
      ),
    );
    const warnings = without.warnings.filter((w) => /helm was not found/.test(w.message));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].file, "charts");
  },
});

Deno.test({
  name: "helm renders .tgz charts with nested .tgz subcharts",
  ignore,
  async fn() {
    await withTempDir(async (ctx) => {
      const demo = await readTree(join(FIXTURE_CONTEXT, "charts/demo"));
      const cache = new Map<string, Uint8Array>();
      for (const [path, data] of [...demo]) {
        if (!path.startsWith("charts/cache/")) continue;
        cache.set(path.slice("charts/cache/".length), data);
        demo.delete(path);
      }
      demo.set("charts/cache-0.1.0.tgz", await packChart(cache, "cache"));
      await Deno.mkdir(join(ctx, "charts"));
      await Deno.writeFile(join(ctx, "charts/demo-0.1.0.tgz"), await packChart(demo, "demo"));
      await Deno.copyFile(
        join(FIXTURE_CONTEXT, "charts/demo.values.yaml"),
        join(ctx, "charts/demo.values.yaml"),
      );
      const result = await discoverImages(ctx, { helm: helm(), strict: true });
      const a = "charts/demo-0.1.0.tgz";
      assert.deepEqual(chartSummary(result), [
        `docker.io/library/alpine:3.19 ${a}/templates/deployment.yaml:16:chart`,
        `docker.io/library/busybox:1.36 ${a}/templates/deployment.yaml:23:chart`,
        `docker.io/library/nginx:1.27.1 ${a}/templates/deployment.yaml:21:chart`,
        `docker.io/library/redis:7.2.5 ${a}/charts/cache/templates/statefulset.yaml:19:chart`,
        `quay.io/prometheus/nginx-exporter:1.3.0@${DIGEST} ${a}/templates/deployment.yaml:25:chart`,
      ]);
      assert.deepEqual(result.warnings, []);
    });
  },
});

Deno.test({
  name: "a chart helm cannot render: warning with helm's error and fallback; error under strict",
  ignore,
  async fn() {
    await withTempDir(async (ctx) => {
      await copyTree(join(FIXTURE_CONTEXT, "charts"), join(ctx, "charts"));
      await Deno.writeTextFile(
        join(ctx, "charts/demo/templates/required.yaml"),
        '{{ required "set .Values.licenseKey" .Values.licenseKey }}\n',
      );
      const result = await discoverImages(ctx, { helm: helm() });
      assert.equal(result.warnings[0].file, "charts/demo");
      assert.match(
        result.warnings[0].message,
        /^helm template failed: charts\/demo\/templates\/required\.yaml:1: the chart stopped rendering with its own message "set \.Values\.licenseKey".*; falling back to approximate discovery$/,
      );
      // Fallback: the values-based images.
      assert.ok(result.images.some((i) => i.image === "docker.io/library/nginx:1.27.1"));
      await assert.rejects(
        () => discoverImages(ctx, { helm: helm(), strict: true }),
        /charts\/demo: helm template failed: .*licenseKey/,
      );
    });
  },
});

Deno.test({
  name: "a chart that requires an old Kubernetes renders for Sealos's v1.20.0",
  ignore,
  async fn() {
    await withTempDir(async (ctx) => {
      await Deno.mkdir(join(ctx, "charts/old/templates"), { recursive: true });
      await Deno.writeTextFile(
        join(ctx, "charts/old/Chart.yaml"),
        'apiVersion: v2\nname: old\nversion: 1.0.0\nkubeVersion: "<1.21.0-0"\n',
      );
      await Deno.writeTextFile(
        join(ctx, "charts/old/templates/pod.yaml"),
        "kind: Pod\nspec:\n  containers:\n" +
          '    - image: "legacy/app:{{ .Capabilities.KubeVersion.Minor }}"\n',
      );
      const result = await discoverImages(ctx, { helm: helm(), strict: true });
      assert.deepEqual(chartSummary(result), [
        "docker.io/legacy/app:20 charts/old/templates/pod.yaml:6:chart",
      ]);
    });
  },
});
