import assert from "node:assert/strict";
import { Authenticator } from "../auth/mod.ts";
import { FerryError } from "../errors.ts";
import { startHostileRegistry } from "../../tests/support/mod.ts";
import { RegistryClient, RegistryError } from "./mod.ts";

/** A client without credentials that does not retry (the answers are final). */
function client(): RegistryClient {
  return new RegistryClient({
    auth: new Authenticator({ credentials: () => Promise.resolve(undefined) }),
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
  });
}

Deno.test("a registry's refusal carries its status and error list as fields; the message is unchanged", async (t) => {
  const cases: {
    name: string;
    status: number;
    body: string;
    code: string;
    errors: { code: string; message: string; detail?: unknown }[];
    message: (what: string) => string;
  }[] = [
    {
      name: "400 with the API's error list",
      status: 400,
      body: JSON.stringify({
        errors: [{
          code: "NAME_INVALID",
          message: "repository name not known to registry",
          detail: { name: "app" },
        }],
      }),
      code: "registry",
      errors: [{
        code: "NAME_INVALID",
        message: "repository name not known to registry",
        detail: { name: "app" },
      }],
      message: (what) =>
        `${what}: registry answered 400 Bad Request (NAME_INVALID: repository name not known to registry)`,
    },
    {
      name: "403 with two entries",
      status: 403,
      body: JSON.stringify({
        errors: [{ code: "DENIED", message: "no" }, { code: "UNAUTHORIZED", message: "" }],
      }),
      code: "denied",
      errors: [{ code: "DENIED", message: "no" }, { code: "UNAUTHORIZED", message: "" }],
      message: (what) => `${what}: access denied (DENIED: no; UNAUTHORIZED)`,
    },
    {
      name: "418 with a body that is not JSON",
      status: 418,
      body: "<html>teapot</html>",
      code: "registry",
      errors: [],
      message: (what) => `${what}: registry answered 418 I'm a teapot`,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using reg = startHostileRegistry((req) =>
        req.url.pathname === "/v2/app/tags/list"
          ? new Response(c.body, {
            status: c.status,
            headers: { "content-type": "application/json" },
          })
          : undefined
      );
      const registries = client();
      try {
        const err = await registries.registry(reg.host).repository("app").tags().then(
          () => assert.fail("listing tags succeeded"),
          (e) => e,
        );
        assert.ok(err instanceof RegistryError, String(err));
        assert.ok(err instanceof FerryError);
        assert.equal(err.status, c.status);
        assert.equal(err.code, c.code);
        assert.deepEqual(err.errors, c.errors);
        const what = err.message.slice(0, err.message.indexOf(": "));
        assert.equal(err.message, c.message(what));
        assert.match(what, new RegExp(`${reg.host.replace(/\./g, "\\.")}/app`));
      } finally {
        await registries.close();
      }
    });
  }
});

Deno.test("rejected credentials: a RegistryError with status 401 and the registry's error list; the message is unchanged", async () => {
  await using reg = startHostileRegistry((req) => {
    if (req.url.pathname === "/v2/") return undefined;
    return new Response(
      JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "bad password" }] }),
      {
        status: 401,
        headers: { "www-authenticate": 'Basic realm="test"', "content-type": "application/json" },
      },
    );
  });
  const registries = new RegistryClient({
    auth: new Authenticator({
      credentials: () => Promise.resolve({ kind: "basic", username: "u", password: "wrong" }),
    }),
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
  });
  try {
    const err = await registries.registry(reg.host).repository("app").tags().then(
      () => assert.fail("listing tags succeeded"),
      (e) => e,
    );
    assert.ok(err instanceof RegistryError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.code, "unauthorized");
    assert.deepEqual(err.errors, [{ code: "UNAUTHORIZED", message: "bad password" }]);
    assert.match(
      err.message,
      new RegExp(
        `^${reg.host.replace(/\./g, "\\.")}: credentials were rejected \\(GET http://${
          reg.host.replace(/\./g, "\\.")
        }/v2/app/tags/list`,
      ),
    );
    // The first request was challenged, the second (with the password) refused.
    assert.equal(reg.requests.filter((r) => r.url.pathname === "/v2/app/tags/list").length, 2);
  } finally {
    await registries.close();
  }
});
