/**
 * Typed wrappers around `skopeo` for interop tests. Every call runs with `--insecure-policy`, and
 * TLS verification off for docker:// references (the test registries speak plain HTTP on
 * 127.0.0.1). Failures throw a {@link CommandError} carrying skopeo's stderr.
 *
 * References without a transport are taken as `docker://`.
 *
 * @module
 */
import { type Digest, sha256 } from "../../src/digest.ts";
import { requirePeer } from "./peers.ts";
import { CommandError, run } from "./process.ts";
import { tempDir } from "./tmp.ts";

export { CommandError };

const TRANSPORT_RE =
  /^(docker|oci|oci-archive|dir|docker-archive|docker-daemon|containers-storage):/;

/** `ref` with a transport: `docker://` is added when it has none. */
export function withTransport(ref: string): string {
  return TRANSPORT_RE.test(ref) ? ref : `docker://${ref}`;
}

/** Authentication and transport options for reading a reference. */
export interface ReadOptions {
  /** `user:password`. */
  creds?: string;
  /** A bearer token, sent as is. */
  registryToken?: string;
  /** Verify TLS (default false: the test registries are plain HTTP). */
  tlsVerify?: boolean;
  /** `--retry-times` (skopeo's own retries of some failures). */
  retryTimes?: number;
}

/** Options for {@link inspect}. */
export interface InspectOptions extends ReadOptions {
  /** Platform to pick from an index (`--override-arch` and friends). */
  overrideArch?: string;
  /** Default linux. */
  overrideOs?: string;
  /** For arm variants. */
  overrideVariant?: string;
}

/** The parts of `skopeo inspect` output the tests use. */
export interface InspectResult {
  Name?: string;
  /** Digest of the manifest (of the index, when the reference names one). */
  Digest: Digest;
  RepoTags?: string[];
  Architecture: string;
  Os: string;
  Variant?: string;
  /** Compressed layer digests. */
  Layers: Digest[];
  LayersData?: { MIMEType: string; Digest: Digest; Size: number }[];
  Labels?: Record<string, string> | null;
}

/** Options for {@link copy}. */
export interface CopyOptions {
  /** Copy every platform of an index (`--all`). */
  all?: boolean;
  /** `user:password` for the source. */
  srcCreds?: string;
  /** `user:password` for the destination. */
  destCreds?: string;
  /** Bearer token for the source. */
  srcRegistryToken?: string;
  /** Bearer token for the destination. */
  destRegistryToken?: string;
  /** Verify TLS at the source (default false). */
  srcTlsVerify?: boolean;
  /** Verify TLS at the destination (default false). */
  destTlsVerify?: boolean;
  /** Fail rather than convert or recompress (`--preserve-digests`). */
  preserveDigests?: boolean;
  /** Convert the manifest (`--format oci|v2s2`). */
  format?: "oci" | "v2s2";
  /** `--retry-times`. */
  retryTimes?: number;
}

/** Arguments with credential values replaced, for error messages. */
function redact(args: string[]): string {
  return args
    .map((a) =>
      a.replace(
        /^(--(?:src-|dest-)?(?:creds|registry-token))=.*$/,
        "$1=***",
      )
    )
    .join(" ");
}

async function skopeo(args: string[]): Promise<{ stdout: string; stdoutBytes: Uint8Array }> {
  const program = requirePeer("skopeo");
  const full = ["--insecure-policy", ...args];
  return await run(program, full, { display: `skopeo ${redact(full)}` });
}

function readArgs(options: ReadOptions, prefix: "" | "src-" | "dest-" = ""): string[] {
  const args = [`--${prefix}tls-verify=${options.tlsVerify ?? false}`];
  if (options.creds !== undefined) args.push(`--${prefix}creds=${options.creds}`);
  if (options.registryToken !== undefined) {
    args.push(`--${prefix}registry-token=${options.registryToken}`);
  }
  return args;
}

function retryArgs(retryTimes: number | undefined): string[] {
  return retryTimes === undefined ? [] : [`--retry-times=${retryTimes}`];
}

/**
 * The raw manifest (or index) bytes of `ref` and their digest, exactly as the source serves them.
 */
export async function inspectRaw(
  ref: string,
  options: ReadOptions = {},
): Promise<{ bytes: Uint8Array; digest: Digest; json: Record<string, unknown> }> {
  const target = withTransport(ref);
  const { stdoutBytes } = await skopeo([
    "inspect",
    "--raw",
    ...retryArgs(options.retryTimes),
    ...readArgs(options),
    target,
  ]);
  return {
    bytes: stdoutBytes,
    digest: await sha256(stdoutBytes),
    json: JSON.parse(new TextDecoder().decode(stdoutBytes)),
  };
}

/** `skopeo inspect` (without listing tags): digest, platform and layers of `ref`. */
export async function inspect(ref: string, options: InspectOptions = {}): Promise<InspectResult> {
  const target = withTransport(ref);
  const global: string[] = [];
  if (options.overrideArch) global.push(`--override-arch=${options.overrideArch}`);
  if (options.overrideOs) global.push(`--override-os=${options.overrideOs}`);
  if (options.overrideVariant) global.push(`--override-variant=${options.overrideVariant}`);
  const { stdout } = await skopeo([
    ...global,
    "inspect",
    "--no-tags",
    ...retryArgs(options.retryTimes),
    ...readArgs(options),
    target,
  ]);
  return JSON.parse(stdout) as InspectResult;
}

/**
 * `skopeo copy src dst`. Returns the digest of the manifest written at the destination (from
 * `--digestfile`).
 */
export async function copy(
  src: string,
  dst: string,
  options: CopyOptions = {},
): Promise<{ digest: Digest }> {
  const source = withTransport(src);
  const dest = withTransport(dst);
  await using work = await tempDir("ferry-skopeo-");
  const digestFile = work.join("digest");
  const args = ["copy", `--digestfile=${digestFile}`, ...retryArgs(options.retryTimes)];
  if (options.all) args.push("--all");
  if (options.preserveDigests) args.push("--preserve-digests");
  if (options.format) args.push(`--format=${options.format}`);
  args.push(
    ...readArgs({
      creds: options.srcCreds,
      registryToken: options.srcRegistryToken,
      tlsVerify: options.srcTlsVerify,
    }, "src-"),
    ...readArgs({
      creds: options.destCreds,
      registryToken: options.destRegistryToken,
      tlsVerify: options.destTlsVerify,
    }, "dest-"),
    source,
    dest,
  );
  await skopeo(args);
  return { digest: (await Deno.readTextFile(digestFile)).trim() as Digest };
}
