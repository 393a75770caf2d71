/**
 * Registry authentication after a `401`: Basic, Bearer tokens from the registry's token server
 * (anonymous, with a user name and password, or with an OAuth2 refresh token), and registry
 * tokens. Tokens are cached per registry and scope set until shortly before they expire.
 *
 * The HTTP client drives it: send {@link Authenticator.header} proactively; on a 401 call
 * {@link Authenticator.challenge} with the `WWW-Authenticate` header and retry once; if the retry
 * fails too, throw {@link Authenticator.unauthorizedError}.
 *
 * @module
 */
import { FerryError, printable } from "../errors.ts";
import { readAll, readBody } from "../streams.ts";
import { type Challenge, parseChallenges } from "./challenge.ts";
import { type Credential, encodeBasic } from "./credentials.ts";

/** What the HTTP layer tells authentication about the registry that challenged. */
export interface ChallengeContext {
  /**
   * Throws when credentials may not go to `url` (a token realm): a scheme other than http(s), or
   * plain HTTP when the registry uses TLS.
   */
  checkUrl(url: URL, what: string): void;
}

/** Actions of a repository scope. */
export type ScopeAction = "pull" | "push" | "delete" | "*";

/** Options for {@link Authenticator}. */
export interface AuthenticatorOptions {
  /** Credentials for a registry (usually `CredentialStore.lookup`). */
  credentials: (registry: string) => Promise<Credential | undefined>;
  /** The fetch to reach token servers with (the HTTP client passes its proxy- and CA-aware one). */
  fetch?: typeof fetch;
  /** Clock in milliseconds, for tests. */
  now?: () => number;
  /** OAuth2 `client_id` sent with refresh-token grants. */
  clientId?: string;
  /** Receives debug notes. Never given secrets. */
  log?: (message: string) => void;
  /**
   * Longest one token request may take, redirects and the whole answer included (default
   * {@link TOKEN_REQUEST_TIMEOUT_MS}).
   */
  timeoutMs?: number;
}

/** Largest token response read (tokens are a few KiB; this bounds a misbehaving server). */
export const TOKEN_RESPONSE_LIMIT = 1 << 20;
/** Token lifetime assumed when the server gives none, and the least one believed. */
export const MIN_TOKEN_LIFETIME_S = 60;
/**
 * Default {@link AuthenticatorOptions.timeoutMs}: a token server that stops answering (before its
 * headers or in the middle of its body) fails the request after this long instead of holding it.
 */
export const TOKEN_REQUEST_TIMEOUT_MS = 60_000;
/** Redirects a token server may send (same origin only). */
export const MAX_TOKEN_REDIRECTS = 5;
/**
 * Scopes one token request carries at most: the one a request needs and, beside it, repositories
 * of the same registry that are about to be read ({@link Authenticator.expect}), so that a save of
 * many repositories behind a token server asks it once, not once per repository.
 */
export const MAX_SCOPES_PER_TOKEN_REQUEST = 16;
/** Scopes expected per registry that are remembered (the oldest is dropped first). */
export const MAX_EXPECTED_SCOPES = 1024;
/** How long before expiry a token is no longer handed out. */
const REFRESH_MARGIN_MS = 10_000;
const ERROR_BODY_LIMIT = 64 * 1024;

/** `repository:library/nginx:pull,push`. */
export function repositoryScope(repository: string, actions: ScopeAction[]): string {
  return `repository:${repository}:${[...new Set(actions)].join(",")}`;
}

/** Resource (`repository:library/nginx`) → granted or wanted actions. */
type ScopeSet = Map<string, Set<string>>;

interface CachedToken {
  scopes: ScopeSet;
  header: string;
  /** When the token stops being handed out (a little before it expires). */
  refreshAt: number;
  /** Asked for with expected scopes beside the challenger's (believed to cover them). */
  batch?: boolean;
}

/** A header and the scopes it is believed to serve (undefined: every scope). */
interface Granted {
  header: string;
  scopes?: ScopeSet;
  batch?: boolean;
}

/** A token request under way, which others whose scopes it asks for wait for. */
interface Flight {
  realm: string;
  scopes: ScopeSet;
  done: Promise<Granted>;
}

type CredentialKind = Credential["kind"] | "none";

/** Obtains and caches `Authorization` headers per registry and scope set. */
export class Authenticator {
  #credentials: (registry: string) => Promise<Credential | undefined>;
  #fetch: typeof fetch;
  #now: () => number;
  #clientId: string;
  #log?: (message: string) => void;
  #timeoutMs: number;
  #tokens = new Map<string, CachedToken[]>();
  /** Headers valid for every scope: Basic, and registry tokens. */
  #static = new Map<string, string>();
  /** What the last challenge for a registry authenticated with, for error messages. */
  #used = new Map<string, CredentialKind>();
  /** Token requests under way, per registry. */
  #flights = new Map<string, Flight[]>();
  /** Scopes (per registry) requests are about to need: asked for with the next token. */
  #expected = new Map<string, Set<string>>();
  /**
   * Registries where a token asked for several repositories turned out not to serve one of them
   * (a token server that grants one scope per token): each scope is asked for alone from then on.
   */
  #unbatched = new Set<string>();

  constructor(options: AuthenticatorOptions) {
    this.#credentials = options.credentials;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#clientId = options.clientId ?? "ferry";
    this.#log = options.log;
    this.#timeoutMs = options.timeoutMs ?? TOKEN_REQUEST_TIMEOUT_MS;
  }

  /**
   * Tells that requests for `scopes` of `registry` are to come (a repository about to be read):
   * the next token request for that registry asks for them too, within
   * {@link MAX_SCOPES_PER_TOKEN_REQUEST}. Only the realm the registry's own challenge names is
   * asked, with the credentials for that registry, as for any token.
   */
  expect(registry: string, scopes: string[]): void {
    let set = this.#expected.get(registry);
    if (!set) this.#expected.set(registry, set = new Set());
    for (const scope of scopes) {
      set.delete(scope);
      set.add(scope);
      if (set.size > MAX_EXPECTED_SCOPES) set.delete(set.values().next().value!);
    }
  }

  /** `Authorization` value to send proactively for (registry, scopes), if one is cached and valid. */
  header(registry: string, scopes: string[]): string | undefined {
    const want = parseScopes(scopes);
    const now = this.#now();
    const tokens = this.#tokens.get(registry);
    if (tokens) {
      const live = tokens.filter((t) => now < t.refreshAt);
      if (live.length !== tokens.length) this.#tokens.set(registry, live);
      const hit = live.find((t) => covers(t.scopes, want));
      if (hit) return hit.header;
    }
    return this.#static.get(registry);
  }

  /**
   * Answers a 401: parses `WWW-Authenticate`, obtains a Basic or Bearer header for `scopes` (plus
   * any scope the challenge names), caches and returns it. Concurrent calls for the same
   * registry and scopes share one token request.
   *
   * @throws {FerryError} `unauthorized` when credentials are needed but missing or rejected,
   *   `denied` when the token server refuses them access, `unsupported` for unknown schemes,
   *   `network`/`registry` (retryable) when the token server cannot be reached or fails.
   */
  challenge(
    registry: string,
    wwwAuthenticate: string,
    scopes: string[],
    context?: ChallengeContext,
  ): Promise<string> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    if (bearer) {
      const own = parseScopes([...scopes, ...splitScopeParam(bearer.params.scope)]);
      const realm = bearer.params.realm ?? "";
      // A request under way that asks for these scopes serves this one too.
      const joined = this.#flights.get(registry)?.find((f) =>
        f.realm === realm && covers(f.scopes, own)
      );
      if (joined) {
        return joined.done.then(
          (granted) =>
            !granted.scopes || covers(granted.scopes, own)
              ? granted.header
              : this.#alone_(registry, bearer, own, context),
          (err) => {
            // A batch refused may be refused for another repository's sake: ask alone.
            if (!covers(own, joined.scopes) && isScopeRefusal(err)) {
              return this.#alone_(registry, bearer, own, context);
            }
            throw err;
          },
        );
      }
      return this.#fly(registry, bearer, own, this.#batch(registry, realm, own), context)
        .then((granted) => granted.header);
    }
    if (basic) return this.#basic(registry);
    const schemes = printable(challenges.map((c) => c.scheme).join(", ") || "none");
    return Promise.reject(
      new FerryError(
        "unsupported",
        `${registry}: unsupported authentication scheme (WWW-Authenticate offers: ${schemes})`,
      ),
    );
  }

  /**
   * Forgets cached headers for (registry, scopes), e.g. after a 401 or `insufficient_scope`. A
   * token asked for with expected scopes beside its own was not what the registry wanted for
   * these: they are asked for alone from now on.
   */
  invalidate(registry: string, scopes: string[]): void {
    const want = parseScopes(scopes);
    const tokens = this.#tokens.get(registry);
    if (tokens) {
      if (tokens.some((t) => t.batch && covers(t.scopes, want))) this.#unbatched.add(registry);
      this.#tokens.set(registry, tokens.filter((t) => !covers(t.scopes, want)));
    }
    this.#static.delete(registry);
  }

  /** `own` and, beside it, expected scopes no live token or request under way serves. */
  #batch(registry: string, realm: string, own: ScopeSet): ScopeSet {
    const wanted: ScopeSet = new Map([...own].map(([r, a]) => [r, new Set(a)]));
    if (this.#unbatched.has(registry)) return wanted;
    const now = this.#now();
    const live = (this.#tokens.get(registry) ?? []).filter((t) => now < t.refreshAt);
    const flying = (this.#flights.get(registry) ?? []).filter((f) => f.realm === realm);
    let count = formatScopes(wanted).length;
    for (const scope of this.#expected.get(registry) ?? []) {
      if (count >= MAX_SCOPES_PER_TOKEN_REQUEST) break;
      const one = parseScopes([scope]);
      const [resource] = one.keys();
      if (resource.startsWith(OPAQUE) || wanted.has(resource)) continue;
      if (live.some((t) => covers(t.scopes, one)) || flying.some((f) => covers(f.scopes, one))) {
        continue;
      }
      wanted.set(resource, one.get(resource)!);
      count++;
    }
    return wanted;
  }

  /** Asks for `wanted` (`own` and maybe more), visible to others as under way until done. */
  #fly(
    registry: string,
    challenge: Challenge,
    own: ScopeSet,
    wanted: ScopeSet,
    context?: ChallengeContext,
  ): Promise<Granted> {
    const realm = challenge.params.realm ?? "";
    const batch = !covers(own, wanted);
    const done: Promise<Granted> = this.#bearer(registry, challenge, wanted, context, batch).then<
      Granted,
      Granted
    >(
      (granted) => {
        if (!batch || !granted.scopes || covers(granted.scopes, own)) return granted;
        // The server granted less than asked, and not what this request needs: ask alone.
        return this.#alone_(registry, challenge, own, context).then((header) => ({
          header,
          scopes: own,
        }));
      },
      (err) => {
        if (batch && isScopeRefusal(err)) {
          return this.#alone_(registry, challenge, own, context).then((header) => ({
            header,
            scopes: own,
          }));
        }
        throw err;
      },
    );
    const flight: Flight = { realm, scopes: wanted, done };
    const flights = this.#flights.get(registry) ?? [];
    flights.push(flight);
    this.#flights.set(registry, flights);
    const land = () => {
      const left = (this.#flights.get(registry) ?? []).filter((f) => f !== flight);
      if (left.length) this.#flights.set(registry, left);
      else this.#flights.delete(registry);
    };
    done.then(land, land);
    return done;
  }

  /** A token for `own` alone; the registry's scopes are asked for one by one from now on. */
  #alone_(
    registry: string,
    challenge: Challenge,
    own: ScopeSet,
    context?: ChallengeContext,
  ): Promise<string> {
    this.#unbatched.add(registry);
    return this.#fly(registry, challenge, own, own, context).then((granted) => granted.header);
  }

  /**
   * The error for a request still refused after {@link challenge}: it says whether credentials
   * were missing or rejected, and how to log in.
   */
  unauthorizedError(registry: string, detail?: string): FerryError {
    return unauthorized(registry, this.#used.get(registry) ?? "none", detail);
  }

  async #basic(registry: string): Promise<string> {
    const credential = await this.#credentials(registry);
    this.#used.set(registry, credential?.kind ?? "none");
    if (credential?.kind !== "basic") {
      throw unauthorized(
        registry,
        credential?.kind ?? "none",
        credential ? "the registry asks for a user name and password, not a token" : undefined,
      );
    }
    const header = `Basic ${encodeBasic(credential.username, credential.password)}`;
    this.#static.set(registry, header);
    return header;
  }

  async #bearer(
    registry: string,
    challenge: Challenge,
    scopes: ScopeSet,
    context?: ChallengeContext,
    batch = false,
  ): Promise<Granted> {
    const credential = await this.#credentials(registry);
    const kind = credential?.kind ?? "none";
    this.#used.set(registry, kind);
    if (credential?.kind === "registry_token") {
      const header = `Bearer ${
        checkToken(credential.token, registry, "the stored registry token")
      }`;
      this.#static.set(registry, header);
      return { header };
    }
    const realmText = challenge.params.realm;
    if (!realmText) {
      throw new FerryError("registry", `${registry}: Bearer challenge without a realm`);
    }
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new FerryError(
        "registry",
        `${registry}: Bearer realm ${printable(realmText)} is not a URL`,
      );
    }
    if (realm.protocol !== "https:" && realm.protocol !== "http:") {
      throw new FerryError(
        "registry",
        `${registry}: Bearer realm ${printable(realmText)} is not http(s)`,
      );
    }
    // Checked before any credential is looked at: an HTTPS registry naming a plain-HTTP realm
    // would have the password sent in clear.
    context?.checkUrl(realm, "its token realm");
    const service = challenge.params.service;
    const scopeList = formatScopes(scopes);
    const secrets = credential
      ? [credential.kind === "basic" ? credential.password : credential.token]
      : [];

    // One time bound for the whole exchange: the request, its redirects and the answer's body.
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let request: Request;
    if (credential?.kind === "identity_token") {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: credential.token,
        client_id: this.#clientId,
      });
      if (service) form.set("service", service);
      if (scopeList.length) form.set("scope", scopeList.join(" "));
      request = new Request(realm, { method: "POST", body: form, signal });
    } else {
      const url = new URL(realm);
      if (service) url.searchParams.append("service", service);
      for (const scope of scopeList) url.searchParams.append("scope", scope);
      const headers = new Headers();
      if (credential?.kind === "basic") {
        headers.set(
          "Authorization",
          `Basic ${encodeBasic(credential.username, credential.password)}`,
        );
      }
      request = new Request(url, { method: "GET", headers, signal });
    }
    request.headers.set("Accept", "application/json");

    const where = `${registry}: token server ${realm.origin}${realm.pathname}`;
    let response: Response;
    try {
      response = await this.#send(request, where, context);
    } catch (err) {
      if (err instanceof FerryError) throw err;
      throw new FerryError("network", `${where}: ${scrub(errMsg(err), secrets)}`, {
        cause: err,
        retryable: true,
      });
    }
    if (!response.ok) {
      const { reason, code } = await errorDetail(response, secrets);
      const status = `HTTP ${response.status}${reason ? `: ${reason}` : ""}`;
      // OAuth2 answers an expired or revoked refresh token with 400 invalid_grant.
      const invalidGrant = kind === "identity_token" && response.status === 400 &&
        code === "invalid_grant";
      if (response.status === 401 || invalidGrant) throw unauthorized(registry, kind, status);
      if (response.status === 403) {
        throw new FerryError(
          "denied",
          `${where} refused access to ${scopeList.join(" ")} (${status})`,
        );
      }
      throw new FerryError("registry", `${where} failed (${status})`, {
        retryable: response.status >= 500 || response.status === 429,
      });
    }
    const body = await readBody(response, TOKEN_RESPONSE_LIMIT, `${where} response`);
    let data: unknown;
    try {
      data = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new FerryError("registry", `${where} answered with something that is not JSON`);
    }
    const fields = (typeof data === "object" && data !== null ? data : {}) as Record<
      string,
      unknown
    >;
    const raw = nonEmptyString(fields.token) ?? nonEmptyString(fields.access_token);
    if (raw === undefined) throw new FerryError("registry", `${where} answered without a token`);
    const token = checkToken(raw, registry, where);
    const expiresIn = typeof fields.expires_in === "number" && Number.isFinite(fields.expires_in)
      ? Math.max(fields.expires_in, MIN_TOKEN_LIFETIME_S)
      : MIN_TOKEN_LIFETIME_S;
    const lifeMs = expiresIn * 1000;
    const header = `Bearer ${token}`;
    // What the token serves: the server's word when it gives it (OAuth2's `scope`), else what
    // was asked for; a 401 with it later says otherwise (see `invalidate`).
    const said = nonEmptyString(fields.scope);
    const granted = said ? parseScopes(splitScopeParam(said)) : scopes;
    const entry: CachedToken = {
      scopes: granted,
      header,
      refreshAt: this.#now() + lifeMs - Math.min(REFRESH_MARGIN_MS, lifeMs / 2),
      ...(batch ? { batch } : {}),
    };
    const tokens = this.#tokens.get(registry) ?? [];
    // A new token replaces any it covers.
    this.#tokens.set(registry, [...tokens.filter((t) => !covers(granted, t.scopes)), entry]);
    this.#log?.(
      `${registry}: got a token for ${scopeList.join(" ") || "no scope"}, ${expiresIn} s`,
    );
    return { header, scopes: granted, batch };
  }

  /**
   * Sends a token request, following redirects by hand: only within the realm's origin (the
   * request carries a password or a refresh token) and only to URLs the registry's policy allows.
   */
  async #send(request: Request, where: string, context?: ChallengeContext): Promise<Response> {
    const origin = new URL(request.url).origin;
    let current = request;
    for (let hop = 0;; hop++) {
      // Sent as a clone: a 307/308 resends the same body.
      const response = await this.#fetch(new Request(current.clone(), { redirect: "manual" }));
      if (![301, 302, 303, 307, 308].includes(response.status)) return response;
      const location = response.headers.get("location");
      await response.body?.cancel();
      if (!location) return response;
      if (hop >= MAX_TOKEN_REDIRECTS) {
        throw new FerryError("registry", `${where}: too many redirects`);
      }
      let next: URL;
      try {
        next = new URL(location, current.url);
      } catch {
        throw new FerryError("registry", `${where}: redirect to an invalid URL`);
      }
      if (next.origin !== origin) {
        throw new FerryError(
          "registry",
          `${where} redirects to ${next.origin}; credentials stay with the token server`,
        );
      }
      context?.checkUrl(next, "its token server's redirect");
      // A 303 (or a 301/302 of the POST) turns into a GET without the form.
      const get = response.status === 303 ||
        ((response.status === 301 || response.status === 302) && current.method === "POST");
      current = get
        ? new Request(next, { method: "GET", headers: current.headers, signal: current.signal })
        : new Request(next, current);
    }
  }
}

/** A token server's refusal that may concern one scope of several asked for. */
function isScopeRefusal(err: unknown): boolean {
  return err instanceof FerryError && (err.code === "denied" || err.code === "unauthorized");
}

function unauthorized(registry: string, kind: CredentialKind, detail?: string): FerryError {
  const how = `log in with "docker login ${registry}" or "podman login ${registry}", ` +
    "or pass --authfile";
  const what = kind === "none"
    ? "authentication required and no credentials found"
    : "credentials were rejected";
  return new FerryError(
    "unauthorized",
    `${registry}: ${what}${detail ? ` (${detail})` : ""}; ${how}`,
  );
}

/** Space-separated scopes of a challenge's `scope` parameter. */
function splitScopeParam(scope: string | undefined): string[] {
  return scope ? scope.split(" ").filter((s) => s !== "") : [];
}

/** Marks a scope that is not `type:name:actions`: kept whole, matched whole. */
const OPAQUE = "\0";

/** Parses `type:name:actions` scopes, merging actions per resource. */
function parseScopes(scopes: string[]): ScopeSet {
  const out: ScopeSet = new Map();
  for (const scope of scopes) {
    const first = scope.indexOf(":");
    const last = scope.lastIndexOf(":");
    const opaque = first === -1 || first === last;
    const resource = opaque ? OPAQUE + scope : scope.slice(0, last);
    let set = out.get(resource);
    if (!set) out.set(resource, set = new Set());
    if (!opaque) { for (const a of scope.slice(last + 1).split(",")) if (a) set.add(a); }
  }
  return out;
}

function formatScopes(scopes: ScopeSet): string[] {
  return [...scopes].map(([resource, actions]) =>
    resource.startsWith(OPAQUE) ? resource.slice(1) : `${resource}:${[...actions].join(",")}`
  );
}

/** True when a token granted `have` serves a request needing `want`. */
function covers(have: ScopeSet, want: ScopeSet): boolean {
  for (const [resource, actions] of want) {
    const granted = have.get(resource);
    if (!granted) return false;
    if (granted.has("*")) continue;
    for (const a of actions) if (!granted.has(a)) return false;
  }
  return true;
}

function checkToken(token: string, registry: string, where: string): string {
  // A token goes into a header: anything outside visible ASCII would break or smuggle headers.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new FerryError("registry", `${registry}: ${where} gave a malformed token`);
  }
  return token;
}

/** A short, secret-free reason (and OAuth2 error code) from a token server's error response. */
async function errorDetail(
  response: Response,
  secrets: string[],
): Promise<{ reason: string; code?: string }> {
  if (!response.body) return { reason: "" };
  let data: unknown;
  try {
    const bytes = await readAll(response.body, ERROR_BODY_LIMIT, "error body");
    data = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { reason: "" }; // HTML error pages and the like say nothing useful in one line
  }
  if (typeof data !== "object" || data === null) return { reason: "" };
  const d = data as Record<string, unknown>;
  const code = typeof d.error === "string" ? d.error : undefined;
  const first = Array.isArray(d.errors) && typeof d.errors[0] === "object" && d.errors[0]
    ? (d.errors[0] as Record<string, unknown>).message
    : undefined;
  const reason = [d.details, d.error_description, d.message, first, d.error].find((v) =>
    typeof v === "string" && v.trim() !== ""
  ) as string | undefined;
  if (!reason) return { reason: "", code };
  return { reason: printable(scrub(reason.trim().split("\n", 1)[0], secrets)), code };
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join("***");
  return out;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
