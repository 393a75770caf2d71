/**
 * The HTTP layer of the registry client: one instance per registry host.
 *
 * It owns what every request needs and no request should repeat: picking https or http, attaching
 * and renewing credentials on 401, following redirects without leaking `Authorization` to other
 * origins (blob downloads are redirected to CDNs), retrying with back-off, and tracing without
 * secrets.
 *
 * @module
 */
import { FerryError, printable } from "../errors.ts";
import { readBody } from "../streams.ts";
import { RegistryError, registryErrorEntries, type RemoteErrorEntry } from "./errors.ts";
import { DEFAULT_RETRY, isRetryableStatus, retryDelay, type RetryPolicy, sleep } from "./retry.ts";

/** What the registry's HTTP layer tells authentication about the registry that challenged. */
export interface ChallengeContext {
  /**
   * Throws a {@link FerryError} when credentials may not be sent to `url` (a token realm the
   * registry named): a scheme other than http(s), or plain HTTP where the registry demands TLS.
   */
  checkUrl(url: URL, what: string): void;
}

/** What the HTTP layer needs from authentication (implemented by `Authenticator` in src/auth). */
export interface AuthProvider {
  /** A cached `Authorization` value for these scopes, if any. */
  header(registry: string, scopes: string[]): string | undefined;
  /** Answers a 401 challenge; returns the `Authorization` value to retry with. */
  challenge(
    registry: string,
    wwwAuthenticate: string,
    scopes: string[],
    context?: ChallengeContext,
  ): Promise<string>;
  /** Drops cached credentials for these scopes. */
  invalidate(registry: string, scopes: string[]): void;
  /** Tells that requests for these scopes are to come (asked for with the next token). */
  expect?(registry: string, scopes: string[]): void;
  /** The error for a registry that still refuses after the challenge was answered. */
  unauthorizedError?(registry: string, detail?: string): Error;
}

/** Options shared by every registry a client talks to. */
export interface HttpOptions {
  /** Verify TLS and refuse plain HTTP (except on loopback). Default true. */
  tlsVerify?: boolean;
  /** Extra CA certificates (PEM) trusted for every registry. */
  caCerts?: string[];
  /**
   * The connection pool to send through (one shared by every registry of a client, made from
   * `caCerts`). Its owner closes it; {@link RegistryHttp.close} does not.
   */
  httpClient?: Deno.HttpClient;
  /** Retry tuning. */
  retry?: RetryPolicy;
  /** Wait at most this long for response headers. Default 60 s. */
  timeoutMs?: number;
  /** `User-Agent` sent with every request. */
  userAgent?: string;
  /** Receives one line per request/response (secrets removed) under `--debug`. */
  trace?: (line: string) => void;
  /** Receives registry `Warning` headers and retry notices. */
  warn?: (line: string) => void;
  /** The fetch to use (tests); defaults to the global one. */
  fetch?: typeof fetch;
}

/** One request. `body` is a factory so a retried request can resend it. */
export interface HttpRequest {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** A path starting with `/v2/`, or an absolute URL (upload locations). */
  url: string;
  headers?: HeadersInit;
  body?: () => BodyInit | null | Promise<BodyInit | null>;
  /** Token scopes this request needs (`repository:name:pull`). */
  scopes: string[];
  signal?: AbortSignal;
  /** Whether failed attempts may be repeated (false for requests whose body cannot be resent). */
  retry?: boolean;
  /**
   * What {@link HttpOptions.timeoutMs} bounds. `exchange` (the default, for small requests): the
   * whole exchange, the answer's body included, so that a registry trickling a manifest is given
   * up. `answer` (a blob's bytes, either way): only the wait for the answer once the request's
   * body is sent, and each pause while it is sent; a blob's body takes as long as it takes, its
   * reader bounding the pauses (`resumableBody`'s idle watchdog).
   */
  deadline?: "exchange" | "answer";
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?$/;

/** True for hosts that may speak plain HTTP without `--tls-verify=false`. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/** Redirects followed for one request. */
export const MAX_REDIRECTS = 10;

/** Characters of a URL {@link displayUrl} shows. */
const MAX_DISPLAY_URL = 400;

/**
 * A URL with its query removed, for messages (upload URLs carry opaque state), cut at
 * {@link MAX_DISPLAY_URL} characters: a registry names upload locations and redirects as long as
 * it likes.
 */
export function displayUrl(url: string | URL): string {
  // A URL is not parsed again: every request names its URL in a message or trace line.
  const u = typeof url === "string" ? new URL(url) : url;
  return printable(`${u.origin}${u.pathname}`, MAX_DISPLAY_URL);
}

/** HTTP access to one registry host. */
export class RegistryHttp {
  /** Registry name as written in references (`docker.io`). */
  readonly registry: string;
  /** Host the API lives on (`registry-1.docker.io`). */
  readonly host: string;
  #auth: AuthProvider;
  #options: HttpOptions;
  #retry: RetryPolicy;
  #fetch: typeof fetch;
  #client?: Deno.HttpClient;
  #ownClient = false;
  #closed = false;
  #base?: Promise<string>;
  /** The registry's origin once the probe has picked a scheme. */
  #origin?: string;
  /**
   * The Bearer challenge the probe's `GET /v2/` answered with, if any: a request with no cached
   * token asks the realm for its scopes before it is sent, as Docker's client does, instead of
   * first collecting a 401 (a round trip per repository).
   */
  #pingChallenge?: string;
  /** {@link base} and its parsed origin. */
  #baseOrigin?: [string, string];

  constructor(registry: string, host: string, auth: AuthProvider, options: HttpOptions = {}) {
    this.registry = registry;
    this.host = host;
    this.#auth = auth;
    this.#options = options;
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.#fetch = options.fetch ?? fetch;
    if (options.httpClient) this.#client = options.httpClient;
    else if (options.caCerts?.length) {
      this.#client = Deno.createHttpClient({ caCerts: options.caCerts });
      this.#ownClient = true;
    }
  }

  /**
   * Refuses URLs the registry names (redirects, upload locations, pagination links, token realms)
   * that ferry must not reach: schemes other than http(s) (a `file:` redirect would read a local
   * file), and plain HTTP unless the registry itself was allowed plain HTTP — by
   * `--tls-verify=false`, or by being a loopback registry reached over HTTP whose URL stays on
   * loopback. An HTTPS registry never downgrades on its own say.
   */
  checkUrl(url: URL, what: string): void {
    if (url.protocol === "https:") return;
    if (url.protocol !== "http:") {
      throw new FerryError(
        "registry",
        `${this.registry}: ${what} names a ${url.protocol} URL; only http(s) URLs are followed`,
      );
    }
    if (this.#options.tlsVerify === false) return;
    if (this.#origin?.startsWith("http:") && isLoopback(url.host)) return;
    throw new FerryError(
      "registry",
      `${this.registry}: ${what} names plain-HTTP ${displayUrl(url)}; refused without` +
        " --tls-verify=false",
    );
  }

  /** `https://host` or `http://host`, decided once by pinging `/v2/`. */
  base(): Promise<string> {
    this.#base ??= this.#probe().then((origin) => this.#origin = origin, (err) => {
      this.#base = undefined; // let a later call try again
      throw err;
    });
    return this.#base;
  }

  async #probe(): Promise<string> {
    const tryScheme = async (scheme: string) => {
      const res = await this.#raw("GET", `${scheme}://${this.host}/v2/`, new Headers(), null);
      await res.body?.cancel();
      this.#trace(`ping ${scheme}://${this.host}/v2/ -> ${res.status}`);
      const challenge = res.status === 401 ? res.headers.get("www-authenticate") : null;
      return { origin: `${scheme}://${this.host}`, status: res.status, challenge };
    };
    const unreachable = (err: unknown) =>
      new FerryError("network", `cannot reach registry ${this.host}: ${shortError(err)}`, {
        cause: err,
        retryable: true,
      });
    let found: { origin: string; challenge: string | null };
    if (isLoopback(this.host) && this.#options.tlsVerify !== false) {
      // A registry on this machine is asked over plain HTTP first: one port speaks one protocol,
      // so a registry's answer there settles it, and an HTTPS attempt would cost ~30 ms of the one
      // thread setting up TLS (bench/RESULTS.md) for the common local docker-registry. An HTTPS
      // server answers plain HTTP with 400 (or drops it): then HTTPS.
      let plain: Awaited<ReturnType<typeof tryScheme>> | undefined;
      try {
        plain = await tryScheme("http");
      } catch (err) {
        if (err instanceof Deno.errors.NotCapable) throw err;
      }
      if (plain && plain.status !== 400) {
        found = plain;
      } else {
        try {
          found = await tryScheme("https");
        } catch (err) {
          if (err instanceof Deno.errors.NotCapable) throw err;
          if (!plain) throw unreachable(err);
          found = plain;
        }
      }
    } else {
      // Where plain HTTP is allowed (--tls-verify=false), both schemes are asked at once (HTTPS
      // still wins when it answers): a plain-HTTP registry then costs one round trip, not a
      // failed TLS handshake first.
      const https = tryScheme("https");
      const http = this.#options.tlsVerify === false ? tryScheme("http") : undefined;
      http?.catch(() => {}); // judged only if HTTPS fails
      try {
        found = await https;
      } catch (err) {
        // A missing --allow-net is not a registry problem: let the CLI name the flag.
        if (err instanceof Deno.errors.NotCapable) throw err;
        if (!http) {
          throw new FerryError(
            "network",
            `cannot reach registry ${this.host} over HTTPS: ${shortError(err)}` +
              " (for a plain-HTTP registry use --tls-verify=false)",
            { cause: err, retryable: true },
          );
        }
        try {
          found = await http;
        } catch (err2) {
          throw unreachable(err2);
        }
      }
    }
    if (found.challenge && /^\s*bearer\b/i.test(found.challenge)) {
      this.#pingChallenge = found.challenge;
    }
    return found.origin;
  }

  /**
   * Tells authentication that requests for `scopes` are to come, so that the next token request
   * to this registry asks for them too (one token for several repositories).
   */
  expect(scopes: string[]): void {
    this.#auth.expect?.(this.registry, scopes);
  }

  /**
   * Sends a request: authenticates on 401 (once), retries transient failures, follows redirects.
   * Returns whatever final response arrives; callers judge its status (see {@link responseError}).
   */
  async send(req: HttpRequest): Promise<Response> {
    const base = await this.base();
    const origin = this.#originOf(base);
    const url = new URL(req.url.startsWith("/") ? base + req.url : req.url);
    this.checkUrl(url, `${req.method} ${displayUrl(url)}`);
    // Credentials belong to the registry's own origin: an upload Location or a URL on another
    // host gets none, and a challenge from anywhere else is not answered.
    const ownOrigin = url.origin === origin;
    let authorization = ownOrigin ? this.#auth.header(this.registry, req.scopes) : undefined;
    if (!authorization && ownOrigin && this.#pingChallenge && req.scopes.length > 0) {
      // The registry wants tokens: fetch this request's first instead of collecting a 401 for
      // it. Concurrent requests for the same scopes share one token request. Should it fail, the
      // request goes without, and its 401 is answered as usual.
      authorization = await this.#auth.challenge(this.registry, this.#pingChallenge, req.scopes, {
        checkUrl: (u, what) => this.checkUrl(u, what),
      }).catch((err) => {
        if (err instanceof Deno.errors.NotCapable) throw err;
        this.#trace(`token ahead of ${req.method} ${displayUrl(url)}: ${shortError(err)}`);
        return undefined;
      });
    }
    let challenged = false;
    let renewed = false;
    for (let attempt = 1;; attempt++) {
      const headers = new Headers(req.headers);
      if (this.#options.userAgent) headers.set("user-agent", this.#options.userAgent);
      if (authorization) headers.set("authorization", authorization);
      let res: Response;
      let at: URL;
      try {
        [res, at] = await this.#follow(req, url, headers);
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason;
        if (err instanceof FerryError && !err.retryable) throw err;
        if (req.retry === false || attempt > this.#retry.retries) {
          throw new FerryError(
            "network",
            `${req.method} ${displayUrl(url)}: ${shortError(err)}`,
            { cause: err, retryable: true },
          );
        }
        const wait = retryDelay(this.#retry, attempt);
        this.#trace(`${req.method} ${displayUrl(url)}: ${shortError(err)}; retry in ${wait} ms`);
        await sleep(wait, req.signal);
        continue;
      }
      if (res.status === 401 && (!ownOrigin || at.origin !== origin)) {
        await res.body?.cancel();
        throw new RegistryError(
          "unauthorized",
          `${this.registry}: ${displayUrl(at)} (reached from ${displayUrl(url)}) asks for ` +
            "credentials; they are sent to the registry only",
          { status: 401 },
        );
      }
      if (res.status === 401 && challenged && this.#auth.unauthorizedError) {
        const what = `${req.method} ${displayUrl(url)}`;
        const { errors } = await readErrorBody(res, what);
        const err = this.#auth.unauthorizedError(this.registry, what);
        if (!(err instanceof FerryError)) throw err;
        throw new RegistryError(err.code, err.message, {
          status: 401,
          errors,
          retryable: err.retryable,
        });
      }
      if (res.status === 401 && !challenged) {
        const www = res.headers.get("www-authenticate");
        await res.body?.cancel();
        if (!www) {
          throw new RegistryError(
            "unauthorized",
            `${this.registry}: 401 without a challenge for ${displayUrl(url)}`,
            { status: 401 },
          );
        }
        // Sent with a token another request of these scopes has since replaced (both were
        // refused, and that one has answered already): once, with its token, not a new one.
        const fresh = renewed ? undefined : this.#auth.header(this.registry, req.scopes);
        if (fresh !== undefined && fresh !== authorization) {
          renewed = true;
          authorization = fresh;
          attempt--;
          continue;
        }
        this.#auth.invalidate(this.registry, req.scopes);
        authorization = await this.#auth.challenge(this.registry, www, req.scopes, {
          checkUrl: (u, what) => this.checkUrl(u, what),
        });
        challenged = true;
        attempt--; // answering a challenge is not a failed attempt
        continue;
      }
      if (isRetryableStatus(res.status) && req.retry !== false && attempt <= this.#retry.retries) {
        const wait = retryDelay(this.#retry, attempt, res.headers.get("retry-after"));
        await res.body?.cancel();
        this.#trace(`${req.method} ${displayUrl(url)} -> ${res.status}; retry in ${wait} ms`);
        if (res.status === 429) {
          this.#options.warn?.(`${this.registry}: rate limited; waiting ${wait} ms`);
        }
        await sleep(wait, req.signal);
        continue;
      }
      const warning = res.headers.get("warning");
      if (warning) this.#options.warn?.(`${this.registry}: ${warning.replace(/^299\s+-\s+/, "")}`);
      return res;
    }
  }

  /**
   * Follows up to {@link MAX_REDIRECTS} redirects by hand: each target must pass
   * {@link checkUrl}, and `Authorization` is dropped once the origin changes (and stays dropped,
   * even if a later hop comes back). Returns the final response and the URL that gave it.
   */
  async #follow(req: HttpRequest, url: URL, headers: Headers): Promise<[Response, URL]> {
    let current = url;
    let method: string = req.method;
    let body = req.body ? await req.body() : null;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await this.#raw(method, current.href, headers, body, req.signal, req.deadline);
      this.#trace(() => `${method} ${displayUrl(current)} -> ${res.status}`);
      if (![301, 302, 303, 307, 308].includes(res.status)) return [res, current];
      const location = res.headers.get("location");
      await res.body?.cancel();
      if (!location) return [res, current];
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new FerryError(
          "registry",
          `${req.method} ${displayUrl(url)}: redirect to an invalid URL`,
        );
      }
      this.checkUrl(next, `a redirect of ${req.method} ${displayUrl(url)}`);
      if (next.origin !== current.origin) headers.delete("authorization");
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
        method = "GET";
        body = null;
      } else if (body !== null && req.body) {
        body = await req.body(); // a stream body was consumed by the first hop
      }
      current = next;
    }
    throw new FerryError("registry", `${req.method} ${displayUrl(url)}: too many redirects`);
  }

  async #raw(
    method: string,
    url: string,
    headers: Headers,
    body: BodyInit | null,
    signal?: AbortSignal,
    deadline: "exchange" | "answer" = "exchange",
  ): Promise<Response> {
    const ms = this.#options.timeoutMs ?? 60_000;
    const init: RequestInit & { client?: Deno.HttpClient } = {
      method,
      headers,
      redirect: "manual",
    };
    if (this.#client) init.client = this.#client;
    if (deadline === "exchange") {
      const timeout = AbortSignal.timeout(ms);
      init.signal = signal ? AbortSignal.any([signal, timeout]) : timeout;
      init.body = body;
      if (body instanceof ReadableStream) (init as { duplex?: string }).duplex = "half";
      return await this.#fetch(url, init);
    }
    // Only the waits are bounded: for the answer, and between two pieces of the body sent.
    const stop = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => stop.abort(new DOMException(`no answer within ${ms / 1000} s`, "TimeoutError")),
        ms,
      );
    };
    init.signal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    if (body instanceof ReadableStream) {
      init.body = pacedBody(body as ReadableStream<Uint8Array>, arm);
      (init as { duplex?: string }).duplex = "half";
    } else {
      init.body = body;
    }
    arm();
    try {
      return await this.#fetch(url, init);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `line`, or what it makes, to the trace (made only when tracing: most lines are per request). */
  #trace(line: string | (() => string)) {
    const trace = this.#options.trace;
    if (trace) trace(typeof line === "string" ? line : line());
  }

  /** The origin of the registry's base URL, parsed once. */
  #originOf(base: string): string {
    if (this.#baseOrigin?.[0] !== base) this.#baseOrigin = [base, new URL(base).origin];
    return this.#baseOrigin[1];
  }

  /** Releases the connection pool if this instance made it; later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownClient) this.#client?.close();
  }
}

/** Largest piece of a request body handed to `fetch` at once (see {@link pacedBody}). */
const BODY_PIECE = 256 * 1024;

/**
 * `body` handed to `fetch` in pieces of at most {@link BODY_PIECE}, each only when asked for,
 * calling `progress` before each: as the connection takes the bytes, not as the source has them
 * (a whole blob held in memory is one chunk).
 */
function pacedBody(
  body: ReadableStream<Uint8Array>,
  progress: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let held: Uint8Array = new Uint8Array(0);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (held.byteLength === 0) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        held = value;
      }
      progress();
      controller.enqueue(held.subarray(0, BODY_PIECE));
      held = held.subarray(BODY_PIECE);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** The first line of an error's message, without Deno's noisy prefixes. */
export function shortError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split("\n")[0].replace(/^error sending request for url \([^)]*\): /, "");
}

/** Largest error body read from a registry. */
const MAX_ERROR_BODY = 64 * 1024;
/** Characters of a registry's error codes and messages kept in an error's one line. */
const MAX_ERROR_DETAIL = 500;

/**
 * Reads a registry's error body (at most {@link MAX_ERROR_BODY}): its error list, and the list as
 * one line (`CODE: message; …`, empty when the body is not the API's JSON), its control
 * characters escaped and cut at {@link MAX_ERROR_DETAIL} characters.
 */
async function readErrorBody(
  res: Response,
  what: string,
): Promise<{ errors: RemoteErrorEntry[]; detail: string }> {
  let detail = "";
  let errors: RemoteErrorEntry[] = [];
  try {
    const text = new TextDecoder().decode(await readBody(res, MAX_ERROR_BODY, what));
    const body = JSON.parse(text);
    errors = registryErrorEntries(body);
    // The registry's words go into a one-line error: a page of them would bury the line, and
    // its control characters would reach the terminal.
    detail = printable(
      errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; "),
      MAX_ERROR_DETAIL,
    );
  } catch {
    await res.body?.cancel().catch(() => {});
  }
  return { errors, detail };
}

/**
 * Turns an unexpected response into a {@link RegistryError} (a {@link FerryError} with the status
 * and the registry's error list as fields), its message using the distribution error body
 * (`{"errors":[{"code","message"}]}`) when there is one. `what` names the object
 * (`docker.io/library/nginx:1`).
 */
export async function responseError(res: Response, what: string): Promise<RegistryError> {
  const { errors, detail } = await readErrorBody(res, what);
  const suffix = detail ? ` (${detail})` : "";
  const status = res.status;
  switch (status) {
    case 401:
      return new RegistryError("unauthorized", `${what}: authentication required${suffix}`, {
        status,
        errors,
      });
    case 403:
      return new RegistryError("denied", `${what}: access denied${suffix}`, { status, errors });
    case 404:
      return new RegistryError("not_found", `${what}: not found${suffix}`, { status, errors });
    case 413:
      return new RegistryError(
        "too_large",
        `${what}: the registry refused it as too large${suffix}`,
        { status, errors },
      );
    default:
      return new RegistryError(
        "registry",
        `${what}: registry answered ${status} ${printable(res.statusText, 64)}${suffix}`,
        { status, errors, retryable: isRetryableStatus(status) },
      );
  }
}
