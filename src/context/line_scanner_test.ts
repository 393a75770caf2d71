import assert from "node:assert/strict";
import {
  imageFromLine,
  normaliseImage,
  scanLines,
  splitLines,
  stripQuotes,
} from "./line_scanner.ts";

const HEX = "0123456789abcdef".repeat(4);

// Derived line-scanner vectors of the Sealos research note (§6). The one deliberate difference:
// a tag@digest keeps its digest (Sealos drops it, labring/sealos#2051).
const VECTORS: [string, string | undefined][] = [
  ["image: nginx", "docker.io/library/nginx"],
  ['- image: "nginx:1.23.1"', "docker.io/library/nginx:1.23.1"],
  [`image: 'quay.io/c/c:v1@sha256:${HEX}'`, `quay.io/c/c:v1@sha256:${HEX}`],
  [`image: nginx@sha256:${HEX}`, `docker.io/library/nginx@sha256:${HEX}`],
  ["image:busybox", "docker.io/library/busybox"],
  ["# image: x", undefined],
  ["image: nginx # pin", undefined],
  ["image: {{ .Values.img }}", undefined],
  ["image: Nginx", undefined],
  ["image:", undefined],
  ["imagePullPolicy: Always", undefined],
  ['"image": "nginx"', undefined],
  ["baseimage: alpine:3", "docker.io/library/alpine:3"],
  ["image: index.docker.io/library/nginx:1", "docker.io/library/nginx:1"],
  ["image: localhost:5000/a/b:1", "localhost:5000/a/b:1"],
  // More of the same rules.
  ["      - image: bitnami/redis:7", "docker.io/bitnami/redis:7"],
  ['sidecar-istio-proxy-image: "cilium/istio_proxy"', "docker.io/cilium/istio_proxy"],
  ["  --image=quay.io/a/b:1", undefined],
  ["Image: nginx", undefined],
  ["image: \"nginx'", undefined],
  ["   # - image: nginx", undefined],
  ["name: x # image: nginx", "docker.io/library/nginx"],
  ["image: localhost/app", "localhost/app"],
];

Deno.test("imageFromLine follows the Sealos line scanner", () => {
  for (const [line, want] of VECTORS) {
    assert.equal(imageFromLine(line), want, JSON.stringify(line));
  }
});

Deno.test("scanLines reports 1-based line numbers and honours skip", () => {
  const text = "a: 1\r\n  image: nginx:1\n  image: {{ x }}\nimage: busybox\n";
  assert.deepEqual(scanLines(text), [
    { image: "docker.io/library/nginx:1", line: 2 },
    { image: "docker.io/library/busybox", line: 4 },
  ]);
  assert.deepEqual(scanLines(text, (line) => line.includes("busybox")), [
    { image: "docker.io/library/nginx:1", line: 2 },
  ]);
});

Deno.test("stripQuotes removes one pair of matching quotes only", () => {
  assert.equal(stripQuotes(`"a"`), "a");
  assert.equal(stripQuotes(`'a'`), "a");
  assert.equal(stripQuotes(`""a""`), `"a"`);
  assert.equal(stripQuotes(`"a'`), `"a'`);
  assert.equal(stripQuotes(`"`), `"`);
  assert.equal(stripQuotes(""), "");
});

Deno.test("splitLines splits on LF and CRLF only", () => {
  assert.deepEqual(splitLines("a\r\nb\nc\rd"), ["a", "b", "c\rd"]);
});

Deno.test("normaliseImage keeps tag and digest and rejects non-references", () => {
  assert.equal(normaliseImage("nginx:1"), "docker.io/library/nginx:1");
  assert.equal(normaliseImage("ghcr.io/a/b"), "ghcr.io/a/b");
  assert.equal(normaliseImage("not a ref"), undefined);
});
