import assert from "node:assert/strict";
import { type ImageWalkOptions, walkImages } from "./image_walk.ts";
import { parseYamlTree } from "./yaml_tree.ts";

const HEX = "f".repeat(64);

function walk(text: string, options?: ImageWalkOptions) {
  const parsed = parseYamlTree(text, (line) => ({ file: "m.yaml", line }));
  assert.equal(parsed.error, undefined);
  const finds: [string, number][] = [];
  const problems: [string, number][] = [];
  const unsure: [number, string][] = [];
  const referenced: [string, string][] = [];
  for (const doc of parsed.documents) {
    const result = walkImages(doc, options);
    finds.push(...result.finds.map((f): [string, number] => [f.image, f.at.line]));
    problems.push(...result.problems.map((p): [string, number] => [p.value, p.at.line]));
    unsure.push(...result.unsure.map((u): [number, string] => [u.at.line, u.message]));
    for (const f of result.finds) if (f.referencedIn) referenced.push([f.image, f.referencedIn]);
  }
  return { finds, problems, unsure, referenced };
}

Deno.test("image keys: block, flow and JSON style, with comments", () => {
  const { finds } = walk(
    [
      "spec:",
      "  containers:",
      "    - image: nginx # pinned later",
      '    - {"name": "a", "image": "ghcr.io/a/b:1"}',
      "  ephemeralContainers: [{image: 'busybox'}]",
      `  x: {image: "quay.io/c/c:v1@sha256:${HEX}"}`,
    ].join("\n"),
  );
  assert.deepEqual(finds, [
    ["docker.io/library/nginx", 3],
    ["ghcr.io/a/b:1", 4],
    ["docker.io/library/busybox", 5],
    [`quay.io/c/c:v1@sha256:${HEX}`, 6],
  ]);
});

Deno.test("other *image keys count only with a tag or digest", () => {
  const { finds, problems } = walk(
    "initImage: busybox:1.36\nbaseImage: alpine\npullImage: 'yes'\nsidecar-image: a/b:2\nImage: x:1\n",
  );
  assert.deepEqual(finds, [["docker.io/library/busybox:1.36", 1], ["docker.io/a/b:2", 4]]);
  assert.deepEqual(problems, []);
});

Deno.test("invalid image values are problems unless templated or empty", () => {
  const { finds, problems } = walk(
    [
      "a: {image: Nginx}",
      "b: {image: '{{ .Values.image }}'}",
      "c: {image: '${IMAGE}'}",
      "d: {image: ''}",
      "e: {image: 'nginx:'}",
      "f: {image: 12}",
    ].join("\n"),
  );
  assert.deepEqual(finds, []);
  assert.deepEqual(problems, [["Nginx", 1], ["nginx:", 5]]);
});

Deno.test("repository/tag splits: registry, digest, numeric tags, name under image", () => {
  const { finds } = walk(
    [
      "image:", // 1
      "  registry: quay.io",
      "  repository: jetstack/cert-manager-controller", // 3
      "  tag: v1.15.3",
      "exporter:",
      "  repository: prom/exporter", // 6
      "  tag: 1.10",
      "pinned:",
      "  repository: ghcr.io/x/y", // 9
      "  tag: v2",
      `  digest: sha256:${HEX}`,
      "digestOnly:",
      "  repository: ghcr.io/x/z", // 13
      `  digest: sha256:${HEX}`,
      "named:",
      "  image:",
      "    name: ghcr.io/n/m", // 17
      "    tag: '3'",
      "helmRepo:",
      "  repository: https://charts.example.com", // 20: not a reference
      "  tag: x",
      "noTag:",
      "  repository: lonely/repo", // 23: no tag and not under an image key
      "tagWithDigest:",
      "  repository: a/b", // 25
      `  tag: v1@sha256:${HEX}`,
      `  digest: sha256:${HEX}`,
    ].join("\n"),
  );
  assert.deepEqual(finds, [
    ["quay.io/jetstack/cert-manager-controller:v1.15.3", 3],
    ["docker.io/prom/exporter:1.10", 6],
    [`ghcr.io/x/y:v2@sha256:${HEX}`, 9],
    [`ghcr.io/x/z@sha256:${HEX}`, 13],
    ["ghcr.io/n/m:3", 17],
    [`docker.io/a/b:v1@sha256:${HEX}`, 25],
  ]);
});

Deno.test("chart values: only complete references, the rest unsure with file:line", () => {
  const { finds, unsure } = walk(
    [
      "operator:", // 1
      "  image: {repository: mysql, name: mysql-operator, tag: 8.0.30}", // 2: two names
      "kubectl:",
      "  image: bitnami/kubectl", // 4: no tag anywhere
      "  imageTag: 1.28.4", // the sibling tag joins `image` only one way
      "agent:",
      "  image: {registry: ghcr.io, repository: labring, name: agent, tag: v0.1.1}", // 7
      "db:",
      "  image: {repository: bitnami/postgresql, imageTag: '16.2'}", // 9
      "empty:",
      "  image: {repository: nginx, tag: ''}", // 11: no tag
      "ok:",
      "  image: {registry: quay.io, repository: org/app, tag: '2'}", // 13
    ].join("\n"),
    { values: true },
  );
  assert.deepEqual(finds, [
    ["docker.io/bitnami/kubectl:1.28.4", 4],
    ["docker.io/bitnami/postgresql:16.2", 9],
    ["quay.io/org/app:2", 13],
  ]);
  assert.deepEqual(unsure.map(([line, message]) => [line, message.split(":")[0]]), [
    [2, 'image "mysql" not listed'],
    [7, 'image "ghcr.io/labring" not listed'],
    [11, 'image "nginx" not listed'],
  ]);
  assert.match(unsure[0][1], /both repository and name name it/);
  // The same values outside chart values (a custom resource) keep the old reading.
  assert.deepEqual(walk("image: bitnami/kubectl\n").finds, [["docker.io/bitnami/kubectl", 1]]);
});

Deno.test("args and command: --image=, --x-image=, and a value in the next entry", () => {
  const { finds, referenced } = walk(
    [
      "containers:",
      "  - name: c",
      "    image: controller:1",
      "    args:",
      "      - --image=quay.io/a/solver:v1", // 5
      "      - -sidecar-image='ghcr.io/s/s:2'", // 6
      "      - --config-reloader-image", // 7
      "      - ghcr.io/r/r:3", // 8
      "      - --images=not/this:1",
      "      - --image={{ .Values.x }}",
      "      - --image=",
      "    command: [run, --base_image=alpine:3]", // 12
      "other:",
      "  args: [--image=should/count:1]", // 14
    ].join("\n"),
  );
  assert.deepEqual(finds, [
    ["docker.io/library/controller:1", 3],
    ["quay.io/a/solver:v1", 5],
    ["ghcr.io/s/s:2", 6],
    ["ghcr.io/r/r:3", 8],
    ["docker.io/library/alpine:3", 12],
    ["docker.io/should/count:1", 14],
  ]);
  // Only the container's own image field is not a reference.
  assert.equal(referenced.length, 5);
  assert.ok(referenced.every(([, via]) => via === "args"));
});

Deno.test("env: *_IMAGE and RELATED_IMAGE_* values with a tag or digest, marked referenced", () => {
  const { finds, referenced } = walk(
    [
      "env:",
      "  - {name: SIDECAR_IMAGE, value: 'busybox:1'}",
      "  - {name: RELATED_IMAGE_DB, value: 'ghcr.io/d/b:2'}",
      "  - {name: IMAGE_PULL_POLICY, value: Always}",
      "  - {name: SOME_IMAGE, value: 'Not A Ref'}",
      "  - {name: PLAIN, value: 'nginx:1'}",
      "  - {name: MONGODB_IMAGE, value: mongo}", // no tag: would save mongo:latest, unused
      "  - {name: RELATED_IMAGE_X, value: 'quay.io/x/x'}",
    ].join("\n"),
  );
  assert.deepEqual(finds, [["docker.io/library/busybox:1", 2], ["ghcr.io/d/b:2", 3]]);
  assert.deepEqual(referenced, [["docker.io/library/busybox:1", "env"], ["ghcr.io/d/b:2", "env"]]);
});

Deno.test("aliases are followed, anchors to ancestors do not loop", () => {
  const parsed = parseYamlTree(
    "base: &b\n  image: nginx:1\ncopy: *b\nloop: &l\n  self: *l\n  image: busybox:1\n",
    (line) => ({ file: "m.yaml", line }),
  );
  assert.equal(parsed.error, undefined);
  const finds = walkImages(parsed.documents[0]).finds.map((f) => [f.image, f.at.line]);
  assert.deepEqual(finds, [
    ["docker.io/library/nginx:1", 2],
    ["docker.io/library/nginx:1", 2],
    ["docker.io/library/busybox:1", 6],
  ]);
});
