/**
 * `registry save` from a hostile registry: a small server on 127.0.0.1 that serves one signed
 * image behind a token server, except that one endpoint (the ping's challenge, the token, the
 * manifest, a blob's headers or bytes, the tag list and its Link, the referrers list, the
 * fallback index, an error body) answers with a mutated version of what a registry sends. Each
 * save ends within a bounded time, every failure is one printable line (no runtime error's text
 * behind it), and the registry directory verifies clean: nothing half-written.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Authenticator } from "../../src/auth/mod.ts";
import { OCI_INDEX } from "../../src/media_types.ts";
import { RegistryDir, verifyRegistryDir } from "../../src/registry_dir/mod.ts";
import { RegistryClient } from "../../src/remote/mod.ts";
import { saveImagesSettled } from "../../src/transfer/save.ts";
import { byteMutator, fuzz, jsonMutator, type Mutator } from "../support/fuzz.ts";
import { digestOf } from "../support/digest.ts";
import { FUZZ_SCALE, FUZZ_SEED, headerValue, isOneLine } from "../support/fuzz_remote.ts";
import { makeImage, startHostileRegistry, tempDir } from "../support/mod.ts";
import { makeArtifact, makeReferrersIndex } from "../support/referrers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const body = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

const image = makeImage({ layerSizes: [300] });
const subject = image.manifest.desc;
const sbom = makeArtifact(subject);
const fallbackIndex = makeReferrersIndex([sbom.manifest.desc]);
const FALLBACK_TAG = `sha256-${subject.digest.slice(7)}`;
const TOKEN = "good-token";

/** Every blob and manifest the registry holds, by digest. */
const content = new Map<string, { bytes: Uint8Array; mediaType: string }>();
for (const b of [image.config, ...image.layers]) {
  content.set(b.desc.digest, { bytes: b.bytes, mediaType: b.desc.mediaType });
}
for (const m of [image.manifest, sbom.manifest, fallbackIndex]) {
  content.set(m.desc.digest, { bytes: m.bytes, mediaType: m.desc.mediaType });
}
content.set(sbom.config.desc.digest, { bytes: sbom.config.bytes, mediaType: "application/json" });
for (const l of sbom.layers) content.set(l.desc.digest, { bytes: l.bytes, mediaType: "x" });

/** The endpoint a run mutates, and how: a mutated answer given the request and the input. */
type Hostile = (req: Request, path: string, input: Uint8Array) => Response | undefined;

/** Serves the image correctly, except where `hostile` answers. */
function serve(origin: () => string, hostile: () => { fn: Hostile; input: Uint8Array }) {
  return (req: Request): Response => {
    const url = new URL(req.url);
    const path = url.pathname;
    const { fn, input } = hostile();
    const mutated = fn(req, path, input);
    if (mutated) return mutated;
    if (path === "/token") return Response.json({ token: TOKEN, expires_in: 300 });
    if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) {
      return new Response(
        '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
        {
          status: 401,
          headers: { "www-authenticate": challenge(origin()) },
        },
      );
    }
    if (path === "/v2/") return new Response("{}");
    if (path === "/v2/org/app/tags/list") {
      return Response.json({ name: "org/app", tags: ["1.0", FALLBACK_TAG] });
    }
    if (path.startsWith("/v2/org/app/referrers/")) return new Response(null, { status: 404 });
    let m = /^\/v2\/org\/app\/manifests\/(.+)$/.exec(path);
    if (m) {
      const ref = m[1] === "1.0"
        ? subject.digest
        : m[1] === FALLBACK_TAG
        ? fallbackIndex.desc.digest
        : m[1];
      const found = content.get(ref);
      if (!found) return new Response(null, { status: 404 });
      return new Response(req.method === "HEAD" ? null : body(found.bytes), {
        headers: {
          "content-type": found.mediaType,
          "docker-content-digest": ref,
          ...(req.method === "HEAD" ? { "content-length": String(found.bytes.length) } : {}),
        },
      });
    }
    m = /^\/v2\/org\/app\/blobs\/(.+)$/.exec(path);
    const found = m ? content.get(m[1]) : undefined;
    if (!found) return new Response(null, { status: 404 });
    return new Response(req.method === "HEAD" ? null : body(found.bytes), {
      headers: { "docker-content-digest": m![1] },
    });
  };
}

function challenge(origin: string): string {
  return `Bearer realm="${origin}/token",service="hostile",scope="repository:org/app:pull"`;
}

/** Text of runtime errors a save reports only when a `TypeError` or the like got through. */
const RUNTIME_ERROR =
  /\b(TypeError|RangeError|SyntaxError|ReferenceError)\b|Cannot read propert|is not a function|is not iterable|Maximum call stack|\[object /;

/**
 * Fuzzes one endpoint: each input is served mutated by `hostile`, a save of `org/app:1.0` with
 * its referrers runs into a new registry directory, and its outcome is checked.
 */
async function fuzzSave(options: {
  name: string;
  corpus: Uint8Array[];
  mutate: Mutator;
  runs: number;
  hostile: Hostile;
  /** Whether the corpus is served as a registry would (the save must then succeed). */
  corpusSaves?: boolean;
}): Promise<void> {
  await using tmp = await tempDir();
  let current: { fn: Hostile; input: Uint8Array } = {
    fn: () => undefined,
    input: new Uint8Array(),
  };
  let origin = "";
  const handler = serve(() => origin, () => current);
  await using server = startHostileRegistry((seen) =>
    handler(
      new Request(seen.url, {
        method: seen.method,
        headers: seen.headers,
      }),
    )
  );
  origin = server.url;
  let run = 0;
  await fuzz({
    name: `registry save (${options.name})`,
    corpus: options.corpus,
    mutate: options.mutate,
    runs: options.runs * FUZZ_SCALE,
    seed: FUZZ_SEED,
    // A request's time bound is 1.5 s below; a save makes a dozen requests at most in turn.
    maxMs: 20_000,
    accept: () => false,
    target: async (input) => {
      current = { fn: options.hostile, input };
      const dir = join(tmp.path, `run-${run++}`);
      const client = new RegistryClient({
        auth: new Authenticator({ credentials: () => Promise.resolve(undefined) }),
        retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
        timeoutMs: 1500,
      });
      try {
        const outcome = await saveImagesSettled({
          registryDir: dir,
          images: [`${server.host}/org/app:1.0`],
          platforms: [],
          client,
        });
        if (run === 1 && options.corpusSaves !== false) {
          // The unmutated answer saves the image and its SBOM: the runs after it mutate a save
          // that works.
          assert.deepEqual(outcome.failed, []);
          assert.equal(outcome.saved[0].referrers.length, 1);
        }
        for (const failure of outcome.failed) {
          const line = failure.error;
          assert.ok(
            isOneLine(line),
            `not one printable line: ${JSON.stringify(line.slice(0, 300))}`,
          );
          assert.doesNotMatch(line, RUNTIME_ERROR);
        }
      } finally {
        await client.close();
      }
      const report = await verifyRegistryDir(await RegistryDir.open(dir));
      assert.deepEqual(report.problems, [], "the registry directory verifies clean");
    },
  });
}

/** A JSON answer of `path` (every method) replaced by the input. */
function jsonAt(test: (path: string) => boolean, headers: HeadersInit = {}): Hostile {
  return (req, path, input) =>
    test(path) && req.headers.get("authorization") === `Bearer ${TOKEN}`
      ? new Response(req.method === "HEAD" ? null : body(input), { headers })
      : undefined;
}

Deno.test("fuzz: registry save from a registry whose ping challenge is mutated", async () => {
  await fuzzSave({
    name: "ping challenge",
    corpus: [encoder.encode(challenge("http://127.0.0.1:1"))],
    mutate: byteMutator({ dictionary: ["Bearer ", "Basic ", "realm=", '"', ",", "scope="] }),
    runs: 15,
    hostile: (req, path, input) => {
      if (path !== "/v2/" || req.headers.get("authorization") === `Bearer ${TOKEN}`) return;
      // The mutated challenge names this registry's own token server.
      const value = headerValue(input).replace("http://127.0.0.1:1", new URL(req.url).origin);
      return new Response(null, { status: 401, headers: { "www-authenticate": value } });
    },
  });
});

Deno.test("fuzz: registry save from a registry whose token server answers mutated JSON", async () => {
  await fuzzSave({
    name: "token",
    corpus: [encoder.encode(JSON.stringify({ token: TOKEN, expires_in: 300 }))],
    mutate: jsonMutator(),
    runs: 25,
    hostile: (_req, path, input) =>
      path === "/token"
        ? new Response(body(input), { status: input.length % 4 === 0 ? 500 : 200 })
        : undefined,
  });
});

Deno.test("fuzz: registry save of a mutated manifest (with and without its digest header)", async () => {
  await fuzzSave({
    name: "manifest",
    corpus: [image.manifest.bytes],
    mutate: jsonMutator(),
    runs: 30,
    hostile: (req, path, input) => {
      if (path !== "/v2/org/app/manifests/1.0") return;
      if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) return;
      return new Response(req.method === "HEAD" ? null : body(input), {
        headers: {
          "content-type": image.manifest.desc.mediaType,
          // Half the time the registry names the mutated bytes' digest, else none.
          ...(input.length % 2 === 0 ? {} : { "docker-content-digest": digestOf(input) }),
        },
      });
    },
  });
});

Deno.test("fuzz: registry save with a layer's bytes or headers mutated", async () => {
  const layer = image.layers[0];
  await fuzzSave({
    name: "blob",
    corpus: [
      new Uint8Array([...encoder.encode(`${layer.desc.digest}\n`), ...layer.bytes.subarray(0, 40)]),
    ],
    mutate: byteMutator({ dictionary: ["sha256:", "\n", "bytes 0-"] }),
    runs: 25,
    hostile: (req, path, input) => {
      if (path !== `/v2/org/app/blobs/${layer.desc.digest}`) return;
      if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) return;
      const cut = input.indexOf(0x0a);
      const header = decoder.decode(cut === -1 ? input : input.subarray(0, cut));
      // The layer's bytes with the input's tail spliced over their start.
      const tail = cut === -1 ? new Uint8Array() : input.subarray(cut + 1);
      const bytes = new Uint8Array(Math.max(layer.bytes.length, tail.length));
      bytes.set(layer.bytes);
      bytes.set(tail);
      const headers = new Headers({ "docker-content-digest": headerValue(encoder.encode(header)) });
      if (input.length % 3 === 0) headers.set("content-range", headerValue(input.subarray(0, 30)));
      return new Response(body(bytes), { status: input.length % 3 === 0 ? 206 : 200, headers });
    },
  });
});

Deno.test("fuzz: registry save with the tag list and its Link mutated", async () => {
  const page = JSON.stringify({ name: "org/app", tags: ["1.0", FALLBACK_TAG] });
  await fuzzSave({
    name: "tags/list",
    corpus: [encoder.encode(`</v2/org/app/tags/list?n=1&last=1.0>; rel="next"\n${page}`)],
    mutate: byteMutator({ dictionary: ["<", ">", "rel=", '"', FALLBACK_TAG, "null", "[", "{"] }),
    runs: 20,
    hostile: (req, path, input) => {
      if (path !== "/v2/org/app/tags/list") return;
      if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) return;
      if (new URL(req.url).searchParams.has("last")) return Response.json({ tags: [] });
      const text = decoder.decode(input);
      const cut = text.indexOf("\n");
      return new Response(text.slice(cut + 1), {
        headers: { link: headerValue(encoder.encode(text.slice(0, Math.max(cut, 0)))) },
      });
    },
  });
});

Deno.test("fuzz: registry save with the referrers list or fallback index mutated", async () => {
  await fuzzSave({
    name: "referrers",
    corpus: [fallbackIndex.bytes],
    mutate: jsonMutator(),
    runs: 30,
    hostile: (req, path, input) => {
      if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) return;
      // Odd inputs answer the referrers API; even ones are the fallback tag's index.
      if (input.length % 2 === 1) {
        return jsonAt((p) => p.startsWith("/v2/org/app/referrers/"), {
          "content-type": OCI_INDEX,
        })(req, path, input);
      }
      if (path !== `/v2/org/app/manifests/${FALLBACK_TAG}`) return;
      return new Response(req.method === "HEAD" ? null : body(input), {
        headers: { "content-type": OCI_INDEX, "docker-content-digest": digestOf(input) },
      });
    },
  });
});

Deno.test("fuzz: registry save refused with mutated error bodies", async () => {
  const statuses = [400, 401, 403, 404, 405, 429, 500, 503];
  const paths = ["/v2/org/app/manifests/1.0", "/v2/org/app/tags/list", "/v2/org/app/blobs/"];
  await fuzzSave({
    name: "errors",
    corpus: [
      encoder.encode(JSON.stringify({
        errors: [{ code: "DENIED", message: "requested access to the resource is denied" }],
      })),
    ],
    mutate: jsonMutator({ dictionary: ["\n", "\u001b[2J"] }),
    runs: 25,
    corpusSaves: false,
    hostile: (req, path, input) => {
      if (req.headers.get("authorization") !== `Bearer ${TOKEN}`) return;
      if (!path.startsWith(paths[input.length % paths.length])) return;
      return new Response(req.method === "HEAD" ? null : body(input), {
        status: statuses[input.length % statuses.length],
        headers: { "retry-after": "0" },
      });
    },
  });
});
