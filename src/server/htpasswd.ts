/**
 * Basic authentication against an htpasswd file of bcrypt hashes (`htpasswd -B`, `$2y$`), the
 * only kind docker-registry accepts too.
 *
 * bcrypt is slow on purpose (tens of milliseconds per check in JavaScript), and clients send the
 * same `Authorization` header on every request, so a header that verified once is remembered for
 * the life of the process — by its SHA-256, never in clear.
 *
 * A name that is not in the file costs the same bcrypt comparison as a wrong password (against a
 * hash of the file's highest cost), so the time of a refusal does not tell which users exist.
 * Comparisons run on worker threads behind a bounded queue (./bcrypt_pool.ts): clients trying
 * passwords slow down each other, not the users already verified.
 *
 * @module
 */
import { sha256 } from "../digest.ts";
import { errorMessage, FerryError } from "../errors.ts";
import { BcryptBusyError, BcryptPool } from "./bcrypt_pool.ts";
import { httpError } from "./errors.ts";

const BCRYPT_RE = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
/** Remembered headers; past this many, the oldest are forgotten (and checked again if reused). */
const CACHE_LIMIT = 1024;

/** Options of {@link Htpasswd.parse} and {@link Htpasswd.load}. */
export interface HtpasswdOptions {
  /**
   * Compares a password with a bcrypt hash (default: a {@link BcryptPool} of worker threads).
   * It may throw {@link BcryptBusyError} to refuse a check for now.
   */
  compare?: (password: string, hash: string) => Promise<boolean>;
}

/** The users of an htpasswd file. */
export class Htpasswd {
  #users: Map<string, string>;
  #verified = new Map<string, string>();
  /** Compared against for names not in the file: the hash of the highest cost there. */
  #decoy: string;
  #pool?: BcryptPool;
  #compare: (password: string, hash: string) => Promise<boolean>;

  private constructor(users: Map<string, string>, options: HtpasswdOptions) {
    this.#users = users;
    const cost = (hash: string) => Number(hash.slice(4, 6));
    this.#decoy = [...users.values()].reduce((a, b) => cost(b) > cost(a) ? b : a);
    if (options.compare) {
      this.#compare = options.compare;
    } else {
      const pool = this.#pool = new BcryptPool();
      this.#compare = (password, hash) => pool.compare(password, hash);
    }
  }

  /**
   * Parses htpasswd text (`user:hash` lines; blank lines and `#` comments skipped).
   *
   * @throws {FerryError} `invalid_input` for a malformed line, `unsupported` for a hash other than
   * bcrypt; messages name `where:line` and the user, never the hash.
   */
  static parse(text: string, where: string, options: HtpasswdOptions = {}): Htpasswd {
    const users = new Map<string, string>();
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line === "" || line.startsWith("#")) continue;
      const colon = line.indexOf(":");
      if (colon <= 0) {
        throw new FerryError("invalid_input", `${where}:${i + 1}: expected user:hash`);
      }
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1);
      if (!BCRYPT_RE.test(hash)) {
        throw new FerryError(
          "unsupported",
          `${where}:${i + 1}: user ${
            JSON.stringify(user)
          } has no bcrypt hash; only bcrypt is supported (create the file with htpasswd -B)`,
        );
      }
      users.set(user, hash);
    }
    if (users.size === 0) throw new FerryError("invalid_input", `${where}: no users`);
    return new Htpasswd(users, options);
  }

  /** Reads and parses an htpasswd file. */
  static async load(path: string, options: HtpasswdOptions = {}): Promise<Htpasswd> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      const code = err instanceof Deno.errors.NotFound ? "not_found" : "io";
      throw new FerryError(code, `${path}: ${errorMessage(err)}`, { cause: err });
    }
    return Htpasswd.parse(text, path, options);
  }

  /** Number of users. */
  get size(): number {
    return this.#users.size;
  }

  /**
   * The user an `Authorization: Basic …` header authenticates, or undefined (missing header,
   * another scheme, unknown user, wrong password).
   *
   * @throws {HttpError} 429 `TOOMANYREQUESTS` when too many password checks are already waiting.
   */
  async verify(authorization: string | null): Promise<string | undefined> {
    if (!authorization) return undefined;
    const key = await sha256(authorization);
    const known = this.#verified.get(key);
    if (known !== undefined) return known;
    const credentials = parseBasic(authorization);
    if (!credentials) return undefined;
    const hash = this.#users.get(credentials.user);
    let ok: boolean;
    try {
      ok = await this.#compare(credentials.password, hash ?? this.#decoy);
    } catch (err) {
      if (!(err instanceof BcryptBusyError)) throw err;
      throw httpError(429, "TOOMANYREQUESTS", "too many password checks at once; retry later", {
        headers: { "Retry-After": "1" },
      });
    }
    if (hash === undefined || !ok) return undefined;
    if (this.#verified.size >= CACHE_LIMIT) {
      this.#verified.delete(this.#verified.keys().next().value!);
    }
    this.#verified.set(key, credentials.user);
    return credentials.user;
  }

  /** Stops the threads that compare passwords (started again if a check comes later). */
  close(): void {
    this.#pool?.close();
  }
}

/** User and password of a Basic `Authorization` header (RFC 7617). */
function parseBasic(header: string): { user: string; password: string } | undefined {
  const m = header.match(/^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (!m) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
