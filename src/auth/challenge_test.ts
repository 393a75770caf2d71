import assert from "node:assert/strict";
import { type Challenge, parseChallenges } from "./challenge.ts";

const CASES: [string, Challenge[]][] = [
  ['Basic realm="Registry Realm"', [{ scheme: "basic", params: { realm: "Registry Realm" } }]],
  [
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
    [{
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/nginx:pull",
      },
    }],
  ],
  // Several challenges; a quoted value with a comma.
  [
    'Basic realm="x", Bearer realm="https://a/token",service="reg",scope="repository:a/b:pull,push"',
    [
      { scheme: "basic", params: { realm: "x" } },
      {
        scheme: "bearer",
        params: { realm: "https://a/token", service: "reg", scope: "repository:a/b:pull,push" },
      },
    ],
  ],
  // Scheme and parameter names are case-insensitive; values keep their case.
  [
    'BEARER Realm="https://A/Token", SERVICE=Reg',
    [{ scheme: "bearer", params: { realm: "https://A/Token", service: "Reg" } }],
  ],
  // Escaped quotes and backslashes inside a quoted value.
  [
    'Basic realm="say \\"hi\\", \\\\ ok"',
    [{ scheme: "basic", params: { realm: 'say "hi", \\ ok' } }],
  ],
  // Extra whitespace everywhere, empty list elements, bad whitespace around "=".
  [
    '  Bearer   realm = "r" ,  ,service="s"  , ,  Basic realm="b"  ',
    [
      { scheme: "bearer", params: { realm: "r", service: "s" } },
      { scheme: "basic", params: { realm: "b" } },
    ],
  ],
  // error="insufficient_scope" with several scopes.
  [
    'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/a:pull repository:o/b:pull",error="insufficient_scope"',
    [{
      scheme: "bearer",
      params: {
        realm: "https://ghcr.io/token",
        service: "ghcr.io",
        scope: "repository:o/a:pull repository:o/b:pull",
        error: "insufficient_scope",
      },
    }],
  ],
  // token68 forms, followed by a challenge with parameters.
  [
    "Negotiate abc123+/==, Basic realm=x",
    [
      { scheme: "negotiate", params: {}, token68: "abc123+/==" },
      { scheme: "basic", params: { realm: "x" } },
    ],
  ],
  ["NTLM", [{ scheme: "ntlm", params: {} }]],
  [
    "Basic, Bearer realm=r",
    [{ scheme: "basic", params: {} }, { scheme: "bearer", params: { realm: "r" } }],
  ],
  // Unquoted token values, and the first of a repeated parameter wins.
  [
    "Bearer realm=https://h/t,service=h,realm=other",
    [{ scheme: "bearer", params: { realm: "https://h/t", service: "h" } }],
  ],
  // An unterminated quoted string runs to the end.
  ['Basic realm="open', [{ scheme: "basic", params: { realm: "open" } }]],
  // Empty quoted value.
  ['Bearer realm="",service="s"', [{ scheme: "bearer", params: { realm: "", service: "s" } }]],
  ["", []],
  [" , ", []],
];

Deno.test("parseChallenges: table", () => {
  for (const [header, want] of CASES) {
    assert.deepEqual(parseChallenges(header), want, header);
  }
});

Deno.test("parseChallenges: never throws on junk", () => {
  const junk = [
    '"',
    "=",
    "==,==",
    'Basic ="x"',
    "Basic realm",
    "@@@ Bearer realm=r",
    "\\",
    "a=b=c",
  ];
  for (const header of junk) {
    const out = parseChallenges(header);
    assert.ok(Array.isArray(out), header);
  }
  const recovered = parseChallenges("@@@ Bearer realm=r");
  assert.deepEqual(recovered.at(-1), { scheme: "bearer", params: { realm: "r" } });
});
