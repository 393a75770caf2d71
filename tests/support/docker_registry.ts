/**
 * A real CNCF distribution registry (Debian's `docker-registry`, 2.8) on a random 127.0.0.1 port,
 * open or behind htpasswd or token auth, serving a filesystem root a test can look into.
 *
 * @module
 */
import bcrypt from "bcryptjs";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { requirePeer } from "./peers.ts";
import { run } from "./process.ts";
import type { RegistryTokenAuth } from "./token_issuer.ts";
import { freePort, tempDir } from "./tmp.ts";

/** Basic auth from an htpasswd file (bcrypt), generated from `users`. */
export interface HtpasswdAuth {
  htpasswd: {
    /** user name → password. */
    users: Record<string, string>;
    /** Realm sent in the challenge; defaults to `ferry-test`. */
    realm?: string;
  };
}

/** Bearer token auth against a token server (see `startTokenIssuer`). */
export interface TokenAuth {
  /** Anything that knows the registry's `auth.token` settings, such as a running `TokenIssuer`. */
  token: { readonly registryAuth: RegistryTokenAuth };
}

/** Options for {@link startRegistry}. */
export interface RegistryOptions {
  /**
   * Storage root (`storage.filesystem.rootdirectory`). Left in place on `stop()`. When omitted, a
   * temp dir is made and removed on `stop()`. Start a second registry on the same root to serve a
   * tree again.
   */
  root?: string;
  /** Open registry when omitted. */
  auth?: HtpasswdAuth | TokenAuth;
  /** Refuse writes (`storage.maintenance.readonly`). */
  readOnly?: boolean;
  /** Serve HTTPS with this certificate and key (PEM paths; see `selfSignedCert`). */
  tls?: { cert: string; key: string };
  /** How long to wait for `/v2/` to answer, in ms (default 10 000). */
  startTimeoutMs?: number;
}

/** A started registry. Dispose it (or call `stop()`) to kill it and remove its temp files. */
export interface RunningRegistry extends AsyncDisposable {
  /** `127.0.0.1:PORT`, the registry part of image references. */
  readonly host: string;
  /** `http://127.0.0.1:PORT` (`https://` with `tls`). */
  readonly url: string;
  /** The port. */
  readonly port: number;
  /** Storage root given to the registry. */
  readonly root: string;
  /** `<root>/docker/registry/v2`, where `blobs/` and `repositories/` live. */
  readonly v2Dir: string;
  /** Kills the registry, waits for it to exit, removes the config (and the root if it made it). */
  stop(): Promise<void>;
  /** What the registry has printed so far (stdout and stderr, last 256 KiB). */
  logs(): string;
}

const LOG_LIMIT = 256 * 1024;
const BCRYPT_COST = 5; // cheap on purpose: distribution checks the hash on every request

/** The htpasswd file for `users` (bcrypt, one `user:hash` line each). */
export function htpasswdFile(users: Record<string, string>): string {
  return Object.entries(users)
    .map(([user, password]) => `${user}:${bcrypt.hashSync(password, BCRYPT_COST)}\n`)
    .join("");
}

/** The registry's config.yml as an object (distribution 2.8, config version 0.1). */
function registryConfig(
  root: string,
  port: number,
  options: RegistryOptions,
  htpasswdPath: string | undefined,
): Record<string, unknown> {
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: "warn", formatter: "text", accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: root },
      delete: { enabled: true },
      maintenance: {
        uploadpurging: { enabled: false },
        readonly: { enabled: options.readOnly ?? false },
      },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: "ferry-test-http-secret",
      ...(options.tls ? { tls: { certificate: options.tls.cert, key: options.tls.key } } : {}),
    },
  };
  const auth = options.auth;
  if (auth && "htpasswd" in auth) {
    config.auth = {
      htpasswd: { realm: auth.htpasswd.realm ?? "ferry-test", path: htpasswdPath },
    };
  } else if (auth && "token" in auth) {
    config.auth = { token: { ...auth.token.registryAuth } };
  }
  return config;
}

/** Collects a child's output into a bounded text buffer. */
class LogBuffer {
  #text = "";
  #decoder = new TextDecoder();
  append(chunk: Uint8Array): void {
    this.#text += this.#decoder.decode(chunk, { stream: true });
    if (this.#text.length > LOG_LIMIT) this.#text = this.#text.slice(-LOG_LIMIT);
  }
  async drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream) this.append(chunk);
  }
  toString(): string {
    return this.#text;
  }
}

async function killAndWait(child: Deno.ChildProcess, exited: Promise<unknown>): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already exited
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), 5000);
  });
  const result = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
    await exited;
  }
}

/** Polls `/v2/` until it answers 200 or 401; false when the process exits or time runs out. */
async function waitReady(
  url: string,
  deadline: number,
  isExited: () => boolean,
  client?: Deno.HttpClient,
): Promise<boolean> {
  while (Date.now() < deadline && !isExited()) {
    try {
      const res = await fetch(`${url}/v2/`, {
        signal: AbortSignal.timeout(1000),
        client,
      } as RequestInit);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/**
 * Starts `docker-registry serve` on a free 127.0.0.1 port and waits until `/v2/` answers.
 * Throws with the registry's output when it does not come up within the timeout.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const program = requirePeer("docker-registry");
  const work = await tempDir("ferry-registry-");
  const root = options.root === undefined ? work.join("root") : resolve(options.root);
  try {
    await Deno.mkdir(root, { recursive: true });
    let htpasswdPath: string | undefined;
    if (options.auth && "htpasswd" in options.auth) {
      htpasswdPath = work.join("htpasswd");
      await Deno.writeTextFile(htpasswdPath, htpasswdFile(options.auth.htpasswd.users));
    }
    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    let lastLogs = "";
    // The free port may be taken between probing and binding; try a few.
    for (let attempt = 0; attempt < 3 && Date.now() < deadline; attempt++) {
      const port = freePort();
      const configPath = work.join(`config-${port}.yml`);
      await Deno.writeTextFile(
        configPath,
        stringify(registryConfig(root, port, options, htpasswdPath)),
      );
      const child = new Deno.Command(program, {
        args: ["serve", configPath],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const logs = new LogBuffer();
      const drained = Promise.all([logs.drain(child.stdout), logs.drain(child.stderr)]);
      let exited = false;
      const status = child.status.then(async (s) => {
        exited = true;
        await drained.catch(() => {});
        return s;
      });
      const url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
      const client = options.tls
        ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(options.tls.cert)] })
        : undefined;
      const ready = await waitReady(url, deadline, () => exited, client).finally(() =>
        client?.close()
      );
      if (ready) {
        let stopped: Promise<void> | undefined;
        const stop = () =>
          stopped ??= (async () => {
            await killAndWait(child, status);
            await work.remove();
          })();
        return {
          host: `127.0.0.1:${port}`,
          url,
          port,
          root,
          v2Dir: join(root, "docker", "registry", "v2"),
          stop,
          logs: () => logs.toString(),
          [Symbol.asyncDispose]: stop,
        };
      }
      await killAndWait(child, status);
      lastLogs = logs.toString();
      if (!/address already in use/i.test(lastLogs)) break;
    }
    throw new Error(
      `docker-registry did not answer on /v2/ in time; its output:\n${lastLogs.trim()}`,
    );
  } catch (err) {
    await work.remove();
    throw err;
  }
}

/** Options of {@link garbageCollect}. */
export interface GarbageCollectOptions {
  /** `--delete-untagged`. */
  deleteUntagged?: boolean;
  /** `--dry-run`. */
  dryRun?: boolean;
}

/**
 * Runs `docker-registry garbage-collect` (distribution 2.8) over the filesystem root `root` and
 * returns what it printed; throws when it fails.
 */
export async function garbageCollect(
  root: string,
  options: GarbageCollectOptions = {},
): Promise<string> {
  const program = requirePeer("docker-registry");
  await using work = await tempDir("ferry-gc-");
  const configPath = work.join("config.yml");
  await Deno.writeTextFile(
    configPath,
    stringify(registryConfig(resolve(root), freePort(), {}, undefined)),
  );
  const args = ["garbage-collect"];
  if (options.deleteUntagged) args.push("--delete-untagged");
  if (options.dryRun) args.push("--dry-run");
  const { stdout } = await run(program, [...args, configPath]);
  return stdout;
}
