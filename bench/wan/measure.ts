/**
 * The WAN benchmark (`deno task bench --only wan`): the `wan` image set (12 images × 3 layers ×
 * 2 MiB, 40 MiB distinct) saved from the source docker-registry through a userspace WAN link
 * (`lib/wan_link.ts`: 20 ms each way, 200 Mbit/s shared, one round trip per new connection), with
 * and without token auth: for the token runs a second docker-registry on the same storage demands
 * a Bearer token per repository (distribution's `auth: token`, as Docker Hub), from a token server
 * (`tests/support/token_issuer.ts`) behind a link of its own (as auth.docker.io is another host).
 * Methods:
 *
 * - `ferry`: `ferry registry save` as a user runs it (and `ferry-baseline`, the same from another
 *   checkout given with `--wan-baseline DIR`, side by side);
 * - `sealos-serial`: an empty docker-registry on the output directory, then one `skopeo copy` per
 *   image, one at a time (what Sealos does);
 * - `skopeo-sync`: the same registry, one `skopeo sync --src yaml` of every image;
 * - `curl-seq`, `curl-par`: one curl process fetching every distinct blob, in turn or six at a
 *   time (without auth only: curl does not answer a token challenge); six at a time is what the
 *   link gives a client that only downloads, on the machine as loaded as it is.
 *
 * Each run counts the requests (by kind) and new connections that crossed the link. The floor is
 * what the link allows: distinct bytes at the link's rate plus three round trips.
 *
 * @module
 */
import { join } from "node:path";
import { stringify } from "yaml";
import { digestHex } from "../../src/digest.ts";
import { removeTree, requirePeer, startTokenIssuer } from "../../tests/support/mod.ts";
import { type BenchContext, type ImageSet, verifyRegistryDir } from "../lib/image_sets.ts";
import { loadAverage, type MachineInfo } from "../lib/machine.ts";
import { output, pool, rotated, timedOk, type TimedRun } from "../lib/proc.ts";
import { quietSince, quietStats, settle } from "../lib/quiet.ts";
import { startBenchRegistry } from "../lib/registry.ts";
import { startWanLink, type WanCounts, type WanLink } from "../lib/wan_link.ts";
import { pushSet } from "../save/measure.ts";
import { ferryArgs, runFerry } from "../save/methods.ts";

/** The link: 20 ms each way, 200 Mbit/s. */
export const ONE_WAY_DELAY_MS = 20;
/** The link's rate per direction, shared by all connections. */
export const LINK_BITS_PER_S = 200e6;

/** The measured methods. */
export type WanMethod =
  | "ferry"
  | "ferry-baseline"
  | "sealos-serial"
  | "skopeo-sync"
  | "curl-seq"
  | "curl-par";

/** One measured run. */
export interface WanMeasurement {
  method: WanMethod;
  auth: boolean;
  run: number;
  wallMs: number;
  /** CPU seconds of the client processes. */
  clientCpuS: number;
  /** What crossed the registry's link, with the token server's requests and connections added. */
  counts: WanCounts;
}

/** The registry link and, with auth, the token server's link. */
interface Links {
  registry: WanLink;
  token?: WanLink;
}

function resetLinks(links: Links): void {
  links.registry.reset();
  links.token?.reset();
}

/** The registry link's counts with the token link's requests and connections added. */
function linkCounts(links: Links): WanCounts {
  const counts = links.registry.counts();
  const token = links.token?.counts();
  if (token) {
    counts.connections += token.connections;
    for (const [kind, n] of Object.entries(token.requests)) {
      counts.requests[kind] = (counts.requests[kind] ?? 0) + n;
    }
  }
  return counts;
}

/** The benchmark's outcome. */
export interface WanReport {
  date: string;
  command: string;
  machine: MachineInfo;
  description: string;
  images: number;
  uniqueBytes: number;
  oneWayDelayMs: number;
  bitsPerSecond: number;
  /** The link floor in seconds: distinct bytes at the link's rate plus three round trips. */
  floorS: number;
  /** The checkout of `ferry-baseline`, if any. */
  baseline?: string;
  runs: number;
  measurements: WanMeasurement[];
  quiet: ReturnType<typeof quietSince>;
}

/** Options of {@link measureWan}. */
export interface WanOptions {
  /** Another ferry checkout to measure beside this one (`ferry-baseline`). */
  baseline?: string;
  runs: number;
  command: string;
  machine: MachineInfo;
  log: (line: string) => void;
}

/** Distinct bytes at the link's rate plus three round trips, in seconds. */
export function linkFloorS(uniqueBytes: number): number {
  return uniqueBytes * 8 / LINK_BITS_PER_S + 3 * 2 * ONE_WAY_DELAY_MS / 1000;
}

/** The set's references with the link in place of the source registry. */
function linkRefs(set: ImageSet, link: WanLink): string[] {
  return set.images.map((i) => `${link.host}/${i.repository}:${i.tag}`);
}

async function measureFerryWan(ctx: BenchContext, set: ImageSet, links: Links) {
  const out = join(ctx.workDir, "wan-ferry");
  await removeTree(out);
  try {
    const args = ferryArgs({ ...set, refs: linkRefs(set, links.registry) }, out);
    resetLinks(links);
    const run = await runFerry(ctx, args);
    const counts = linkCounts(links);
    await verifyRegistryDir(out, set, "ferry");
    return { run, counts };
  } finally {
    await removeTree(out);
  }
}

/** An empty docker-registry on a fresh directory, then `copies` into it; timed from its spawn. */
async function measureIntoRegistry(
  ctx: BenchContext,
  set: ImageSet,
  links: Links,
  name: string,
  copies: (dstHost: string) => Promise<TimedRun[]>,
) {
  const out = join(ctx.workDir, `wan-${name}`);
  await removeTree(out);
  try {
    resetLinks(links);
    const t0 = performance.now();
    const dest = await startBenchRegistry(out, ctx.workDir);
    let runs: TimedRun[];
    try {
      runs = await copies(dest.host);
    } finally {
      await dest.stop();
    }
    const wallMs = performance.now() - t0;
    const counts = linkCounts(links);
    await verifyRegistryDir(out, set, name);
    const cpu = runs.reduce((n, r) => n + r.userS + r.sysS, 0);
    return { wallMs, cpu, counts };
  } finally {
    await removeTree(out);
  }
}

function skopeoCopies(set: ImageSet, link: WanLink) {
  return async (dst: string) => {
    const runs: TimedRun[] = [];
    await pool(set.images.map((image) => image), 1, async (image) => {
      runs.push(
        await timedOk(requirePeer("skopeo"), [
          "--insecure-policy",
          "copy",
          "--src-tls-verify=false",
          "--dest-tls-verify=false",
          `docker://${link.host}/${image.repository}:${image.tag}`,
          `docker://${dst}/${image.repository}:${image.tag}`,
        ]),
      );
    });
    return runs;
  };
}

function skopeoSync(ctx: BenchContext, set: ImageSet, link: WanLink) {
  return async (dst: string) => {
    const yamlPath = join(ctx.workDir, "wan-sync.yaml");
    const images: Record<string, string[]> = {};
    for (const i of set.images) (images[i.repository] ??= []).push(i.tag);
    await Deno.writeTextFile(yamlPath, stringify({ [link.host]: { images, "tls-verify": false } }));
    try {
      // Without --dest-tls-verify=false skopeo refuses a plain-HTTP destination.
      return [
        await timedOk(requirePeer("skopeo"), [
          "--insecure-policy",
          "sync",
          "--src",
          "yaml",
          "--dest",
          "docker",
          "--dest-tls-verify=false",
          yamlPath,
          // skopeo sync keeps only a repository's last path component: `bench/wan-0` lands
          // as `wan-0` under the destination, so the destination names the `bench/` namespace.
          `${dst}/bench`,
        ]),
      ];
    } finally {
      await Deno.remove(yamlPath).catch(() => {});
    }
  };
}

async function measureCurlWan(ctx: BenchContext, set: ImageSet, links: Links, parallel: boolean) {
  const link = links.registry;
  const out = join(ctx.workDir, "wan-curl");
  await removeTree(out);
  await Deno.mkdir(out, { recursive: true });
  try {
    const args = ["-sS", "--fail", ...(parallel ? ["--parallel", "--parallel-max", "6"] : [])];
    const files: string[] = [];
    for (const blob of set.blobs) {
      const file = join(out, digestHex(blob.digest));
      files.push(file);
      args.push("-o", file, `http://${link.host}/v2/${blob.repository}/blobs/${blob.digest}`);
    }
    resetLinks(links);
    const run = await timedOk("curl", args);
    const counts = linkCounts(links);
    await output("sync", files);
    for (const [i, blob] of set.blobs.entries()) {
      const size = (await Deno.stat(files[i])).size;
      if (size !== blob.size) throw new Error(`curl: ${files[i]} has ${size} bytes`);
    }
    return { run, counts };
  } finally {
    await removeTree(out);
  }
}

const ROTATION: readonly WanMethod[] = [
  "ferry",
  "ferry-baseline",
  "sealos-serial",
  "skopeo-sync",
  "curl-seq",
  "curl-par",
];

/** Runs the WAN benchmark against `ctx.source` (the set is pushed first, untimed). */
export async function measureWan(ctx: BenchContext, options: WanOptions): Promise<WanReport> {
  const { log } = options;
  const quietBefore = { ...quietStats };
  const set = await pushSet(ctx, "wan", log);
  const floorS = linkFloorS(set.uniqueBytes);
  const measurements: WanMeasurement[] = [];
  const linkOptions = { oneWayDelayMs: ONE_WAY_DELAY_MS, bitsPerSecond: LINK_BITS_PER_S };
  for (const auth of [false, true]) {
    const stops: (() => Promise<void>)[] = [];
    try {
      let upstream = ctx.source;
      let token: WanLink | undefined;
      if (auth) {
        const issuer = await startTokenIssuer();
        stops.push(() => issuer.stop());
        token = await startWanLink({ upstream: new URL(issuer.url).host, ...linkOptions });
        stops.push(() => token!.stop());
        upstream = await startBenchRegistry(ctx.source.root, ctx.workDir, {
          token: { ...issuer.registryAuth, realm: `http://${token.host}/token` },
        });
        stops.push(() => upstream.stop());
      }
      const link = await startWanLink({ upstream: upstream.host, ...linkOptions });
      stops.push(() => link.stop());
      const links: Links = { registry: link, token };
      log(`\n== WAN link ${auth ? "with" : "without"} token auth (floor ${floorS.toFixed(2)} s)`);
      for (let run = 1; run <= options.runs; run++) {
        for (const method of rotated(ROTATION, run)) {
          if (method.startsWith("curl") && auth) continue;
          if (method === "ferry-baseline" && !options.baseline) continue;
          await settle();
          let m: WanMeasurement;
          if (method.startsWith("ferry") || method.startsWith("curl")) {
            const { run: r, counts } = method === "ferry"
              ? await measureFerryWan(ctx, set, links)
              : method === "ferry-baseline"
              ? await measureFerryWan({ ...ctx, repoRoot: options.baseline! }, set, links)
              : await measureCurlWan(ctx, set, links, method === "curl-par");
            m = { method, auth, run, wallMs: r.wallMs, clientCpuS: r.userS + r.sysS, counts };
          } else {
            const copies = method === "sealos-serial"
              ? skopeoCopies(set, link)
              : skopeoSync(ctx, set, link);
            const r = await measureIntoRegistry(ctx, set, links, method, copies);
            m = { method, auth, run, wallMs: r.wallMs, clientCpuS: r.cpu, counts: r.counts };
          }
          measurements.push(m);
          const requests = Object.values(m.counts.requests).reduce((a, b) => a + b, 0);
          log(
            `   run ${run} ${method}${auth ? " (auth)" : ""}: ${(m.wallMs / 1000).toFixed(2)} s, ` +
              `${requests} requests, ${m.counts.connections} connections`,
          );
        }
      }
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
    }
  }
  options.machine.loadAfter = await loadAverage();
  return {
    date: options.machine.date,
    command: options.command,
    machine: options.machine,
    description: set.description,
    images: set.images.length,
    uniqueBytes: set.uniqueBytes,
    oneWayDelayMs: ONE_WAY_DELAY_MS,
    bitsPerSecond: LINK_BITS_PER_S,
    floorS,
    baseline: options.baseline,
    runs: options.runs,
    measurements,
    quiet: quietSince(quietBefore),
  };
}
