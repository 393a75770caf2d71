/**
 * Helpers for fuzzing what registries send to ferry's client: a registry client whose `fetch` is
 * a script in this process (thousands of answers a second, no socket), header values made from
 * mutated bytes, and the check that an error is the one line a user is to read.
 *
 * @module
 */
import { Authenticator } from "../../src/auth/mod.ts";
import { isFerryError } from "../../src/errors.ts";
import { RegistryClient } from "../../src/remote/mod.ts";

/** The registry the scripted client talks to (never resolved: its `fetch` is the script). */
export const SCRIPTED_HOST = "registry.fuzz.test";

/** Answers one request of the scripted client. */
export type Script = (req: Request) => Response | Promise<Response>;

/**
 * A registry client whose every request is answered by `script`, without retries (each answer is
 * final) and with anonymous credentials.
 */
export function scriptedClient(script: Script): RegistryClient {
  const fetcher = (input: RequestInfo | URL, init?: RequestInit) =>
    Promise.resolve(script(new Request(input, init)));
  return new RegistryClient({
    auth: new Authenticator({
      credentials: () => Promise.resolve(undefined),
      fetch: fetcher as typeof fetch,
    }),
    fetch: fetcher as typeof fetch,
    retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
    apiHost: () => SCRIPTED_HOST,
  });
}

/**
 * A header value made of mutated bytes, as a server could send it: each byte one Latin-1
 * character, without the control characters (but tab) that `fetch`'s HTTP parser refuses,
 * trimmed as `fetch` trims.
 */
export function headerValue(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    if ((b >= 0x20 && b !== 0x7f) || b === 0x09) out += String.fromCharCode(b);
  }
  return out.trim();
}

/** Longest one-line error message accepted from code reading a registry's answer. */
export const MAX_MESSAGE = 2048;

/**
 * True for one line of printable text of at most {@link MAX_MESSAGE} characters: what a registry
 * sends must not reach the terminal as control characters (escape sequences) or as lines of its
 * own.
 */
export function isOneLine(text: string): boolean {
  // deno-lint-ignore no-control-regex
  return text.length <= MAX_MESSAGE && !/[\x00-\x08\x0a-\x1f\x7f-\x9f]/.test(text);
}

/** Accepts a `FerryError` whose message {@link isOneLine}. */
export function isOneLineFerryError(err: unknown): boolean {
  return isFerryError(err) && isOneLine(err.message);
}

/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
export const FUZZ_SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? "1");
/** The first seed: fixed by default, so that a run is the same every time. */
export const FUZZ_SEED = FUZZ_SCALE === 1 ? 1 : Date.now() % 1_000_000;
