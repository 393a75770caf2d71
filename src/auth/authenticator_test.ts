import assert from "node:assert/strict";
import { FerryError } from "../errors.ts";
import { Authenticator, repositoryScope } from "./authenticator.ts";
import type { Credential } from "./credentials.ts";

interface Seen {
  method: string;
  url: URL;
  authorization: string | null;
  contentType: string | null;
  body: string;
}

/** A token server on 127.0.0.1 answering with `handler`, recording every request. */
function tokenServer(handler: (seen: Seen) => Response | Promise<Response>) {
  const requests: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const seen: Seen = {
      method: req.method,
      url: new URL(req.url),
      authorization: req.headers.get("authorization"),
      contentType: req.headers.get("content-type"),
      body: await req.text(),
    };
    requests.push(seen);
    return handler(seen);
  });
  const realm = `http://127.0.0.1:${server.addr.port}/token`;
  return {
    realm,
    requests,
    challenge: (extra = "") => `Bearer realm="${realm}",service="test-registry"${extra}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const json = (body: unknown, status = 200) => Response.json(body, { status });
const credentials = (credential?: Credential) => () => Promise.resolve(credential);
const REG = "registry.test:5000";

Deno.test("repositoryScope", () => {
  assert.equal(
    repositoryScope("library/nginx", ["pull", "push"]),
    "repository:library/nginx:pull,push",
  );
  assert.equal(repositoryScope("a/b", ["pull", "pull"]), "repository:a/b:pull");
});

Deno.test("Authenticator: anonymous token, one scope param per scope, cached", async () => {
  await using ts = tokenServer(() => json({ token: "anon-1", expires_in: 300 }));
  const auth = new Authenticator({ credentials: credentials(undefined) });
  const scopes = ["repository:a/b:pull", "repository:c/d:pull"];
  assert.equal(auth.header(REG, scopes), undefined);

  const header = await auth.challenge(REG, ts.challenge(',scope="repository:a/b:push"'), scopes);
  assert.equal(header, "Bearer anon-1");
  assert.equal(ts.requests.length, 1);
  const [req] = ts.requests;
  assert.equal(req.method, "GET");
  assert.equal(req.url.pathname, "/token");
  assert.equal(req.authorization, null);
  assert.deepEqual(req.url.searchParams.getAll("service"), ["test-registry"]);
  // The challenge's own scope is merged into the matching resource.
  assert.deepEqual(req.url.searchParams.getAll("scope").sort(), [
    "repository:a/b:pull,push",
    "repository:c/d:pull",
  ]);

  // Cached: any subset of the granted scopes is served without a request.
  assert.equal(auth.header(REG, scopes), "Bearer anon-1");
  assert.equal(auth.header(REG, ["repository:a/b:push"]), "Bearer anon-1");
  assert.equal(auth.header(REG, ["repository:c/d:pull", "repository:a/b:pull"]), "Bearer anon-1");
  assert.equal(auth.header(REG, ["repository:c/d:push"]), undefined);
  assert.equal(auth.header(REG, ["repository:x/y:pull"]), undefined);
  assert.equal(auth.header("other.test", scopes), undefined);
  assert.equal(ts.requests.length, 1);
});

Deno.test("Authenticator: concurrent challenges share one token request", async () => {
  await using ts = tokenServer(async () => {
    await new Promise((r) => setTimeout(r, 20));
    return json({ token: "shared" });
  });
  const auth = new Authenticator({ credentials: credentials(undefined) });
  const scopes = ["repository:a/b:pull"];
  const headers = await Promise.all(
    Array.from({ length: 5 }, () => auth.challenge(REG, ts.challenge(), scopes)),
  );
  assert.deepEqual(headers, Array(5).fill("Bearer shared"));
  assert.equal(ts.requests.length, 1);
});

Deno.test("Authenticator: basic credentials are forwarded; access_token accepted", async () => {
  await using ts = tokenServer(() => json({ access_token: "acc-1", expires_in: 120 }));
  const auth = new Authenticator({
    credentials: credentials({ kind: "basic", username: "alice", password: "pä:ss" }),
  });
  const header = await auth.challenge(REG, ts.challenge(), ["repository:a/b:pull,push"]);
  assert.equal(header, "Bearer acc-1");
  const sent = ts.requests[0].authorization ?? "";
  assert.ok(sent.startsWith("Basic "), sent);
  const decoded = new TextDecoder().decode(
    Uint8Array.from(atob(sent.slice(6)), (c) => c.charCodeAt(0)),
  );
  assert.equal(decoded, "alice:pä:ss");
  assert.deepEqual(ts.requests[0].url.searchParams.getAll("scope"), ["repository:a/b:pull,push"]);
});

Deno.test("Authenticator: tokens expire with the injected clock (at least 60 s)", async () => {
  let lifetime: number | undefined = 300;
  let n = 0;
  await using ts = tokenServer(() =>
    json(lifetime === undefined ? { token: `t${++n}` } : { token: `t${++n}`, expires_in: lifetime })
  );
  let now = 1_000_000;
  const auth = new Authenticator({ credentials: credentials(undefined), now: () => now });
  const scopes = ["repository:a/b:pull"];

  assert.equal(await auth.challenge(REG, ts.challenge(), scopes), "Bearer t1");
  now += 280_000;
  assert.equal(auth.header(REG, scopes), "Bearer t1");
  now += 15_000; // 295 s: within the refresh margin before expiry
  assert.equal(auth.header(REG, scopes), undefined);
  assert.equal(await auth.challenge(REG, ts.challenge(), scopes), "Bearer t2");
  assert.equal(auth.header(REG, scopes), "Bearer t2");

  // A lifetime under 60 s is taken as 60 s; a missing one too.
  for (const life of [5, undefined]) {
    lifetime = life;
    const t0 = now;
    const header = await auth.challenge(REG, ts.challenge(), scopes);
    now = t0 + 45_000;
    assert.equal(auth.header(REG, scopes), header, `lifetime ${life}`);
    now = t0 + 55_000;
    assert.equal(auth.header(REG, scopes), undefined, `lifetime ${life}`);
  }
  assert.equal(ts.requests.length, 4);
});

Deno.test("Authenticator: identity tokens use the OAuth2 refresh-token POST", async () => {
  await using ts = tokenServer(() =>
    json({ access_token: "oauth-acc", refresh_token: "new", expires_in: 900 })
  );
  const auth = new Authenticator({
    credentials: credentials({ kind: "identity_token", username: "bob", token: "refresh-xyz" }),
  });
  const scopes = ["repository:a/b:pull", "repository:c/d:pull,push"];
  assert.equal(await auth.challenge(REG, ts.challenge(), scopes), "Bearer oauth-acc");
  const [req] = ts.requests;
  assert.equal(req.method, "POST");
  assert.equal(req.authorization, null);
  assert.match(req.contentType ?? "", /^application\/x-www-form-urlencoded/);
  const form = new URLSearchParams(req.body);
  assert.equal(form.get("grant_type"), "refresh_token");
  assert.equal(form.get("refresh_token"), "refresh-xyz");
  assert.equal(form.get("service"), "test-registry");
  assert.equal(form.get("client_id"), "ferry");
  assert.equal(form.get("scope"), "repository:a/b:pull repository:c/d:pull,push");
  assert.equal(req.url.search, "");
});

Deno.test("Authenticator: rejected credentials → unauthorized, without the secret", async () => {
  const password = "hunter2-very-secret";
  await using ts = tokenServer(() =>
    json({ details: `incorrect username or password ${password}` }, 401)
  );
  const auth = new Authenticator({
    credentials: credentials({ kind: "basic", username: "alice", password }),
  });
  await assert.rejects(auth.challenge(REG, ts.challenge(), ["repository:a/b:pull"]), (err) => {
    assert.ok(err instanceof FerryError);
    assert.equal(err.code, "unauthorized");
    assert.equal(err.retryable, false);
    assert.ok(err.message.includes(REG), err.message);
    assert.ok(err.message.includes("credentials were rejected"), err.message);
    assert.ok(err.message.includes("incorrect username or password"), err.message);
    assert.ok(err.message.includes(`docker login ${REG}`), err.message);
    assert.ok(!err.message.includes(password), err.message);
    return true;
  });
  assert.equal(auth.header(REG, ["repository:a/b:pull"]), undefined);
  // The follow-up error for a request that still fails says the same.
  assert.match(auth.unauthorizedError(REG).message, /credentials were rejected/);
});

Deno.test("Authenticator: anonymous refusal says there are no credentials", async () => {
  await using ts = tokenServer(() => new Response("nope", { status: 401 }));
  const auth = new Authenticator({ credentials: credentials(undefined) });
  await assert.rejects(
    auth.challenge(REG, ts.challenge(), ["repository:a/b:pull"]),
    (err: unknown) => {
      assert.ok(err instanceof FerryError);
      assert.equal(err.code, "unauthorized");
      assert.match(err.message, /authentication required and no credentials found/);
      assert.match(err.message, /--authfile/);
      return true;
    },
  );
});

Deno.test("Authenticator: token server failures are classified", async () => {
  let status = 403;
  let body: BodyInit = JSON.stringify({ errors: [{ code: "DENIED", message: "no access" }] });
  await using ts = tokenServer(() => new Response(body, { status }));
  const auth = new Authenticator({
    credentials: credentials({ kind: "identity_token", token: "refresh-abc" }),
  });
  const scopes = ["repository:a/b:pull"];
  const attempt = () => auth.challenge(REG, ts.challenge(), scopes);

  await assert.rejects(attempt(), { code: "denied", retryable: false, message: /no access/ });

  status = 503;
  body = "<html>down</html>";
  await assert.rejects(attempt(), { code: "registry", retryable: true, message: /HTTP 503\)/ });

  status = 429;
  await assert.rejects(attempt(), { code: "registry", retryable: true });

  status = 400;
  body = JSON.stringify({ error: "invalid_grant", error_description: "refresh token expired" });
  await assert.rejects(attempt(), {
    code: "unauthorized",
    message: /credentials were rejected \(HTTP 400: refresh token expired\)/,
  });

  status = 400;
  body = JSON.stringify({ error: "invalid_scope" });
  await assert.rejects(attempt(), { code: "registry", retryable: false });

  status = 200;
  body = "not json";
  await assert.rejects(attempt(), { code: "registry", message: /not JSON/ });
  body = JSON.stringify({ expires_in: 60 });
  await assert.rejects(attempt(), { code: "registry", message: /without a token/ });
  body = JSON.stringify({ token: "bad token\r\nX-Evil: 1" });
  await assert.rejects(attempt(), { code: "registry", message: /malformed token/ });
  body = JSON.stringify({ token: "x".repeat(1 << 20) });
  await assert.rejects(attempt(), { code: "too_large" });
});

Deno.test("Authenticator: unreachable token server is a retryable network error", async () => {
  // A port that was just free: nothing listens there.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const auth = new Authenticator({ credentials: credentials(undefined) });
  await assert.rejects(
    auth.challenge(REG, `Bearer realm="http://127.0.0.1:${port}/token"`, []),
    { code: "network", retryable: true },
  );
});

Deno.test("Authenticator: injected fetch is used", async () => {
  const urls: string[] = [];
  const auth = new Authenticator({
    credentials: credentials(undefined),
    fetch: (input) => {
      urls.push(input instanceof Request ? input.url : String(input));
      return Promise.resolve(json({ token: "via-custom-fetch" }));
    },
  });
  const header = await auth.challenge(
    REG,
    'Bearer realm="https://auth.example/token?x=1",service="svc"',
    ["repository:a/b:pull"],
  );
  assert.equal(header, "Bearer via-custom-fetch");
  assert.deepEqual(urls, [
    "https://auth.example/token?x=1&service=svc&scope=repository%3Aa%2Fb%3Apull",
  ]);
});

Deno.test("Authenticator: Basic challenges", async () => {
  const basicAuth = new Authenticator({
    credentials: credentials({ kind: "basic", username: "u", password: "p" }),
  });
  const header = await basicAuth.challenge(REG, 'Basic realm="Registry Realm"', []);
  assert.equal(header, `Basic ${btoa("u:p")}`);
  // Basic is not scope-bound.
  assert.equal(basicAuth.header(REG, ["repository:any/thing:push"]), header);
  basicAuth.invalidate(REG, ["repository:any/thing:push"]);
  assert.equal(basicAuth.header(REG, []), undefined);

  const none = new Authenticator({ credentials: credentials(undefined) });
  await assert.rejects(none.challenge(REG, 'Basic realm="r"', []), {
    code: "unauthorized",
    message: /no credentials found/,
  });
  const tokenOnly = new Authenticator({
    credentials: credentials({ kind: "identity_token", token: "t" }),
  });
  await assert.rejects(tokenOnly.challenge(REG, 'Basic realm="r"', []), {
    code: "unauthorized",
    message: /user name and password/,
  });
  await assert.rejects(none.challenge(REG, 'Negotiate abc==, Digest realm="x"', []), {
    code: "unsupported",
    message: /negotiate, digest/,
  });
});

Deno.test("Authenticator: registry tokens are sent as they are", async () => {
  await using ts = tokenServer(() => json({ token: "should-not-be-asked" }));
  const auth = new Authenticator({
    credentials: credentials({ kind: "registry_token", token: "static-bearer" }),
  });
  assert.equal(
    await auth.challenge(REG, ts.challenge(), ["repository:a:pull"]),
    "Bearer static-bearer",
  );
  assert.equal(auth.header(REG, ["repository:b:push"]), "Bearer static-bearer");
  assert.equal(ts.requests.length, 0);
});

Deno.test("Authenticator: invalidate and insufficient_scope fetch a new token", async () => {
  let n = 0;
  await using ts = tokenServer(() => json({ token: `t${++n}`, expires_in: 600 }));
  const auth = new Authenticator({ credentials: credentials(undefined) });
  const pull = ["repository:a/b:pull"];
  const other = ["repository:z/z:pull"];
  assert.equal(await auth.challenge(REG, ts.challenge(), pull), "Bearer t1");
  assert.equal(await auth.challenge(REG, ts.challenge(), other), "Bearer t2");
  auth.invalidate(REG, pull);
  assert.equal(auth.header(REG, pull), undefined);
  assert.equal(auth.header(REG, other), "Bearer t2");

  // A push needing more than the cached pull token: the registry names the scope it wants.
  assert.equal(await auth.challenge(REG, ts.challenge(), pull), "Bearer t3");
  const push = ["repository:a/b:pull,push"];
  assert.equal(auth.header(REG, push), undefined);
  const header = await auth.challenge(
    REG,
    ts.challenge(',scope="repository:a/b:pull,push",error="insufficient_scope"'),
    ["repository:a/b:pull"],
  );
  assert.equal(header, "Bearer t4");
  assert.equal(auth.header(REG, push), "Bearer t4");
  assert.equal(auth.header(REG, pull), "Bearer t4");
  assert.deepEqual(ts.requests.at(-1)?.url.searchParams.getAll("scope"), [
    "repository:a/b:pull,push",
  ]);
});

Deno.test("Authenticator: a challenge without a usable realm is a registry error", async () => {
  const auth = new Authenticator({ credentials: credentials(undefined) });
  await assert.rejects(auth.challenge(REG, 'Bearer service="x"', []), {
    code: "registry",
    message: /without a realm/,
  });
  await assert.rejects(auth.challenge(REG, 'Bearer realm="file:///etc/passwd"', []), {
    code: "registry",
    message: /not http/,
  });
  await assert.rejects(auth.challenge(REG, 'Bearer realm="::"', []), {
    code: "registry",
    message: /not a URL/,
  });
});

Deno.test("Authenticator: a realm the registry's policy refuses is never asked", async () => {
  await using ts = tokenServer(() => json({ token: "t" }));
  const auth = new Authenticator({
    credentials: credentials({ kind: "basic", username: "u", password: "secret-pw" }),
  });
  await assert.rejects(
    auth.challenge(REG, ts.challenge(), ["repository:a/b:pull"], {
      checkUrl: (url) => {
        if (url.protocol === "http:") throw new FerryError("registry", "plain HTTP refused");
      },
    }),
    /plain HTTP refused/,
  );
  assert.equal(ts.requests.length, 0);
});

Deno.test("Authenticator: token server redirects are followed within its origin only", async () => {
  await using elsewhere = tokenServer(() => json({ token: "stolen" }));
  await using ts = tokenServer((seen) =>
    seen.url.pathname === "/token"
      ? new Response(null, { status: 307, headers: { location: "/token2" } })
      : seen.url.pathname === "/token2"
      ? new Response(null, { status: 307, headers: { location: elsewhere.realm } })
      : json({ token: "never" })
  );
  const auth = new Authenticator({
    credentials: credentials({ kind: "identity_token", token: "refresh-secret" }),
  });
  await assert.rejects(
    auth.challenge(REG, ts.challenge(), ["repository:a/b:pull"]),
    /redirects to http:\/\/127\.0\.0\.1:\d+; credentials stay with the token server/,
  );
  // The same-origin hop resent the form; the other origin saw nothing.
  assert.deepEqual(ts.requests.map((r) => [r.method, r.url.pathname]), [
    ["POST", "/token"],
    ["POST", "/token2"],
  ]);
  assert.match(ts.requests[1].body, /refresh_token=refresh-secret/);
  assert.equal(elsewhere.requests.length, 0);
});

Deno.test("Authenticator: expected repositories ride along in one token request; what the server says it granted is believed", async () => {
  // The server grants a/b and c/d, and says so (OAuth2's `scope`), but not e/f.
  await using ts = tokenServer((seen) => {
    const asked = seen.url.searchParams.getAll("scope");
    const granted = asked.filter((s) => !s.startsWith("repository:e/f:"));
    return json({ token: `t${ts.requests.length}`, expires_in: 300, scope: granted.join(" ") });
  });
  const auth = new Authenticator({ credentials: credentials(undefined) });
  auth.expect(REG, ["repository:c/d:pull", "repository:e/f:pull"]);
  const [ab, cd, ef] = await Promise.all(
    ["a/b", "c/d", "e/f"].map((r) => auth.challenge(REG, ts.challenge(), [`repository:${r}:pull`])),
  );
  assert.deepEqual(ts.requests[0].url.searchParams.getAll("scope").sort(), [
    "repository:a/b:pull",
    "repository:c/d:pull",
    "repository:e/f:pull",
  ]);
  // c/d waited for the first request and shares its token; e/f, left out, got one of its own.
  assert.equal(ab, "Bearer t1");
  assert.equal(cd, "Bearer t1");
  assert.equal(ts.requests.length, 2);
  assert.deepEqual(ts.requests[1].url.searchParams.getAll("scope"), ["repository:e/f:pull"]);
  assert.equal(ef, "Bearer t2");
  assert.equal(auth.header(REG, ["repository:c/d:pull"]), "Bearer t1");
});

Deno.test("Authenticator: a batched token the registry refuses for a repository: that registry's scopes are asked for alone", async () => {
  await using ts = tokenServer(() => json({ token: `t${ts.requests.length}`, expires_in: 300 }));
  const auth = new Authenticator({ credentials: credentials(undefined) });
  auth.expect(REG, ["repository:c/d:pull", "repository:g/h:pull"]);
  assert.equal(await auth.challenge(REG, ts.challenge(), ["repository:a/b:pull"]), "Bearer t1");
  assert.equal(ts.requests[0].url.searchParams.getAll("scope").length, 3);
  // The registry answered c/d's request with the batched token by 401: asked again, alone.
  auth.invalidate(REG, ["repository:c/d:pull"]);
  assert.equal(await auth.challenge(REG, ts.challenge(), ["repository:c/d:pull"]), "Bearer t2");
  assert.deepEqual(ts.requests[1].url.searchParams.getAll("scope"), ["repository:c/d:pull"]);
  assert.equal(await auth.challenge(REG, ts.challenge(), ["repository:g/h:pull"]), "Bearer t3");
  assert.deepEqual(ts.requests[2].url.searchParams.getAll("scope"), ["repository:g/h:pull"]);
});
