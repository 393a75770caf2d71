/**
 * Registry credentials from the files `docker login`, `podman login` and `skopeo login` write, in
 * the order containers/image reads them:
 *
 * 1. `--authfile` — when given, the only file consulted;
 * 2. `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json` (the primary file);
 * 3. `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/containers/auth.json`);
 * 4. `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`;
 * 5. `~/.dockercfg` (legacy: a top-level map of entries).
 *
 * The first file with something for the registry wins. Within a file: `credHelpers[registry]`,
 * then `auths` (repository-scoped keys like `quay.io/org` first when a repository is given, then
 * the host, matching keys written as URLs such as `https://index.docker.io/v1/`), then
 * `credsStore`.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { type HelperCredential, runCredentialHelper } from "./helper.ts";

/** A credential for one registry. */
export type Credential =
  /** A user name and password (Docker's `auth`). */
  | { kind: "basic"; username: string; password: string }
  /** Docker's `identitytoken`: an OAuth2 refresh token exchanged at the token endpoint. */
  | { kind: "identity_token"; username?: string; token: string }
  /** Docker's `registrytoken`: sent as a Bearer token as it is. */
  | { kind: "registry_token"; token: string };

/** Options for {@link CredentialStore}. */
export interface CredentialStoreOptions {
  /** `--authfile`: when given, only this file is consulted, and it must exist. */
  authfile?: string;
  /** Environment lookup; defaults to `Deno.env.get`, reading as unset what may not be read. */
  env?: (name: string) => string | undefined;
  /** Home directory; defaults to `$HOME` (`$USERPROFILE` on Windows). */
  home?: string;
  /** Runs a credential helper; defaults to {@link runCredentialHelper}. */
  runHelper?: (helper: string, serverUrl: string) => Promise<HelperCredential | undefined>;
  /** Receives debug notes (skipped files, unusable helpers). Never given secrets. */
  log?: (message: string) => void;
}

/** One auth file and how to read it. */
export interface AuthFileLocation {
  /** Path of the file. */
  path: string;
  /** `.dockercfg`: the entries are the top-level object, keys are URLs. */
  legacy: boolean;
  /** Given explicitly (`--authfile`): a missing or unreadable file is an error. */
  required: boolean;
}

/** The registry Docker Hub references use. */
const DOCKER_HUB = "docker.io";
/** The server address `docker login` uses for Docker Hub in credential stores. */
const DOCKER_HUB_SERVER = "https://index.docker.io/v1/";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
}

interface AuthFile {
  path: string;
  legacy: boolean;
  auths: Map<string, AuthEntry>;
  credHelpers: Map<string, string>;
  credsStore?: string;
}

/** Looks up registry credentials; results are cached for the life of the store. */
export class CredentialStore {
  #options: CredentialStoreOptions;
  #env: (name: string) => string | undefined;
  #files = new Map<string, Promise<AuthFile | undefined>>();
  #results = new Map<string, Promise<Credential | undefined>>();

  constructor(options: CredentialStoreOptions = {}) {
    this.#options = options;
    this.#env = options.env ?? defaultEnv;
  }

  /** The files consulted, in order (whether or not they exist). */
  locations(): AuthFileLocation[] {
    if (this.#options.authfile !== undefined) {
      return [{ path: this.#options.authfile, legacy: false, required: true }];
    }
    const env = (name: string) => nonEmpty(this.#env(name));
    const home = this.#options.home ?? env("HOME") ?? env("USERPROFILE");
    const out: AuthFileLocation[] = [];
    const add = (path: string | undefined, legacy = false) => {
      if (path !== undefined) out.push({ path, legacy, required: false });
    };
    const runtime = env("XDG_RUNTIME_DIR");
    add(
      env("REGISTRY_AUTH_FILE") ??
        (runtime !== undefined ? join(runtime, "containers", "auth.json") : undefined),
    );
    const configHome = env("XDG_CONFIG_HOME") ??
      (home !== undefined ? join(home, ".config") : undefined);
    if (configHome !== undefined) add(join(configHome, "containers", "auth.json"));
    const dockerConfig = env("DOCKER_CONFIG");
    if (dockerConfig !== undefined) add(join(dockerConfig, "config.json"));
    else if (home !== undefined) add(join(home, ".docker", "config.json"));
    if (home !== undefined) add(join(home, ".dockercfg"), true);
    return out;
  }

  /**
   * Credentials for a registry as written in references (`docker.io`, `ghcr.io`,
   * `localhost:5000`). With `repository` (`org/app`), repository-scoped entries of
   * containers auth files (`quay.io/org`) are preferred over the host's.
   *
   * @throws {FerryError} when an auth file exists but cannot be read or parsed (naming the file),
   *   or a credential helper fails.
   */
  lookup(registry: string, repository?: string): Promise<Credential | undefined> {
    const host = normalizeRegistry(registry);
    const key = repository ? `${host}/${repository}` : host;
    let result = this.#results.get(key);
    if (!result) {
      result = this.#lookup(host, repository);
      this.#results.set(key, result);
      // Do not remember failures: a helper may work on the next try.
      result.catch(() => this.#results.delete(key));
    }
    return result;
  }

  async #lookup(host: string, repository: string | undefined): Promise<Credential | undefined> {
    for (const location of this.locations()) {
      const file = await this.#file(location);
      if (!file) continue;
      const found = await this.#fromFile(file, host, repository);
      if (found) {
        this.#options.log?.(`using credentials for ${host} from ${file.path}`);
        return found;
      }
    }
    return undefined;
  }

  async #fromFile(
    file: AuthFile,
    host: string,
    repository: string | undefined,
  ): Promise<Credential | undefined> {
    const helper = findHelper(file.credHelpers, host);
    if (helper !== undefined) {
      const found = await this.#helper(helper, host);
      if (found) return found;
    }
    const keys = !file.legacy && repository ? scopedKeys(host, repository) : [];
    for (const key of [...keys, host]) {
      const entry = file.auths.get(key);
      const found = entry && decodeEntry(entry, file.path, key);
      if (found) return found;
    }
    for (const [key, entry] of file.auths) {
      if (normalizeAuthKey(key, file.legacy) !== host) continue;
      const found = decodeEntry(entry, file.path, key);
      if (found) return found;
    }
    if (file.credsStore !== undefined) return await this.#helper(file.credsStore, host);
    return undefined;
  }

  async #helper(helper: string, host: string): Promise<Credential | undefined> {
    const server = host === DOCKER_HUB ? DOCKER_HUB_SERVER : host;
    const run = this.#options.runHelper ??
      ((name: string, url: string) =>
        runCredentialHelper(name, url, { env: this.#env, log: this.#options.log }));
    const answer = await run(helper, server);
    if (!answer || (answer.Username === "" && answer.Secret === "")) return undefined;
    if (answer.Username === "<token>") return { kind: "identity_token", token: answer.Secret };
    return { kind: "basic", username: answer.Username, password: answer.Secret };
  }

  #file(location: AuthFileLocation): Promise<AuthFile | undefined> {
    let file = this.#files.get(location.path);
    if (!file) {
      file = readAuthFile(location, this.#options.log);
      this.#files.set(location.path, file);
    }
    return file;
  }
}

/**
 * Reads and validates one auth file; `undefined` when an optional file does not exist (or may not
 * be read under Deno's permissions).
 */
async function readAuthFile(
  location: AuthFileLocation,
  log?: (message: string) => void,
): Promise<AuthFile | undefined> {
  const { path, legacy } = location;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!location.required) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      if (err instanceof Deno.errors.NotCapable) {
        log?.(`not allowed to read ${path}; skipping it`);
        return undefined;
      }
    }
    const why = err instanceof Deno.errors.NotFound ? "no such file" : errMsg(err);
    throw new FerryError("invalid_input", `cannot read auth file ${path}: ${why}`, { cause: err });
  }
  const bad = (why: string) =>
    new FerryError("invalid_input", `malformed auth file ${path}: ${why}`);
  let data: unknown;
  try {
    data = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    // JSON.parse messages quote the input, which may hold secrets.
    throw bad("not valid JSON");
  }
  if (!isObject(data)) throw bad("not a JSON object");

  const auths = new Map<string, AuthEntry>();
  const rawAuths = legacy ? data : data.auths;
  if (rawAuths !== undefined && rawAuths !== null) {
    if (!isObject(rawAuths)) throw bad(`"auths" is not an object`);
    for (const [key, entry] of Object.entries(rawAuths)) {
      if (entry === null) continue;
      if (!isObject(entry)) throw bad(`entry ${JSON.stringify(key)} is not an object`);
      auths.set(key, entry as AuthEntry);
    }
  }
  const credHelpers = new Map<string, string>();
  if (!legacy && data.credHelpers !== undefined && data.credHelpers !== null) {
    if (!isObject(data.credHelpers)) throw bad(`"credHelpers" is not an object`);
    for (const [key, helper] of Object.entries(data.credHelpers)) {
      if (typeof helper !== "string") {
        throw bad(`credHelpers ${JSON.stringify(key)} is not a string`);
      }
      if (helper !== "") credHelpers.set(key, helper);
    }
  }
  let credsStore: string | undefined;
  if (!legacy && data.credsStore !== undefined && data.credsStore !== null) {
    if (typeof data.credsStore !== "string") throw bad(`"credsStore" is not a string`);
    if (data.credsStore !== "") credsStore = data.credsStore;
  }
  return { path, legacy, auths, credHelpers, ...(credsStore ? { credsStore } : {}) };
}

/**
 * The registry an auth-file key stands for: a scheme and any path are dropped from URL keys
 * (`https://index.docker.io/v1/` → `docker.io`); a key without scheme keeps its path (it is then
 * repository-scoped and matches no bare host), except in legacy files.
 */
export function normalizeAuthKey(key: string, legacy = false): string {
  let stripped = key.replace(/^https?:\/\//i, "");
  if (legacy || stripped !== key) stripped = stripped.split("/", 1)[0];
  return normalizeRegistry(stripped);
}

/** Docker Hub's names all mean `docker.io`; hosts compare case-insensitively. */
export function normalizeRegistry(registry: string): string {
  const lower = registry.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** Encodes `user:password` as the `auth` field and Basic header carry it (UTF-8, base64). */
export function encodeBasic(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function decodeEntry(entry: AuthEntry, path: string, key: string): Credential | undefined {
  const where = `auth file ${path}, entry ${JSON.stringify(key)}`;
  let username: string | undefined;
  let password: string | undefined;
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const decoded = decodeAuth(entry.auth);
    if (!decoded) {
      throw new FerryError("invalid_input", `${where}: "auth" is not base64 of user:password`);
    }
    [username, password] = decoded;
  } else if (typeof entry.username === "string" && typeof entry.password === "string") {
    username = entry.username;
    password = entry.password;
  }
  if (typeof entry.registrytoken === "string" && entry.registrytoken !== "") {
    return { kind: "registry_token", token: entry.registrytoken };
  }
  if (typeof entry.identitytoken === "string" && entry.identitytoken !== "") {
    return {
      kind: "identity_token",
      token: entry.identitytoken,
      ...(username ? { username } : {}),
    };
  }
  if (username === undefined || password === undefined) return undefined;
  if (username === "" && password === "") return undefined;
  return { kind: "basic", username, password };
}

function decodeAuth(auth: string): [string, string] | undefined {
  let binary: string;
  try {
    binary = atob(auth.trim());
  } catch {
    return undefined;
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  const text = new TextDecoder().decode(bytes);
  const colon = text.indexOf(":");
  if (colon === -1) return undefined;
  return [text.slice(0, colon), text.slice(colon + 1)];
}

function findHelper(helpers: Map<string, string>, host: string): string | undefined {
  const exact = helpers.get(host);
  if (exact !== undefined) return exact;
  for (const [key, helper] of helpers) {
    // Helper keys are hosts, sometimes written as URLs (`https://index.docker.io/v1/`).
    if (normalizeAuthKey(key, true) === host) return helper;
  }
  return undefined;
}

/** `quay.io/org/app` → [`quay.io/org/app`, `quay.io/org`], most specific first. */
function scopedKeys(host: string, repository: string): string[] {
  const parts = repository.split("/");
  const out: string[] = [];
  for (let n = parts.length; n >= 1; n--) out.push(`${host}/${parts.slice(0, n).join("/")}`);
  return out;
}

function join(...parts: string[]): string {
  const sep = Deno.build.os === "windows" ? "\\" : "/";
  return parts.map((p, i) => (i === 0 ? p.replace(/[\\/]+$/, "") : p)).join(sep);
}

function defaultEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    // Without --allow-env for this name, behave as if it were unset.
    return undefined;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
