/**
 * What a registry sends, fuzzed where ferry's client reads it: challenges, token responses, error
 * bodies, tag lists and the catalog with their `Link` pages, manifest headers and bodies, blob
 * ranges, referrers lists and fallback indexes. Whatever arrives, reading it ends as a
 * `FerryError` of one printable line (or succeeds); the client's `fetch` is a script in this
 * process, so each input costs no socket.
 *
 * @module
 */
import { Authenticator, parseChallenges } from "../../src/auth/mod.ts";
import { discoverReferrers } from "../../src/copy/referrers.ts";
import { parseDigest, sha256 } from "../../src/digest.ts";
import { MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST } from "../../src/media_types.ts";
import { checkRangeResponse } from "../../src/remote/blob_reader.ts";
import { responseError } from "../../src/remote/http.ts";
import { retryDelay } from "../../src/remote/retry.ts";
import { byteMutator, fuzz, jsonMutator } from "../support/fuzz.ts";
import {
  FUZZ_SCALE,
  FUZZ_SEED,
  headerValue,
  isOneLineFerryError,
  SCRIPTED_HOST,
  scriptedClient,
} from "../support/fuzz_remote.ts";
import { makeImage } from "../support/mod.ts";
import { makeArtifact, makeReferrersIndex } from "../support/referrers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (s: string) => encoder.encode(s);
const json = (v: unknown) => text(JSON.stringify(v));
/** Bytes as a response body. */
const body = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

/** `WWW-Authenticate` values as registries send them. */
const CHALLENGES = [
  'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
  'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/app:pull"',
  'Bearer realm="https://auth.example.com/token",service="registry",scope="repository:a/b:pull,push",error="insufficient_scope"',
  'Basic realm="Registry Realm"',
  'Basic realm="x", Bearer realm="https://auth.example.com/t", service=registry',
  "Negotiate YWJjZA==, Bearer realm=https://auth.example.com/t",
];
const CHALLENGE_WORDS = [
  "Bearer",
  "Basic",
  "realm=",
  "service=",
  "scope=",
  "error=",
  '"',
  "\\",
  ",",
  "=",
  " ",
  "\t",
  "https://",
  "file:///etc/passwd",
  "http://user:pw@127.0.0.1/",
];

/** Token responses: Docker Hub's and an OAuth2 server's. */
const TOKENS = [
  json({
    token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
    access_token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
    expires_in: 300,
    issued_at: "2026-12-08T00:00:00Z",
  }),
  json({
    access_token: "abc.def",
    token_type: "Bearer",
    expires_in: 3600,
    scope: "repository:org/app:pull repository:org/other:pull",
  }),
];

/** Error bodies: distribution's, a token server's, OAuth2's. */
const ERROR_BODIES = [
  json({
    errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: { Tag: "9.9" } }],
  }),
  json({
    errors: [{
      code: "UNAUTHORIZED",
      message: "authentication required",
      detail: [{ Type: "repository", Class: "", Name: "org/app", Action: "pull" }],
    }, { code: "DENIED", message: "requested access to the resource is denied" }],
  }),
  json({ details: "incorrect username or password" }),
  json({ error: "invalid_grant", error_description: "refresh token expired" }),
  text("<html><body><h1>502 Bad Gateway</h1></body></html>"),
];
const STATUSES = [400, 401, 403, 404, 405, 413, 429, 500, 502, 503];

const image = makeImage({ layerSizes: [10] });
const subject = image.manifest.desc;
const artifact = makeArtifact(subject);
const referrersIndex = makeReferrersIndex([artifact.manifest.desc]);

const TOKEN_CHALLENGE =
  `Bearer realm="https://auth.fuzz.test/token",service="${SCRIPTED_HOST}",scope="repository:org/app:pull"`;

Deno.test("fuzz: parseChallenges never throws, and stays fast", async () => {
  await fuzz({
    name: "parseChallenges",
    corpus: CHALLENGES.map(text),
    mutate: byteMutator({ dictionary: CHALLENGE_WORDS }),
    runs: 3000 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    maxMs: 1000,
    accept: () => false,
    target: (bytes) => parseChallenges(headerValue(bytes)),
  });
});

Deno.test("fuzz: a challenge answered through its token server fails only as a FerryError", async () => {
  await fuzz({
    name: "Authenticator.challenge (challenge)",
    corpus: CHALLENGES.map(text),
    mutate: byteMutator({ dictionary: CHALLENGE_WORDS }),
    runs: 600 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: async (bytes) => {
      const auth = new Authenticator({
        credentials: () =>
          Promise.resolve({ kind: "basic", username: "alice", password: "secret" }),
        fetch: () => Promise.resolve(new Response(TOKENS[0])),
      });
      await auth.challenge(SCRIPTED_HOST, headerValue(bytes), ["repository:org/app:pull"], {
        checkUrl: () => {},
      });
    },
  });
});

Deno.test("fuzz: a token server's answer fails only as a FerryError of one line", async () => {
  await fuzz({
    name: "Authenticator.challenge (token response)",
    corpus: [...TOKENS, ...ERROR_BODIES],
    mutate: jsonMutator(),
    runs: 1200 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: async (bytes) => {
      // The status comes from the input too: a success, or one of the errors.
      const status = bytes.length % 3 === 0 ? STATUSES[bytes.length % STATUSES.length] : 200;
      const auth = new Authenticator({
        credentials: () => Promise.resolve({ kind: "identity_token", token: "refresh-secret" }),
        fetch: () => Promise.resolve(new Response(body(bytes), { status })),
      });
      const header = await auth.challenge(SCRIPTED_HOST, TOKEN_CHALLENGE, [
        "repository:org/app:pull",
      ]);
      if (!/^Bearer [\x21-\x7e]+$/.test(header)) throw new Error(`header ${header}`);
      // The cached token is handed out again.
      auth.header(SCRIPTED_HOST, ["repository:org/app:pull"]);
    },
  });
});

Deno.test("fuzz: a registry's error body becomes a RegistryError of one printable line", async () => {
  await fuzz({
    name: "responseError",
    corpus: ERROR_BODIES,
    mutate: jsonMutator({ dictionary: ["\n", "\r", "\u001b[31m", "errors", "code", "message"] }),
    runs: 1500 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: async (bytes) => {
      const status = STATUSES[bytes.length % STATUSES.length];
      throw await responseError(new Response(body(bytes), { status }), "docker://r/org/app:1");
    },
  });
});

Deno.test("fuzz: tag lists and the catalog fail only as a FerryError", async () => {
  const pages = [
    json({ name: "org/app", tags: ["1.0", "latest", `sha256-${"a".repeat(64)}.sig`] }),
    json({ repositories: ["org/app", "library/nginx"] }),
    json({ name: "org/app", tags: null }),
  ];
  await fuzz({
    name: "tags/_catalog",
    corpus: pages,
    mutate: jsonMutator(),
    runs: 800 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: async (bytes) => {
      const client = scriptedClient((req) => {
        const path = new URL(req.url).pathname;
        if (path === "/v2/") return new Response("{}");
        return new Response(body(bytes), { headers: { "content-type": "application/json" } });
      });
      const reg = client.registry(SCRIPTED_HOST);
      await reg.repository("org/app").tags().catch((err) => {
        if (!isOneLineFerryError(err)) throw err;
      });
      await reg.repositories();
    },
  });
});

Deno.test("fuzz: Link headers of tag list pages are followed only on the registry, else a FerryError", async () => {
  const links = [
    '</v2/org/app/tags/list?last=latest&n=2>; rel="next"',
    `<https://${SCRIPTED_HOST}/v2/org/app/tags/list?n=1000&last=b>; rel=next`,
    '<?last=x>;rel="next", </v2/_catalog?n=1>; rel="prev"',
  ];
  await fuzz({
    name: "tags Link",
    corpus: links.map(text),
    mutate: byteMutator({
      dictionary: ["<", ">", ";", "rel=", '"next"', "//", "http://", "file:", "%", "?", "#"],
    }),
    runs: 1500 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: async (bytes) => {
      let served = 0;
      const client = scriptedClient((req) => {
        const path = new URL(req.url).pathname;
        if (path === "/v2/") return new Response("{}");
        // The first page links on; the ones after it end the list.
        return served++ === 0
          ? new Response(json({ tags: ["a"] }), { headers: { link: headerValue(bytes) } })
          : new Response(json({ tags: ["b"] }));
      });
      await client.registry(SCRIPTED_HOST).repository("org/app").tags();
    },
  });
});

Deno.test("fuzz: a manifest's HEAD headers fail only as a FerryError", async () => {
  const manifest = image.manifest;
  const heads = [
    `${manifest.desc.digest}\n${OCI_MANIFEST}\n${manifest.bytes.byteLength}`,
    `${manifest.desc.digest}\n${OCI_INDEX}; charset=utf-8\n12`,
  ];
  await fuzz({
    name: "resolve (HEAD)",
    corpus: heads.map(text),
    mutate: byteMutator({
      dictionary: ["sha256:", "sha512:", ";", ...MANIFEST_TYPES, "-1", "-", "+", "0x", "e3"],
    }),
    runs: 1000 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: async (bytes) => {
      const [digest, type, length] = decoder.decode(bytes).split("\n");
      const client = scriptedClient((req) => {
        const path = new URL(req.url).pathname;
        if (path === "/v2/") return new Response("{}");
        if (req.method === "HEAD") {
          const headers = new Headers();
          if (digest !== undefined) headers.set("docker-content-digest", headerValue(text(digest)));
          if (type !== undefined) headers.set("content-type", headerValue(text(type)));
          if (length !== undefined) headers.set("content-length", headerValue(text(length)));
          return new Response(null, { headers });
        }
        return new Response(body(manifest.bytes), { headers: { "content-type": OCI_MANIFEST } });
      });
      const desc = await client.registry(SCRIPTED_HOST).repository("org/app").resolve("1.0");
      if (!Number.isSafeInteger(desc.size) || desc.size < 0) throw new Error(`size ${desc.size}`);
    },
  });
});

Deno.test("fuzz: a manifest's GET body fails only as a FerryError", async () => {
  await fuzz({
    name: "resolve (GET)",
    corpus: [image.manifest.bytes, referrersIndex.bytes, artifact.manifest.bytes],
    mutate: jsonMutator(),
    runs: 800 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: async (bytes) => {
      const digest = await sha256(bytes);
      const client = scriptedClient((req) => {
        const path = new URL(req.url).pathname;
        if (path === "/v2/") return new Response("{}");
        return new Response(body(bytes), {
          headers: { "content-type": OCI_MANIFEST, "docker-content-digest": digest },
        });
      });
      const repo = client.registry(SCRIPTED_HOST).repository("org/app");
      const desc = await repo.resolve("1.0", { withContent: true });
      await repo.manifestBytes(desc);
    },
  });
});

Deno.test("fuzz: a blob answer's Content-Range and Content-Length fail only as a FerryError", async () => {
  await fuzz({
    name: "checkRangeResponse",
    corpus: ["206\nbytes 100-999/1000", "206\nbytes 100-999/*", "200\n1000"].map(text),
    mutate: byteMutator({ dictionary: ["bytes ", "-", "/", "*", "1000", "999"] }),
    runs: 1500 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: (bytes) => {
      const [status, value = ""] = decoder.decode(bytes).split("\n");
      const partial = status === "206";
      const res = new Response(null, {
        status: partial
          ? 206
          : Number(status) >= 200 && Number(status) < 600
          ? Number(status)
          : 200,
        headers: { [partial ? "content-range" : "content-length"]: headerValue(text(value)) },
      });
      checkRangeResponse(res, 100, 1000, "docker://r/org/app@sha256:…");
    },
  });
});

Deno.test("fuzz: parseDigest fails only as a FerryError", async () => {
  await fuzz({
    name: "parseDigest",
    corpus: [subject.digest, `sha512:${"ab".repeat(64)}`].map(text),
    mutate: byteMutator({ dictionary: ["sha256:", ":", "+", "."] }),
    runs: 2000 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    maxMs: 1000,
    accept: isOneLineFerryError,
    target: (bytes) => parseDigest(decoder.decode(bytes), "docker://r/org/app"),
  });
});

Deno.test("fuzz: referrers lists and fallback indexes fail only as a FerryError", async () => {
  const fallback = `sha256-${subject.digest.slice(7)}`;
  await fuzz({
    name: "referrers",
    corpus: [referrersIndex.bytes, json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] })],
    mutate: jsonMutator(),
    runs: 800 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: async (bytes) => {
      // Half the inputs as the referrers API's answer, half as the fallback tag's index.
      const api = bytes.length % 2 === 0;
      const digest = await sha256(bytes);
      const client = scriptedClient((req) => {
        const path = new URL(req.url).pathname;
        if (path === "/v2/") return new Response("{}");
        if (path.includes("/referrers/")) {
          return api
            ? new Response(body(bytes), { headers: { "content-type": OCI_INDEX } })
            : new Response(null, { status: 404 });
        }
        if (path.endsWith(`/manifests/${fallback}`) || path.endsWith(`/manifests/${digest}`)) {
          return new Response(req.method === "HEAD" ? null : body(bytes), {
            headers: {
              "content-type": OCI_INDEX,
              "docker-content-digest": digest,
              "content-length": String(bytes.byteLength),
            },
          });
        }
        if (path.endsWith("/tags/list")) return new Response(json({ tags: [fallback, "1.0"] }));
        return new Response(null, { status: 404 });
      });
      const repo = client.registry(SCRIPTED_HOST).repository("org/app");
      await discoverReferrers(repo, subject, { where: "docker://r/org/app:1.0" });
    },
  });
});

Deno.test("fuzz: an upload's Location fails only as a FerryError", async () => {
  const blob = image.layers[0];
  await fuzz({
    name: "push (Location)",
    corpus: [
      `/v2/org/app/blobs/uploads/2f6b1c?_state=abc`,
      `https://${SCRIPTED_HOST}/v2/org/app/blobs/uploads/2f6b1c`,
    ].map(text),
    mutate: byteMutator({ dictionary: ["//", "http://", "file:", "[", "%", "?", "#", ":"] }),
    runs: 800 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    accept: isOneLineFerryError,
    target: async (bytes) => {
      const client = scriptedClient((req) => {
        const url = new URL(req.url);
        if (url.pathname === "/v2/") return new Response("{}");
        if (req.method === "POST") {
          return new Response(null, { status: 202, headers: { location: headerValue(bytes) } });
        }
        return new Response(null, { status: 201 });
      });
      await client.registry(SCRIPTED_HOST).repository("org/app").push(
        blob.desc,
        () => Promise.resolve(new Blob([body(blob.bytes)]).stream()),
      );
    },
  });
});

Deno.test("fuzz: a Retry-After header never makes a wait longer than the policy's bound", async () => {
  const policy = { retries: 5, baseDelayMs: 250, maxDelayMs: 30_000 };
  await fuzz({
    name: "retryDelay",
    corpus: ["120", "Wed, 21 Oct 2026 07:28:00 GMT", "0"].map(text),
    mutate: byteMutator({ dictionary: ["-", "e", "9999999", "GMT", "Infinity", "NaN", "."] }),
    runs: 1500 * FUZZ_SCALE,
    seed: FUZZ_SEED,
    maxMs: 1000,
    accept: () => false,
    target: (bytes) => {
      const wait = retryDelay(policy, 1 + (bytes.length % 8), headerValue(bytes));
      if (!(wait >= 0 && wait <= policy.maxDelayMs)) throw new Error(`wait ${wait} ms`);
    },
  });
});
