/**
 * Finding the real programs ferry is tested against, and tests that need them.
 *
 * A test that needs a peer is ignored on a machine without it, so a developer can run the suite
 * anywhere; under CI (`CI=true`) the same test fails instead, naming what is missing, so a broken
 * install cannot pass as green.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The peer programs the interop tests use (the shells: for the completion tests). */
export const PEER_NAMES = [
  "skopeo",
  "docker-registry",
  "umoci",
  "buildah",
  "htpasswd",
  "openssl",
  "helm",
  "zstd",
  "zsh",
  "fish",
] as const;

/** One of {@link PEER_NAMES}. */
export type PeerName = typeof PEER_NAMES[number];

/** Root of the ferry checkout, found from this file's location. */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

const found = new Map<PeerName, string | undefined>();

function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function onPath(program: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = join(dir, program);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function locate(name: PeerName): string | undefined {
  if (name === "helm") {
    // helm is not packaged by Debian: it may come from $FERRY_HELM or the checkout's .tools/bin.
    const fromEnv = Deno.env.get("FERRY_HELM");
    if (fromEnv && isExecutableFile(fromEnv)) return fromEnv;
    const onSearchPath = onPath("helm");
    if (onSearchPath) return onSearchPath;
    const local = join(REPO_ROOT, ".tools", "bin", "helm");
    return isExecutableFile(local) ? local : undefined;
  }
  return onPath(name);
}

/** Absolute path of a peer program, or `undefined` when it is not installed. Cached per process. */
export function peer(name: PeerName): string | undefined {
  if (!found.has(name)) found.set(name, locate(name));
  return found.get(name);
}

/** The peers from `names` that are not installed. */
export function missingPeers(names: readonly PeerName[]): PeerName[] {
  return names.filter((n) => peer(n) === undefined);
}

/** True when running under CI (`CI` set to `true` or `1`), where missing peers are failures. */
export function inCI(): boolean {
  const value = (Deno.env.get("CI") ?? "").toLowerCase();
  return value === "true" || value === "1";
}

function missingMessage(names: readonly PeerName[]): string {
  return `missing peer program(s): ${names.join(", ")} (not found on PATH` +
    (names.includes("helm") ? ", $FERRY_HELM or .tools/bin" : "") +
    "); .ci/run installs them";
}

/** Path of a peer program; throws naming the peer when it is not installed. */
export function requirePeer(name: PeerName): string {
  const path = peer(name);
  if (path === undefined) throw new Error(missingMessage([name]));
  return path;
}

/**
 * Value for `Deno.test`'s `ignore` option: true when a peer is missing on this machine, but always
 * false under CI, so that the test runs and fails there (the harness functions call
 * {@link requirePeer}, whose error names the missing program).
 */
export function ignoreUnless(names: readonly PeerName[]): boolean {
  return !inCI() && missingPeers(names).length > 0;
}

/** A `Deno.test` definition plus the peers it needs; `ignore` is decided from `peers`. */
export type PeerTestDefinition = Omit<Deno.TestDefinition, "ignore"> & {
  /** Peer programs the test runs. */
  peers: readonly PeerName[];
};

/**
 * Registers a test that needs peer programs. It is ignored when one is missing, except under CI,
 * where it fails with a message naming the missing peers before `fn` runs.
 */
export function peerTest(
  name: string,
  peers: readonly PeerName[],
  fn: (t: Deno.TestContext) => void | Promise<void>,
): void;
/** Same as above, with the full set of `Deno.test` options (sanitizers, `only`, permissions). */
export function peerTest(definition: PeerTestDefinition): void;
export function peerTest(
  nameOrDefinition: string | PeerTestDefinition,
  peers?: readonly PeerName[],
  fn?: (t: Deno.TestContext) => void | Promise<void>,
): void {
  const definition: PeerTestDefinition = typeof nameOrDefinition === "string"
    ? { name: nameOrDefinition, peers: peers ?? [], fn: fn! }
    : nameOrDefinition;
  const { peers: needed, fn: body, ...rest } = definition;
  const missing = missingPeers(needed);
  if (missing.length === 0) {
    Deno.test({ ...rest, fn: body });
  } else if (inCI()) {
    Deno.test({
      ...rest,
      fn() {
        throw new Error(missingMessage(missing));
      },
    });
  } else {
    Deno.test({ ...rest, ignore: true, fn: body });
  }
}
