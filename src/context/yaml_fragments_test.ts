import assert from "node:assert/strict";
import { Collector } from "./collector.ts";
import { walkImages } from "./image_walk.ts";
import { scanLines } from "./line_scanner.ts";
import { scanManifestText } from "./manifests.ts";
import { planDocument, splitDocuments } from "./yaml_fragments.ts";
import { parseYamlTree } from "./yaml_tree.ts";

const MANIFESTS = `apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: a
        image: "nginx:1.27.0"   # pinned
        args: [--image=quay.io/a/solver:v1]
        env:
        - name: RELATED_IMAGE_DB
          value: ghcr.io/d/b:2
      - image: busybox:1.36
        command:
          - run
          - --sidecar-image
          - ghcr.io/s/s:3
---
apiVersion: example.com/v1
kind: Thing
spec:
  controller:
    image:
      registry: quay.io
      repository: org/ctl
      tag: v2
  config: |
    image: not/this:1
    repository: neither
...
---
kind: ConfigMap
data:
  a: b
--- {"kind": "Pod", "spec": {"containers": [{"image": "json/app:1"}]}}
---
kind: Pod
spec:
  containers: [
    {name: x, image: flow/app:2}
  ]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  versions:
    - schema:
        properties:
          image: {type: string}
`;

function finds(text: string): string[] {
  const collector = new Collector(false);
  scanManifestText(text, "m.yaml", collector, {
    lineRule: "manifest-line",
    walkRule: "manifest-yaml",
  });
  return collector.images().map((i) =>
    `${i.image} ${i.sources.map((s) => `${s.line}${s.referencedIn ? `:${s.referencedIn}` : ""}`)}`
  );
}

Deno.test("fragments find what a whole parse finds, on the same lines", () => {
  const whole = parseYamlTree(MANIFESTS, (line) => ({ file: "m.yaml", line }));
  assert.equal(whole.error, undefined);
  // The line scanner's finds plus a whole parse's walk: what discovery found before fragments.
  const expected = new Set([
    ...scanLines(MANIFESTS).map((f) => `${f.image}@${f.line}`),
    ...whole.documents.flatMap((d) => walkImages(d).finds.map((f) => `${f.image}@${f.at.line}`)),
  ]);
  const got = new Set(
    finds(MANIFESTS).flatMap((l) => {
      const [image, lines] = l.split(" ");
      return lines.split(",").map((x) => `${image}@${x.split(":")[0]}`);
    }),
  );
  assert.deepEqual([...got].sort(), [...expected].sort());
  assert.equal(got.size, 9, [...got].join(" "));
});

Deno.test("planDocument: CRDs and documents without image lines are not parsed; subtrees are", () => {
  const docs = splitDocuments(MANIFESTS.split("\n"));
  assert.deepEqual(docs.map((d) => planDocument(d.lines).kind), [
    "fragments", // the Deployment: the containers' subtree
    "fragments", // the custom resource: `controller`, not the block scalar's text
    "none", // a ConfigMap naming no image
    "whole", // JSON after the marker: one line, at the top
    "whole", // a flow sequence over several lines
    "none", // a CRD
  ]);
  const plan = planDocument(docs[1].lines);
  assert.deepEqual(plan, { kind: "fragments", ranges: [{ start: 4, end: 9 }] });
});
