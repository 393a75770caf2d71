/**
 * What a context lists line by line (image references in `images/shim/*`, archives in
 * `images/skopeo/tar.txt`, `image:` lines of manifests) comes from someone's repository: whatever
 * a line holds, reading it fails only as a `FerryError` (or, for the scanners, not at all).
 *
 * @module
 */
import { parseReference } from "../../src/reference.ts";
import { parseShimLine } from "../../src/context/shim.ts";
import { parseTarLine } from "../../src/context/tar_list.ts";
import { imageFromLine, scanLines } from "../../src/context/line_scanner.ts";
import { byteMutator, fuzz } from "../support/fuzz.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const REFERENCES = [
  "nginx",
  "docker.io/library/nginx:1.25",
  "localhost:5000/a/b_c/d-e:v1.0",
  "[::1]:5000/x/y@sha256:" + "a".repeat(64),
  "ghcr.io/org/app:v2@sha256:" + "0123456789abcdef".repeat(4),
  "registry.example.com:443/team/app__x/y.z:tag_1",
];

const REFERENCE_DICTIONARY = [
  "/",
  ":",
  "@",
  ".",
  "..",
  "__",
  "-",
  "sha256:",
  "sha512:",
  "a".repeat(64),
  "[",
  "]",
  "localhost",
  "index.docker.io/",
  "library/",
  "A",
  "é",
];

Deno.test("fuzz: parseReference fails only as FerryError", async () => {
  await fuzz({
    name: "parseReference",
    corpus: REFERENCES.map((r) => encoder.encode(r)),
    mutate: byteMutator({ dictionary: REFERENCE_DICTIONARY }),
    runs: 4000,
    target: (bytes) => parseReference(decoder.decode(bytes), { where: "images/shim/list:1" }),
  });
});

const SHIM_LINES = [
  ...REFERENCES,
  '  "quay.io/x/y:1" # pinned',
  "'nginx:1'",
  "# comment",
  "docker-daemon:nginx:1",
  "containers-storage:x",
];

Deno.test("fuzz: parseShimLine and imageFromLine do not throw", async () => {
  await fuzz({
    name: "parseShimLine",
    corpus: SHIM_LINES.map((r) => encoder.encode(r)),
    mutate: byteMutator({ dictionary: [...REFERENCE_DICTIONARY, "#", " #", '"', "'", "image:"] }),
    runs: 3000,
    accept: () => false,
    target: (bytes) => {
      const line = decoder.decode(bytes);
      parseShimLine(line);
      imageFromLine(`        image: ${line}`);
      imageFromLine(line);
      scanLines(line);
    },
  });
});

const TAR_LINES = [
  "docker-archive:app.tar@app:v1",
  "oci-archive:sub/dir/app.oci.tar@team/app",
  "# comment",
  "docker-archive:/abs/app.tar@localhost/app:1",
];

Deno.test("fuzz: parseTarLine fails only as FerryError", async () => {
  await fuzz({
    name: "parseTarLine",
    corpus: TAR_LINES.map((r) => encoder.encode(r)),
    mutate: byteMutator({
      dictionary: ["@", ":", "/", "..", "../", "docker-archive:", "oci-archive:", "\\", "~"],
    }),
    runs: 3000,
    target: (bytes) => parseTarLine("/tmp/ctx", decoder.decode(bytes), 1),
  });
});
