import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { loadChartArchive } from "./chart_loader.ts";
import { NO_HELM_WARNING, scanCharts } from "./charts.ts";
import { Collector } from "./collector.ts";
import { resolveHelm } from "./helm.ts";
import {
  copyTree,
  FIXTURE_CONTEXT,
  packChart,
  readTree,
  writeScript,
} from "./testdata/fixtures.ts";

const DIGEST = `sha256:${"c".repeat(64)}`;

/** `image file:line:rule ...` lines, compact enough to compare whole. */
function summary(collector: Collector): string[] {
  return collector.images().map(({ image, sources }) =>
    [image, ...sources.map((s) => `${s.file}:${s.line}:${s.rule}`)].join(" ")
  );
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ferry-charts-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("without helm: values (with override), annotations, literal template lines, enabled subcharts", async () => {
  const collector = new Collector(false);
  await scanCharts(FIXTURE_CONTEXT, collector, null);
  assert.deepEqual(summary(collector), [
    // Approximate: the image of the disabled `extra` component is listed too.
    "docker.io/example/extra:9.9 charts/demo/values.yaml:14:chart-values",
    "docker.io/library/alpine:3.19 charts/demo/templates/deployment.yaml:16:chart-template-line",
    "docker.io/library/busybox:1.36 charts/demo/Chart.yaml:9:chart-annotation " +
    "charts/demo/values.yaml:5:chart-values",
    // Tag from charts/demo.values.yaml; the source is where the repository is set.
    "docker.io/library/nginx:1.27.1 charts/demo/values.yaml:2:chart-values",
    // Subchart `cache` names redis without a tag: a warning, not a guess; `queue` is disabled.
    `quay.io/prometheus/nginx-exporter:1.3.0@${DIGEST} charts/demo/values.yaml:9:chart-values`,
  ]);
  assert.deepEqual(collector.warnings, [{ file: "charts", message: NO_HELM_WARNING }, {
    file: "charts/demo/charts/cache/values.yaml",
    line: 2,
    message: `image "redis" not listed: it has no tag in the chart's values; the template ` +
      "decides it (render with helm to list it)",
  }]);
  assert.match(NO_HELM_WARNING, /helm was not found/);
});

Deno.test("chart archives: .tgz charts with nested .tgz subcharts, values keyed by chart name", async () => {
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
    // Keyed by file name instead of chart name: Sealos does not read it, neither does ferry.
    await Deno.writeTextFile(join(ctx, "charts/demo-0.1.0.values.yaml"), "image: {tag: wrong}\n");

    const collector = new Collector(false);
    await scanCharts(ctx, collector, null);
    const a = "charts/demo-0.1.0.tgz";
    assert.deepEqual(summary(collector), [
      `docker.io/example/extra:9.9 ${a}/values.yaml:14:chart-values`,
      `docker.io/library/alpine:3.19 ${a}/templates/deployment.yaml:16:chart-template-line`,
      `docker.io/library/busybox:1.36 ${a}/Chart.yaml:9:chart-annotation ${a}/values.yaml:5:chart-values`,
      `docker.io/library/nginx:1.27.1 ${a}/values.yaml:2:chart-values`,
      `quay.io/prometheus/nginx-exporter:1.3.0@${DIGEST} ${a}/values.yaml:9:chart-values`,
    ]);
  });
});

Deno.test("aliased dependencies render once per alias with their own values", async () => {
  await withTempDir(async (ctx) => {
    const chart = join(ctx, "charts/app");
    await Deno.mkdir(join(chart, "charts/db"), { recursive: true });
    await Deno.writeTextFile(
      join(chart, "Chart.yaml"),
      [
        "apiVersion: v2",
        "name: app",
        "version: 1.0.0",
        "dependencies:",
        "  - {name: db, version: 1.0.0, alias: primary}",
        "  - {name: db, version: 1.0.0, alias: replica, tags: [replicas]}",
        "  - {name: db, version: 1.0.0, alias: spare, condition: spare.enabled}",
      ].join("\n"),
    );
    await Deno.writeTextFile(
      join(chart, "values.yaml"),
      "primary: {image: {tag: '16'}}\nreplica: {image: {tag: '15'}}\ntags: {replicas: true}\n",
    );
    await Deno.writeTextFile(join(chart, "charts/db/Chart.yaml"), "name: db\nversion: 1.0.0\n");
    await Deno.writeTextFile(
      join(chart, "charts/db/values.yaml"),
      "image: {repository: postgres, tag: '14'}\nspare: {enabled: true}\n",
    );
    await Deno.writeTextFile(join(ctx, "charts/app.values.yaml"), "spare: {enabled: false}\n");
    const collector = new Collector(false);
    await scanCharts(ctx, collector, null);
    assert.deepEqual(summary(collector), [
      "docker.io/library/postgres:15 charts/app/charts/db/values.yaml:1:chart-values",
      "docker.io/library/postgres:16 charts/app/charts/db/values.yaml:1:chart-values",
    ]);
  });
});

Deno.test("a directory under charts/ without Chart.yaml fails discovery, as in Sealos", async () => {
  await withTempDir(async (ctx) => {
    await Deno.mkdir(join(ctx, "charts/notachart/templates"), { recursive: true });
    for (const strict of [false, true]) {
      await assert.rejects(
        () => scanCharts(ctx, new Collector(strict), null),
        (err) =>
          isFerryError(err, "invalid_input") &&
          err.message.startsWith("charts/notachart: not a Helm chart"),
      );
    }
  });
});

Deno.test("broken chart archives and Chart.yaml files are errors naming the file", async () => {
  await withTempDir(async (ctx) => {
    await Deno.mkdir(join(ctx, "charts"));
    await Deno.writeTextFile(join(ctx, "charts/junk.tgz"), "not gzip");
    await assert.rejects(
      () => scanCharts(ctx, new Collector(false), null),
      (err) =>
        isFerryError(err, "invalid_input") && /^charts\/junk\.tgz: not a gzip/.test(err.message),
    );
    await Deno.writeFile(
      join(ctx, "charts/junk.tgz"),
      await packChart(new Map([["values.yaml", "a: 1\n"]]), "x"),
    );
    await assert.rejects(
      () => loadChartArchive(join(ctx, "charts/junk.tgz"), "charts/junk.tgz"),
      (err) => isFerryError(err, "invalid_input") && /no \*\/Chart\.yaml/.test(err.message),
    );
    await Deno.remove(join(ctx, "charts/junk.tgz"));
    await Deno.mkdir(join(ctx, "charts/bad"));
    await Deno.writeTextFile(join(ctx, "charts/bad/Chart.yaml"), "name: [unclosed\n");
    await assert.rejects(
      () => scanCharts(ctx, new Collector(false), null),
      (err) =>
        isFerryError(err, "invalid_input") &&
        /^charts\/bad\/Chart\.yaml:\d+: invalid Chart\.yaml/.test(err.message),
    );
  });
});

Deno.test("helm output is scanned and mapped back to template files; helm gets Sealos's arguments", async () => {
  await withTempDir(async (dir) => {
    const ctx = join(dir, "ctx");
    await copyTree(join(FIXTURE_CONTEXT, "charts"), join(ctx, "charts"));
    const helm = join(dir, "helm");
    const argsFile = join(dir, "args");
    await writeScript(
      helm,
      `printf '%s\\n' "$@" > '${argsFile}'
cat <<'EOF'
---
# Source: demo/templates/a.yaml
kind: Pod
spec:
  containers:
    - image: "nginx:9"
      args: ["--image=ghcr.io/x/y:1"]
---
# Source: demo/charts/cache/templates/b.yaml
{"spec": {"containers": [{"image": "redis:9"}]}}
---
# Source: demo/templates/deployment.yaml
spec:
  initContainers:
    - name: wait
      image: docker.io/library/alpine:3.19
  containers:
    - name: web
      image: "nginx:1.27.1"
---
# Source: demo/templates/a.yaml
kind: Service
EOF`,
    );
    const collector = new Collector(false);
    await scanCharts(ctx, collector, helm);
    // A line that stands as it is in its template maps to the template's line; a rendered one
    // counts lines of its template's output as \`helm template --show-only\` prints it.
    assert.deepEqual(
      collector.images().map(({ image, sources }) =>
        [image, ...sources.map((s) => `${s.file}:${s.line}${s.rendered ? " (rendered)" : ""}`)]
          .join(" ")
      ),
      [
        "docker.io/library/alpine:3.19 charts/demo/templates/deployment.yaml:16",
        "docker.io/library/nginx:1.27.1 charts/demo/templates/deployment.yaml:9 (rendered)",
        "docker.io/library/nginx:9 charts/demo/templates/a.yaml:6 (rendered)",
        "docker.io/library/redis:9 charts/demo/charts/cache/templates/b.yaml:3 (rendered)",
        "ghcr.io/x/y:1 charts/demo/templates/a.yaml:7 (rendered)",
      ],
    );
    assert.deepEqual(collector.warnings, []);
    assert.deepEqual((await Deno.readTextFile(argsFile)).trimEnd().split("\n"), [
      "template",
      "dryrun",
      join(ctx, "charts/demo"),
      "--kube-version",
      "v1.20.0",
      "--is-upgrade",
      "--namespace",
      " ",
      "-f",
      join(ctx, "charts/demo.values.yaml"),
    ]);
  });
});

Deno.test("a failing helm is a warning with its last stderr line and a fallback; an error under strict", async () => {
  await withTempDir(async (dir) => {
    const helm = join(dir, "helm");
    await writeScript(
      helm,
      `echo "walk.go: noise" >&2; echo "Error: chart requires kubeVersion: >=9.0" >&2; exit 1`,
    );
    const collector = new Collector(false);
    await scanCharts(FIXTURE_CONTEXT, collector, helm);
    assert.deepEqual(collector.warnings, [{
      file: "charts/demo",
      message: "helm template failed: Error: chart requires kubeVersion: >=9.0; falling back to " +
        "approximate discovery",
    }, {
      file: "charts/demo/charts/cache/values.yaml",
      line: 2,
      message: `image "redis" not listed: it has no tag in the chart's values; the template ` +
        "decides it (render with helm to list it)",
    }]);
    assert.ok(
      summary(collector).some((line) => line.startsWith("docker.io/library/nginx:1.27.1 ")),
    );
    await assert.rejects(
      () => scanCharts(FIXTURE_CONTEXT, new Collector(true), helm),
      (err) =>
        isFerryError(err, "invalid_input") &&
        err.message ===
          "charts/demo: helm template failed: Error: chart requires kubeVersion: >=9.0",
    );
  });
});

Deno.test("resolveHelm: explicit path, disabled, missing explicit path", async () => {
  await withTempDir(async (dir) => {
    const helm = join(dir, "helm");
    await writeScript(helm, "exit 0");
    const collector = new Collector(false);
    assert.equal(await resolveHelm(helm, collector), helm);
    assert.equal(await resolveHelm(null, collector), undefined);
    await assert.rejects(
      () => resolveHelm(join(dir, "nope"), collector),
      (err) => isFerryError(err, "invalid_input") && err.message.includes("does not exist"),
    );
  });
});

Deno.test("no charts: nothing found, no helm warning", async () => {
  await withTempDir(async (ctx) => {
    await Deno.mkdir(join(ctx, "charts"));
    await Deno.writeTextFile(join(ctx, "charts/README.md"), "image: nginx:1\n");
    const collector = new Collector(false);
    await scanCharts(ctx, collector, null);
    assert.deepEqual(collector.images(), []);
    assert.deepEqual(collector.warnings, []);
  });
});
