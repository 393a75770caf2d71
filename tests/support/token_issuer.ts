/**
 * A small token server for distribution's `auth: token` (the Docker token protocol), so tests can
 * run a registry the way Harbor or a cloud registry does: a 401 challenge pointing at a realm, a
 * Basic-authenticated `GET <realm>?service=…&scope=…`, and an RS256 JWT that grants the
 * intersection of the requested scopes with what the account may do.
 *
 * The signing key is made per issuer with openssl (RSA 2048 plus a self-signed certificate for the
 * registry's `rootcertbundle`); the JWT header's `kid` is the libtrust key ID of that key.
 *
 * @module
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from "node:crypto";
import { requirePeer } from "./peers.ts";
import { run } from "./process.ts";
import { type TempDir, tempDir } from "./tmp.ts";

/** The registry's `auth.token` settings for an issuer. */
export interface RegistryTokenAuth {
  /** Token endpoint URL, sent to clients in the `Www-Authenticate: Bearer realm=…` challenge. */
  realm: string;
  /** Must equal the JWT `aud`. */
  service: string;
  /** Must equal the JWT `iss`. */
  issuer: string;
  /** PEM certificate whose public key signs the tokens. */
  rootcertbundle: string;
}

/** One resource's granted (or requested) actions, as in the JWT `access` claim. */
export interface Access {
  /** `repository` or `registry`. */
  type: string;
  /** Repository name (`library/app`) or `catalog`. */
  name: string;
  /** `pull`, `push`, `delete`, `*`. */
  actions: string[];
}

/**
 * What an account may do on a resource. `account` is undefined for anonymous requests. Return
 * `["*"]` to allow every requested action.
 */
export type Acl = (
  account: string | undefined,
  resource: { type: string; name: string },
) => readonly string[];

/** Options for {@link startTokenIssuer}. */
export interface TokenIssuerOptions {
  /** Accounts for Basic auth at the token endpoint: user name → password. */
  users?: Record<string, string>;
  /**
   * Whether requests without credentials get a token (for the anonymous account). Defaults to true
   * when `users` is empty or omitted, false otherwise.
   */
  anonymous?: boolean;
  /** Permissions; defaults to everything for everyone who gets a token. */
  acl?: Acl;
  /** JWT audience and registry `service` (default `ferry-test-registry`). */
  service?: string;
  /** JWT issuer (default `ferry-test-issuer`). */
  issuer?: string;
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
  /**
   * Reads only the first `scope` parameter of a request, as token servers that know one scope
   * per token do: a token asked for several repositories grants the first alone.
   */
  firstScopeOnly?: boolean;
}

/** A request the token endpoint received, for assertions. */
export interface TokenRequest {
  /** `GET` or `POST` (OAuth2 password grant). */
  method: string;
  /** Authenticated account, undefined when anonymous or refused. */
  account?: string;
  /** The `service` parameter. */
  service?: string;
  /** Every scope asked for, as sent (`repository:library/app:pull,push`). */
  scopes: string[];
  /** What the token granted (empty when refused). */
  granted: Access[];
  /** HTTP status answered. */
  status: number;
}

/** Options for {@link TokenIssuer.mint}. */
export interface MintOptions {
  /** `sub` claim (default empty: anonymous). */
  subject?: string;
  /** `iss` claim (default: the issuer's); set another to get a token the registry must refuse. */
  issuer?: string;
  /** `aud` claim (default: the service). */
  audience?: string;
  /** Lifetime in seconds (default: the issuer's); negative for an expired token. */
  expiresIn?: number;
}

/** A running token server. Dispose it (or call `stop()`) to shut it down and remove its key. */
export interface TokenIssuer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `<url>/token`, the realm. */
  readonly realm: string;
  /** JWT audience. */
  readonly service: string;
  /** JWT issuer. */
  readonly issuer: string;
  /** libtrust key ID of the signing key (the JWT `kid`). */
  readonly keyId: string;
  /** Settings for the registry's `auth.token` section (pass the issuer to `startRegistry`). */
  readonly registryAuth: RegistryTokenAuth;
  /** Every request so far, oldest first. */
  readonly requests: readonly TokenRequest[];
  /** Signs a token with the given access, for `--registry-token` style tests. */
  mint(access: Access[], options?: MintOptions): string;
  /** Shuts the server down and removes the key files. */
  stop(): Promise<void>;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * The libtrust key ID of a public key: SHA-256 of its DER SubjectPublicKeyInfo, first 30 bytes,
 * base32 without padding, in 4-character groups joined with `:`.
 */
export function libtrustKeyId(spkiDer: Uint8Array): string {
  const hash = createHash("sha256").update(spkiDer).digest().subarray(0, 30);
  return base32(hash).match(/.{4}/g)!.join(":");
}

function base64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Parses one scope (`repository:name:pull,push`, `registry:catalog:*`); undefined if malformed. */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, "");
  const name = scope.slice(first + 1, last);
  const actions = scope.slice(last + 1).split(",").filter((a) => a !== "");
  if (name === "" || actions.length === 0) return undefined;
  return { type, name, actions };
}

/** Requested actions that the ACL allows, merged per resource; resources with none are dropped. */
function grant(account: string | undefined, scopes: string[], acl: Acl): Access[] {
  const byResource = new Map<string, Access>();
  for (const scope of scopes) {
    const wanted = parseScope(scope);
    if (!wanted) continue;
    const allowed = acl(account, { type: wanted.type, name: wanted.name });
    const actions = allowed.includes("*")
      ? wanted.actions
      : wanted.actions.filter((a) => allowed.includes(a));
    if (actions.length === 0) continue;
    const key = `${wanted.type}\u0000${wanted.name}`;
    const entry = byResource.get(key) ?? { type: wanted.type, name: wanted.name, actions: [] };
    for (const a of actions) if (!entry.actions.includes(a)) entry.actions.push(a);
    byResource.set(key, entry);
  }
  return [...byResource.values()];
}

/** Makes an RSA key and a self-signed certificate for it in `dir`. */
async function makeKey(dir: TempDir): Promise<{ key: KeyObject; certPath: string }> {
  const keyPath = dir.join("key.pem");
  const certPath = dir.join("cert.pem");
  await run(requirePeer("openssl"), [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "2",
    "-subj",
    "/CN=ferry-test-token-issuer",
  ]);
  return { key: createPrivateKey(await Deno.readTextFile(keyPath)), certPath };
}

function basicCredentials(header: string | null): { user: string; password: string } | undefined {
  const match = header?.match(/^Basic\s+(\S+)$/i);
  if (!match) return undefined;
  let decoded: string;
  try {
    decoded = atob(match[1]);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function errorResponse(status: number, code: string, message: string, headers = {}): Response {
  return Response.json({ errors: [{ code, message }] }, { status, headers });
}

/** Starts a token server on a random 127.0.0.1 port. */
export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const users = options.users ?? {};
  const anonymous = options.anonymous ?? Object.keys(users).length === 0;
  const acl: Acl = options.acl ?? (() => ["*"]);
  const service = options.service ?? "ferry-test-registry";
  const issuer = options.issuer ?? "ferry-test-issuer";
  const lifetime = options.expiresIn ?? 300;
  const dir = await tempDir("ferry-token-");
  let key: KeyObject;
  let certPath: string;
  try {
    ({ key, certPath } = await makeKey(dir));
  } catch (err) {
    await dir.remove();
    throw err;
  }
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  const keyId = libtrustKeyId(new Uint8Array(spki));
  const requests: TokenRequest[] = [];

  function mint(access: Access[], mintOptions: MintOptions = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "RS256", kid: keyId };
    const claims = {
      iss: mintOptions.issuer ?? issuer,
      sub: mintOptions.subject ?? "",
      aud: mintOptions.audience ?? service,
      exp: now + (mintOptions.expiresIn ?? lifetime),
      nbf: now - 1,
      iat: now,
      jti: crypto.randomUUID(),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${
      base64url(JSON.stringify(claims))
    }`;
    const signature = sign("sha256", new TextEncoder().encode(signingInput), key);
    return `${signingInput}.${base64url(new Uint8Array(signature))}`;
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname !== "/token") return errorResponse(404, "NOT_FOUND", "no such endpoint");
    const params = new URLSearchParams(url.search);
    let credentials = basicCredentials(req.headers.get("authorization"));
    if (req.method === "POST") {
      // OAuth2 password grant, as some clients use: the form carries user, password and scopes.
      const form = new URLSearchParams(await req.text());
      for (const [k, v] of form) params.append(k, v);
      if (form.get("grant_type") === "password") {
        credentials = {
          user: form.get("username") ?? "",
          password: form.get("password") ?? "",
        };
      } else {
        return errorResponse(400, "UNSUPPORTED", "only grant_type=password is supported");
      }
    } else if (req.method !== "GET") {
      return errorResponse(405, "UNSUPPORTED", "method not allowed");
    }
    const scopes = (options.firstScopeOnly ? [params.get("scope") ?? ""] : params.getAll("scope"))
      .flatMap((s) => s.split(" ")).filter((s) => s !== "");
    const entry: TokenRequest = {
      method: req.method,
      service: params.get("service") ?? undefined,
      scopes,
      granted: [],
      status: 0,
    };
    requests.push(entry);
    const respond = (res: Response) => {
      entry.status = res.status;
      return res;
    };
    if (entry.service !== undefined && entry.service !== service) {
      return respond(errorResponse(400, "INVALID_SERVICE", `unknown service ${entry.service}`));
    }
    let account: string | undefined;
    if (credentials) {
      if (
        !Object.hasOwn(users, credentials.user) || users[credentials.user] !== credentials.password
      ) {
        return respond(
          errorResponse(401, "UNAUTHORIZED", "wrong user name or password", {
            "www-authenticate": 'Basic realm="ferry-test-token"',
          }),
        );
      }
      account = credentials.user;
    } else if (!anonymous) {
      return respond(
        errorResponse(401, "UNAUTHORIZED", "authentication required", {
          "www-authenticate": 'Basic realm="ferry-test-token"',
        }),
      );
    }
    entry.account = account;
    entry.granted = grant(account, scopes, acl);
    const token = mint(entry.granted, { subject: account ?? "" });
    return respond(Response.json({
      token,
      access_token: token,
      expires_in: lifetime,
      issued_at: new Date().toISOString(),
    }));
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  const url = `http://127.0.0.1:${server.addr.port}`;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await server.shutdown();
      await dir.remove();
    })();
  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    keyId,
    registryAuth: { realm: `${url}/token`, service, issuer, rootcertbundle: certPath },
    requests,
    mint,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
