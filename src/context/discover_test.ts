import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { discoverImages, type DiscoveryResult } from "./mod.ts";
import { NO_HELM_WARNING } from "./charts.ts";
import { FIXTURE_CONTEXT } from "./testdata/fixtures.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);

function summary(result: DiscoveryResult): string[] {
  return result.images.map(({ image, sources }) =>
    [image, ...sources.map((s) => `${s.file}:${s.line}:${s.rule}`)].join(" ")
  );
}

async function withContext(files: Record<string, string>, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ferry-discover-" });
  try {
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, path), text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("fixture context without helm: every rule, with sources, sorted, .sealignore applied", async () => {
  const result = await discoverImages(FIXTURE_CONTEXT, { helm: null });
  assert.deepEqual(summary(result), [
    "docker.io/bitnami/postgresql:16.4.0 manifests/cronjob.yml:13:manifest-line",
    // Sealos's false positive from a ConfigMap key ending in "image:", kept for parity.
    "docker.io/cilium/istio_proxy manifests/cronjob.yml:22:manifest-line",
    "docker.io/example/extra:9.9 charts/demo/values.yaml:14:chart-values",
    "docker.io/library/alpine:3.19 charts/demo/templates/deployment.yaml:16:chart-template-line",
    // The shim's `busybox:1.36` is the same image: one entry, the shim spelling an alias.
    "docker.io/library/busybox:1.36 charts/demo/Chart.yaml:9:chart-annotation " +
    "charts/demo/values.yaml:5:chart-values images/shim/base.txt:3:shim " +
    "manifests/deploy.yaml:10:manifest-line",
    // The line scanner cannot read a line the YAML parser can (broken.yaml's other document is fine).
    "docker.io/library/httpd:2.4 manifests/broken.yaml:8:manifest-line",
    // `image: "nginx:1.27.0"   # pinned` defeats the line scanner; the walk finds it.
    "docker.io/library/nginx:1.27.0 manifests/deploy.yaml:14:manifest-yaml",
    "docker.io/library/nginx:1.27.1 charts/demo/values.yaml:2:chart-values",
    "docker.io/library/postgres:16.10 manifests/cr.yaml:8:manifest-yaml",
    // Inline comment stripped.
    "docker.io/library/redis:7.2 images/shim/base.txt:6:shim",
    "docker.io/nicolaka/netshoot:v0.13 manifests/sub/job.tmpl:15:manifest-line",
    "gcr.io/example/backup:1.2 manifests/cr.yaml:11:manifest-line",
    "ghcr.io/example/json-app:1.0 manifests/app.json:7:manifest-yaml",
    "nginx images/shim/base.txt:2:shim images/shim/base.txt:5:shim images/shim/more/extra.list:2:shim",
    `quay.io/prometheus/nginx-exporter:1.3.0@sha256:${C} charts/demo/values.yaml:9:chart-values`,
    "quay.io/prometheus/node-exporter:v1.8.2 images/shim/more/extra.list:1:shim",
    "quay.io/prometheuscommunity/postgres-exporter:v0.15.0 manifests/cr.yaml:15:manifest-yaml",
    // tag@digest keeps its digest (Sealos would list ...:v1.11.2 only).
    `registry.k8s.io/ingress-nginx/controller:v1.11.2@sha256:${A} manifests/deploy.yaml:17:manifest-line`,
    // Shim entries spelled one way only stay as written.
    "registry.k8s.io/pause:3.9 images/shim/base.txt:4:shim",
  ]);
  assert.deepEqual(
    result.images.flatMap((i) => i.aliases ? [[i.image, i.aliases]] : []),
    [["docker.io/library/busybox:1.36", ["busybox:1.36"]]],
  );
  // Named only in container args and env values: references, not saved by default.
  assert.deepEqual(
    result.referenced.map((i) => [i.image, ...i.sources.map((s) => `${s.line}:${s.referencedIn}`)]),
    [
      ["ghcr.io/example/sidecar:2.0", "21:args"],
      ["quay.io/example/webhook:0.3", "24:env"],
      ["quay.io/jetstack/cert-manager-acmesolver:v1.15.3", "19:args"],
    ],
  );
  assert.deepEqual(result.ignored, [
    "docker.io/library/alpine:3.20",
    "ghcr.io/ignored/thing:1",
    // Dropped by the Sealos-style line "quay.io/drop/me:v2".
    `quay.io/drop/me:v2@sha256:${B}`,
  ]);
  assert.deepEqual(result.archives, [
    {
      transport: "docker-archive",
      path: join(FIXTURE_CONTEXT, "images/skopeo/app.tar"),
      destination: "library/app:latest",
      source: { file: "images/skopeo/tar.txt", line: 2, rule: "tar" },
    },
    {
      transport: "oci-archive",
      path: join(FIXTURE_CONTEXT, "images/skopeo/oci/tool.tar"),
      destination: "tools/tool:1.0",
      source: { file: "images/skopeo/tar.txt", line: 4, rule: "tar" },
    },
  ]);
  assert.deepEqual(result.warnings, [
    { file: "mainfests", message: "directory mainfests/ is not read; did you mean manifests/?" },
    { file: "charts", message: NO_HELM_WARNING },
    {
      file: "charts/demo/charts/cache/values.yaml",
      line: 2,
      message: `image "redis" not listed: it has no tag in the chart's values; the template ` +
        "decides it (render with helm to list it)",
    },
    {
      file: "manifests/broken.yaml",
      line: 10,
      message: "not valid YAML (Sequence item without - indicator); only the line scanner read " +
        "the broken document",
    },
    {
      file: "manifests/cr.yaml",
      line: 18,
      message: 'skipped image value: invalid reference "Nginx": repository name must be lowercase',
    },
    {
      file: "images/shim/base.txt",
      line: 6,
      message: 'stripped inline comment from "docker.io/library/redis:7.2 # cache" (Sealos keeps ' +
        "the whole line and fails to save it)",
    },
    {
      file: "images/shim/base.txt",
      line: 7,
      message:
        'skipped "containers-storage:localhost/mine:1": ferry reads images from registries ' +
        "only and has no access to containers-storage; push the image to a registry and list it by name",
    },
    {
      file: "images/shim/base.txt",
      line: 8,
      message: 'skipped: invalid reference "Bad_Image:1": repository name must be lowercase',
    },
  ]);
});

Deno.test("strict: the first unusable entry fails discovery with file:line", async () => {
  await assert.rejects(
    () => discoverImages(FIXTURE_CONTEXT, { helm: null, strict: true }),
    (err) =>
      isFerryError(err, "invalid_reference") &&
      err.message ===
        'manifests/cr.yaml:18: skipped image value: invalid reference "Nginx": repository name must be lowercase',
  );
});

Deno.test("a missing context directory is invalid input; missing subdirectories are fine", async () => {
  await assert.rejects(
    () => discoverImages("/nonexistent/ferry-context"),
    (err) =>
      isFerryError(err, "invalid_input") &&
      err.message === "context directory /nonexistent/ferry-context does not exist",
  );
  await withContext({ "Kubefile": "FROM scratch\n" }, async (dir) => {
    assert.deepEqual(await discoverImages(dir, { strict: true }), {
      images: [],
      referenced: [],
      archives: [],
      warnings: [],
      ignored: [],
    });
    await assert.rejects(
      () => discoverImages(join(dir, "Kubefile")),
      (err) => isFerryError(err, "invalid_input") && err.message.endsWith("is not a directory"),
    );
  });
});

Deno.test("Sealos TestTarList context: shim list plus one archive", async () => {
  await withContext({
    "images/shim/image.txt": "docker.io/library/busybox:latest\n",
    "images/skopeo/tar.txt": "docker-archive:config_main.tar@library/config_main\n",
    "images/skopeo/config_main.tar": "x",
  }, async (dir) => {
    const result = await discoverImages(dir, { strict: true });
    assert.deepEqual(summary(result), [
      "docker.io/library/busybox:latest images/shim/image.txt:1:shim",
    ]);
    assert.deepEqual(result.archives.map((a) => [a.transport, a.path, a.destination]), [
      ["docker-archive", join(dir, "images/skopeo/config_main.tar"), "library/config_main:latest"],
    ]);
  });
});

Deno.test("Sealos TestListImages: static-pod manifests", async () => {
  const pod = (name: string, image: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: kube-system\nspec:\n` +
    `  containers:\n  - command:\n    - ${name}\n    image: ${image}\n    imagePullPolicy: IfNotPresent\n`;
  await withContext({
    "manifests/my_cluster/etcd.yaml": pod("etcd", "k8s.gcr.io/etcd:3.4.13-0"),
    "manifests/my_cluster/kube-apiserver.yaml": pod(
      "kube-apiserver",
      "k8s.gcr.io/kube-apiserver:v1.19.7",
    ),
    "manifests/my_cluster/kube-controller-manager.yaml": pod(
      "kube-controller-manager",
      "k8s.gcr.io/kube-controller-manager:v1.19.7",
    ),
    "manifests/my_cluster/kube-scheduler.YML": pod(
      "kube-scheduler",
      "k8s.gcr.io/kube-scheduler:v1.19.7",
    ),
    "manifests/my_cluster/notes.txt": "image: k8s.gcr.io/not-read:1\n",
  }, async (dir) => {
    const result = await discoverImages(dir, { strict: true });
    assert.deepEqual(result.images.map((i) => i.image), [
      "k8s.gcr.io/etcd:3.4.13-0",
      "k8s.gcr.io/kube-apiserver:v1.19.7",
      "k8s.gcr.io/kube-controller-manager:v1.19.7",
      "k8s.gcr.io/kube-scheduler:v1.19.7",
    ]);
    assert.ok(result.images.every((i) => i.sources.length === 1 && i.sources[0].line === 10));
  });
});

Deno.test("ignoreFile option replaces <context>/.sealignore; images are sorted bytewise", async () => {
  await withContext({
    "images/shim/list": "b\nB/x\na\nnginx\n",
    ".sealignore": "a\n",
    "custom-ignore": "nginx\n",
  }, async (dir) => {
    const own = await discoverImages(dir, { helm: null });
    assert.deepEqual(own.images.map((i) => i.image), ["B/x", "b", "nginx"]);
    assert.deepEqual(own.ignored, ["a"]);
    const custom = await discoverImages(dir, { ignoreFile: join(dir, "custom-ignore") });
    assert.deepEqual(custom.images.map((i) => i.image), ["B/x", "a", "b"]);
    assert.deepEqual(custom.ignored, ["nginx"]);
  });
});

Deno.test("JSON manifests that do not parse are reported; .tmpl files are not", async () => {
  await withContext({
    "manifests/a.json": '{"image": "nginx:1",\n',
    "manifests/b.tmpl": "a: [\nimage: busybox:1\n",
    "manifests/c.yaml": "a: [\nimage: alpine:3\n",
  }, async (dir) => {
    const result = await discoverImages(dir);
    assert.deepEqual(result.images.map((i) => i.image), [
      "docker.io/library/alpine:3",
      "docker.io/library/busybox:1",
    ]);
    assert.deepEqual(result.warnings.map((w) => `${w.file}:${w.line}`), [
      "manifests/a.json:2",
      "manifests/c.yaml:2",
    ]);
    assert.match(result.warnings[0].message, /its images are not discovered/);
  });
});
