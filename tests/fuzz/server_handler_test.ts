/**
 * Clients of `registry serve` are hostile: whatever request lines, headers, query strings, bodies
 * and upload sequences they send, the handler answers below 500 with an OCI error body for a
 * refusal, a refused write leaves the store as it was, and the next valid request still works —
 * over a memory store and a registry directory alike.
 *
 * @module
 */
import assert from "node:assert/strict";
import { sha256 } from "../../src/digest.ts";
import { OCI_MANIFEST } from "../../src/media_types.ts";
import { byteMutator, fuzz, jsonMutator } from "../support/fuzz.ts";
import {
  checkStillServing,
  fixtureImage,
  MEDIA_TYPES,
  readScript,
  REPO,
  type ScriptRequest,
  send,
  type ServedStore,
  snapshot,
  TAG,
  withServedStore,
  writeScript,
} from "../support/fuzz_server.ts";

const encoder = new TextEncoder();
/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? "1");
const SEED = SCALE === 1 ? 1 : Date.now() % 1_000_000;
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

const { image, artifact } = fixtureImage();
const layer = image.layers[0].desc.digest;
const chunk1 = encoder.encode("hello");
const chunk2 = encoder.encode(" world");
const whole = await sha256(encoder.encode("hello world"));
const none: [string, string][] = [];
const empty = new Uint8Array();

function req(
  method: string,
  target: string,
  headers: [string, string][] = none,
  body: Uint8Array = empty,
): ScriptRequest {
  return { method, target, headers, body };
}

const corpus = [
  [req("GET", `/v2/${REPO}/manifests/${TAG}`, [["Accept", OCI_MANIFEST]])],
  [req("HEAD", `/v2/${REPO}/manifests/${image.manifest.desc.digest}`)],
  [req("GET", `/v2/${REPO}/blobs/${layer}`, [["Range", "bytes=10-20"]])],
  [req("GET", `/v2/${REPO}/blobs/${layer}`, [["Range", "bytes=-5"]])],
  [req("GET", `/v2/${REPO}/tags/list?n=1&last=a`)],
  [req("GET", `/v2/_catalog?n=1&last=fuzz`)],
  [req("GET", `/v2/${REPO}/referrers/${image.manifest.desc.digest}?artifactType=x%2Fy`)],
  [req("GET", "/v2/")],
  [
    req("POST", `/v2/${REPO}/blobs/uploads/`),
    req("PATCH", "{loc}", [["Content-Range", "0-4"], ["Content-Length", "5"]], chunk1),
    req("GET", "{loc}"),
    req("PUT", `{loc}?digest=${whole}`, [["Content-Range", "5-10"]], chunk2),
  ],
  [
    req("POST", `/v2/${REPO}/blobs/uploads/`),
    req("PATCH", "{loc}", none, chunk1),
    req("DELETE", "{loc}"),
  ],
  [req("POST", `/v2/${REPO}/blobs/uploads/?digest=${whole}`, none, encoder.encode("hello world"))],
  [req("POST", `/v2/other/blobs/uploads/?mount=${layer}&from=${REPO}`)],
  [req("PUT", `/v2/${REPO}/manifests/v2`, [["Content-Type", OCI_MANIFEST]], image.manifest.bytes)],
  [
    req(
      "PUT",
      `/v2/${REPO}/manifests/${artifact.manifest.desc.digest}`,
      [["Content-Type", OCI_MANIFEST]],
      artifact.manifest.bytes,
    ),
  ],
  [req("DELETE", `/v2/${REPO}/manifests/art`)],
  [req("DELETE", `/v2/${REPO}/blobs/${whole}`)],
  [req("GET", `/v2/${REPO}/manifests/${TAG}`, [["Authorization", "Basic Zm9vOmJhcg=="]])],
].map(writeScript);

const dictionary = [
  "/v2/",
  "/manifests/",
  "/blobs/",
  "/blobs/uploads/",
  "/tags/list",
  "/referrers/",
  "/_catalog",
  "..",
  "%2e",
  "%2F",
  "%",
  "//",
  "sha256:",
  "sha512:",
  "?digest=",
  "&digest=",
  "?n=",
  "&last=",
  "?mount=",
  "&from=",
  "artifactType=",
  "\nRange: bytes=",
  "\nContent-Range: ",
  "\nContent-Length: ",
  "\nContent-Type: ",
  "\nAccept: ",
  "\nAuthorization: Basic ",
  "\nAuthorization: Bearer ",
  "\nTransfer-Encoding: chunked",
  "\n=====\n",
  "{loc}",
  "GET ",
  "HEAD ",
  "PUT ",
  "POST ",
  "PATCH ",
  "DELETE ",
  "OPTIONS ",
  ...MEDIA_TYPES,
];

/** Runs a script, checking each answer and that refused writes change nothing. */
async function runScript(served: ServedStore, script: Uint8Array, label: string): Promise<void> {
  let location = "";
  let wrote = false;
  for (const r of readScript(script)) {
    const target = r.target.replaceAll("{loc}", location);
    const write = WRITES.has(r.method.toUpperCase()) && r.method.toUpperCase() !== "PATCH" ||
      r.method === "PATCH";
    const before = write ? await snapshot(served) : undefined;
    const answer = await send(served, { ...r, target }, label);
    if (!answer) continue;
    if (answer.status >= 400 && before !== undefined) {
      assert.equal(
        await snapshot(served),
        before,
        `${label}: a refused ${r.method} changed the store`,
      );
    }
    if (answer.status < 400 && write) wrote = true;
    location = answer.headers.get("location") ?? location;
  }
  if (wrote) await restore(served);
  await checkStillServing(served, label);
}

/** Puts the fixture back after a write that succeeded (a delete, a tag moved). */
async function restore(served: ServedStore): Promise<void> {
  for (const b of [image.config, ...image.layers]) {
    await send(
      served,
      req("POST", `/v2/${REPO}/blobs/uploads/?digest=${b.desc.digest}`, none, b.bytes),
      "restore",
    );
  }
  await send(
    served,
    req(
      "PUT",
      `/v2/${REPO}/manifests/${TAG}`,
      [["Content-Type", OCI_MANIFEST]],
      image.manifest.bytes,
    ),
    "restore",
  );
}

for (const [kind, runs] of [["memory", 600], ["dir", 300]] as const) {
  Deno.test(`fuzz: registry serve (${kind}) answers mutated requests below 500`, async () => {
    await withServedStore(kind, async (served) => {
      await fuzz({
        name: `serve ${kind}`,
        corpus,
        mutate: byteMutator({ dictionary }),
        runs: runs * SCALE,
        seed: SEED,
        accept: () => false,
        maxMs: 3000,
        target: (input) => runScript(served, input, `serve ${kind}`),
      });
    });
  });
}

const manifests = [image.manifest.bytes, artifact.manifest.bytes, fixtureImage().index.bytes];

for (const [kind, runs] of [["memory", 200], ["dir", 100]] as const) {
  Deno.test(`fuzz: registry serve (${kind}) refuses mutated manifests with 4xx`, async () => {
    await withServedStore(kind, async (served) => {
      await fuzz({
        name: `manifest PUT ${kind}`,
        corpus: manifests,
        mutate: jsonMutator({ dictionary: MEDIA_TYPES }),
        runs: runs * SCALE,
        seed: SEED,
        accept: () => false,
        maxMs: 3000,
        target: async (bytes) => {
          const digest = await sha256(bytes);
          for (const reference of ["fuzzed", digest]) {
            const script = writeScript([
              req("PUT", `/v2/${REPO}/manifests/${reference}`, [], bytes),
            ]);
            await runScript(served, script, `manifest PUT ${kind}`);
          }
        },
      });
    });
  });
}
