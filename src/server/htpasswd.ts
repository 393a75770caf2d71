/**
 * Basic authentication against an htpasswd file of bcrypt hashes (`htpasswd -B`, `$2y$`), the
 * only kind docker-registry accepts too.
 *
 * bcrypt is slow on purpose (tens of milliseconds per check in JavaScript), and clients send the
 * same `Authorization` header on every request, so a header that verified once is remembered for
 * the life of the process — by its SHA-256, never in clear.
 *
 * @module
 */
import bcrypt from "bcryptjs";
import { createHash } from "node:crypto";
import { errorMessage, FerryError } from "../errors.ts";

const BCRYPT_RE = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
/** Remembered headers; past this many, the oldest are forgotten (and checked again if reused). */
const CACHE_LIMIT = 1024;

/** The users of an htpasswd file. */
export class Htpasswd {
  #users: Map<string, string>;
  #verified = new Map<string, string>();

  private constructor(users: Map<string, string>) {
    this.#users = users;
  }

  /**
   * Parses htpasswd text (`user:hash` lines; blank lines and `#` comments skipped).
   *
   * @throws {FerryError} `invalid_input` for a malformed line, `unsupported` for a hash other than
   * bcrypt; messages name `where:line` and the user, never the hash.
   */
  static parse(text: string, where: string): Htpasswd {
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
    return new Htpasswd(users);
  }

  /** Reads and parses an htpasswd file. */
  static async load(path: string): Promise<Htpasswd> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      const code = err instanceof Deno.errors.NotFound ? "not_found" : "io";
      throw new FerryError(code, `${path}: ${errorMessage(err)}`, { cause: err });
    }
    return Htpasswd.parse(text, path);
  }

  /** Number of users. */
  get size(): number {
    return this.#users.size;
  }

  /**
   * The user an `Authorization: Basic …` header authenticates, or undefined (missing header,
   * another scheme, unknown user, wrong password).
   */
  async verify(authorization: string | null): Promise<string | undefined> {
    if (!authorization) return undefined;
    const key = createHash("sha256").update(authorization).digest("hex");
    const known = this.#verified.get(key);
    if (known !== undefined) return known;
    const credentials = parseBasic(authorization);
    if (!credentials) return undefined;
    const hash = this.#users.get(credentials.user);
    if (hash === undefined || !await bcrypt.compare(credentials.password, hash)) return undefined;
    if (this.#verified.size >= CACHE_LIMIT) {
      this.#verified.delete(this.#verified.keys().next().value!);
    }
    this.#verified.set(key, credentials.user);
    return credentials.user;
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
