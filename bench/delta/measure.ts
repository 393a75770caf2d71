/**
 * The differential-export benchmark (`deno task bench --only delta`): a generated 1.0 → 1.1 pair
 * of 20 images (4 MiB layer each, 2 changed), carried to a site twice:
 *
 * - as plain image sets: `ferry save` of the 20 images at 1.0, then `ferry save --base` of the 20
 *   at 1.1 against that archive;
 * - as cluster images: a context whose `registry/` holds the 20 images, built as `my-app:1.0`;
 *   then a fresh context (as a new checkout or a CI runner has it: every file written again, with
 *   new times) whose `registry/` holds the 20 images at 1.1, built as `my-app:1.1` into the same
 *   store; `ferry save` of 1.0, `ferry save --base` of 1.1 against it.
 *
 * The figure is the delta archive's bytes against the bytes that changed (the blobs of the 1.1
 * images that 1.0 lacks; target ≤ changed + 1%). At the site, a fresh image store loads the 1.0
 * archive then the delta (after the delta alone was refused, storing nothing), and skopeo reads
 * every 1.1 image back by digest: from the store for the plain set; for the cluster image, from
 * the store and from the image's unpacked `registry/` served by docker-registry.
 *
 * `report.ts` turns the result into the console lines and the `## differential export (delta)`
 * section of bench/RESULTS.md.
 *
 * @module
 */
import { join } from "node:path";
import { copy as ferryCopy } from "../../mod.ts";
import {
  type BuiltImage,
  inspectRaw,
  makeLayout,
  requirePeer,
  run,
  startRegistry,
} from "../../tests/support/mod.ts";
import { type MachineInfo, timestamp } from "../lib/machine.ts";
import { denoRunArgs } from "../lib/ferry.ts";
import { timed, timedOk, type TimedRun } from "../lib/proc.ts";

/** Images in the set, and how many change from 1.0 to 1.1. */
export const IMAGES = 20;
export const CHANGED = 2;

/** One way of carrying the update. */
export interface DeltaCase {
  /** `plain image set` or `cluster image`. */
  name: string;
  /** Bytes of the whole 1.1 archive (what carrying it again would cost). */
  fullBytes: number;
  /** Bytes of the differential archive. */
  deltaBytes: number;
  /** Bytes of the blobs the 1.1 images have and 1.0 lacks. */
  changedBytes: number;
  /** Blobs in the delta archive, and blobs it omits. */
  carriedBlobs: number;
  omittedBlobs: number;
  /** Wall time of `ferry save --base` and of the loads at the site, ms. */
  saveMs: number;
  loadMs: number;
  /** Whether the delta alone was refused, with the store left unchanged. */
  refusedAlone: boolean;
  /** 1.1 images whose digest skopeo read back equal to the original, of how many checked. */
  identical: number;
  checked: number;
  /** For the cluster image: layers of my-app:1.1 and how many the build reused from 1.0. */
  layers?: number;
  reusedLayers?: number;
}

/** What {@link measureDelta} measured. */
export interface DeltaReport {
  date: string;
  command: string;
  machine?: MachineInfo;
  images: number;
  changed: number;
  layerBytes: number;
  cases: DeltaCase[];
}

/** Options of {@link measureDelta}. */
export interface DeltaBenchOptions {
  /** Bytes of each image's layer (4 MiB by default). */
  layerBytes?: number;
  workDir: string;
  repoRoot: string;
  command: string;
  machine?: MachineInfo;
  log: (line: string) => void;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** The images that change: spread over the set. */
function changes(n: number): boolean {
  return n === 3 || n === 14;
}

async function fileSize(path: string): Promise<number> {
  return (await Deno.stat(path)).size;
}

/** Blob sizes of a location, by digest (`ferry registry ls-blobs --json`). */
async function blobSizes(ferry: Ferry, location: string): Promise<Map<string, number>> {
  const { stdout } = await ferry(["registry", "ls-blobs", "--json", location]);
  const list = JSON.parse(stdout).blobs as { digest: string; size: number }[];
  return new Map(list.map((b) => [b.digest, b.size]));
}

/** Bytes of the blobs `next` holds and `base` lacks. */
function newBytes(next: Map<string, number>, base: Map<string, number>): number {
  let total = 0;
  for (const [d, size] of next) if (!base.has(d)) total += size;
  return total;
}

/** ferry as it ships, run in the checkout: throws unless it exits 0 (`raw` never throws). */
type Ferry = ((args: string[]) => Promise<TimedRun>) & {
  raw: (args: string[]) => Promise<TimedRun>;
};

/** Generates the pair and measures both ways of carrying it. */
export async function measureDelta(options: DeltaBenchOptions): Promise<DeltaReport> {
  requirePeer("skopeo");
  requirePeer("umoci");
  requirePeer("docker-registry");
  const layerBytes = options.layerBytes ?? 4 * 1024 * 1024;
  const dir = join(options.workDir, "delta");
  await Deno.mkdir(dir, { recursive: true });
  const runArgs = await denoRunArgs(options.repoRoot);
  const cwd = options.repoRoot;
  const ferry: Ferry = Object.assign(
    (args: string[]) => timedOk(Deno.execPath(), [...runArgs, ...args], { cwd }),
    { raw: (args: string[]) => timed(Deno.execPath(), [...runArgs, ...args], { cwd }) },
  );
  const log = options.log;
  log(`\n== delta: ${IMAGES} images of ${layerBytes / 1048576} MiB, ${CHANGED} changed`);

  // The source store: imgNN:1.0 and imgNN:1.1 (equal to 1.0 but for the changed ones).
  const source = join(dir, "source");
  const specs = [];
  for (let n = 0; n < IMAGES; n++) {
    const layer = { seed: `delta-bench-${n}`, size: layerBytes };
    specs.push({ name: `localhost/img${pad(n)}:1.0`, layers: [layer] });
    const next = changes(n) ? { seed: `delta-bench-${n}-1.1`, size: layerBytes } : layer;
    specs.push({ name: `localhost/img${pad(n)}:1.1`, layers: [next] });
  }
  const built = await makeLayout(source, specs) as BuiltImage[];
  const v10 = built.filter((_, i) => i % 2 === 0);
  const v11 = built.filter((_, i) => i % 2 === 1);

  const cases = [
    await plainSet(ferry, dir, source, v11, log),
    await clusterImage(ferry, dir, source, v10, v11, log),
  ];
  await Deno.remove(dir, { recursive: true });
  return {
    date: timestamp(),
    command: options.command,
    ...(options.machine ? { machine: options.machine } : {}),
    images: IMAGES,
    changed: CHANGED,
    layerBytes,
    cases,
  };
}

/** The site's side: the delta alone is refused; after the base it loads. */
async function atSite(
  ferry: Ferry,
  site: string,
  base: string,
  delta: string,
): Promise<{ refusedAlone: boolean; loadMs: number }> {
  const probe = `${site}-probe`;
  const alone = await ferry.raw(["load", "--root", probe, "-i", delta]);
  const blobs = await Array.fromAsync(Deno.readDir(join(probe, "blobs", "sha256")))
    .catch(() => []);
  const refusedAlone = alone.code === 1 && /differential archive/.test(alone.stderr) &&
    blobs.length === 0;
  const first = await ferry(["load", "--root", site, "-i", base]);
  const second = await ferry(["load", "--root", site, "-i", delta]);
  return { refusedAlone, loadMs: first.wallMs + second.wallMs };
}

async function plainSet(
  ferry: Ferry,
  dir: string,
  source: string,
  v11: BuiltImage[],
  log: (line: string) => void,
): Promise<DeltaCase> {
  const names = (tag: string) => v11.map((_, n) => `localhost/img${pad(n)}:${tag}`);
  const v1 = join(dir, "set-1.0.tar");
  const full = join(dir, "set-1.1.tar");
  const delta = join(dir, "set-update.tar");
  await ferry(["save", "--root", source, "-o", v1, ...names("1.0")]);
  await ferry(["save", "--root", source, "-o", full, ...names("1.1")]);
  const save = await ferry(["save", "--root", source, "-o", delta, "--base", v1, ...names("1.1")]);
  const changedBytes = newBytes(await blobSizes(ferry, full), await blobSizes(ferry, v1));
  const record = JSON.parse((await run("tar", ["xOf", delta, "ferry-delta.json"])).stdout);
  const carried = (await run("tar", ["tf", delta])).stdout.split("\n")
    .filter((l) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(l)).length;

  const site = join(dir, "set-site");
  const { refusedAlone, loadMs } = await atSite(ferry, site, v1, delta);
  let identical = 0;
  for (const [n, image] of v11.entries()) {
    const got = await inspectRaw(`oci:${site}:localhost/img${pad(n)}:1.1`);
    if (got.digest === image.digest) identical++;
  }
  const result: DeltaCase = {
    name: "plain image set",
    fullBytes: await fileSize(full),
    deltaBytes: await fileSize(delta),
    changedBytes,
    carriedBlobs: carried,
    omittedBlobs: record.omitted.length,
    saveMs: save.wallMs,
    loadMs,
    refusedAlone,
    identical,
    checked: v11.length,
  };
  log(`plain set: delta ${result.deltaBytes} bytes for ${changedBytes} changed`);
  return result;
}

async function clusterImage(
  ferry: Ferry,
  dir: string,
  source: string,
  v10: BuiltImage[],
  v11: BuiltImage[],
  log: (line: string) => void,
): Promise<DeltaCase> {
  const deploy = (tag: string) =>
    v11.map((_, n) => `image: sealos.hub:5000/img${pad(n)}:${tag}\n`).join("");
  /** A context of its own for each version, its registry/ saved afresh. */
  const context = async (tag: string) => {
    const ctx = join(dir, `ctx-${tag}`);
    await Deno.mkdir(join(ctx, "manifests"), { recursive: true });
    await Deno.writeTextFile(
      join(ctx, "Kubefile"),
      'FROM scratch\nCOPY . .\nCMD ["bash install.sh"]\n',
    );
    await Deno.writeTextFile(join(ctx, "install.sh"), "#!/bin/sh\nkubectl apply -f manifests\n");
    await Deno.writeTextFile(join(ctx, "manifests", "deploy.yaml"), deploy(tag));
    for (let n = 0; n < v10.length; n++) {
      await ferryCopy(
        `oci:${source}:localhost/img${pad(n)}:${tag}`,
        `registry-dir:${join(ctx, "registry")}:img${pad(n)}:${tag}`,
      );
    }
    return ctx;
  };
  const store = join(dir, "store");
  const build = (tag: string, ctx: string) =>
    ferry(["build", "--root", store, "--save-image=false", "-t", `my-app:${tag}`, ctx]);
  await build("1.0", await context("1.0"));

  // 1.1 from a fresh context: every image tagged 1.1, saved again (new files, new times).
  const rebuilt = await build("1.1", await context("1.1"));
  const layers = rebuilt.stderr.match(/^--> layer /gm)?.length ?? 0;
  const reusedLayers = rebuilt.stderr.match(/unchanged inputs: reused/g)?.length ?? 0;

  const v1 = join(dir, "my-app-1.0.tar");
  const full = join(dir, "my-app-1.1.tar");
  const delta = join(dir, "my-app-update.tar");
  await ferry(["save", "--root", store, "-o", v1, "my-app:1.0"]);
  await ferry(["save", "--root", store, "-o", full, "my-app:1.1"]);
  const save = await ferry(["save", "--root", store, "-o", delta, "--base", v1, "my-app:1.1"]);
  // What changed: the 1.1 images' blobs that 1.0's images lack.
  const before = new Set(
    v10.flatMap((i) => [i.digest, i.config.digest, ...i.layers.map((l) => l.digest)]),
  );
  let changedBytes = 0;
  const counted = new Set<string>();
  for (const i of v11) {
    for (const b of [i, i.config, ...i.layers]) {
      if (before.has(b.digest) || counted.has(b.digest)) continue;
      counted.add(b.digest);
      changedBytes += b.size;
    }
  }
  const record = JSON.parse((await run("tar", ["xOf", delta, "ferry-delta.json"])).stdout);
  const carried = (await run("tar", ["tf", delta])).stdout.split("\n")
    .filter((l) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(l)).length;

  const site = join(dir, "cluster-site");
  const { refusedAlone, loadMs } = await atSite(ferry, site, v1, delta);
  const builtDigest = JSON.parse(
    (await ferry(["inspect", "--json", "--root", store, "my-app:1.1"])).stdout,
  ).digest;
  let identical = (await inspectRaw(`oci:${site}:localhost/my-app:1.1`)).digest === builtDigest
    ? 1
    : 0;
  // The images inside: unpack the loaded cluster image and serve its registry/.
  const bundle = join(dir, "bundle");
  await run(requirePeer("umoci"), [
    "unpack",
    "--rootless",
    "--image",
    `${site}:localhost/my-app:1.1`,
    bundle,
  ]);
  {
    await using served = await startRegistry({
      root: join(bundle, "rootfs", "registry"),
      readOnly: true,
    });
    for (const [n, image] of v11.entries()) {
      if ((await inspectRaw(`${served.host}/img${pad(n)}:1.1`)).digest === image.digest) {
        identical++;
      }
    }
  }
  const result: DeltaCase = {
    name: "cluster image",
    fullBytes: await fileSize(full),
    deltaBytes: await fileSize(delta),
    changedBytes,
    carriedBlobs: carried,
    omittedBlobs: record.omitted.length,
    saveMs: save.wallMs,
    loadMs,
    refusedAlone,
    identical,
    checked: 1 + v11.length,
    layers,
    reusedLayers,
  };
  log(
    `cluster image: delta ${result.deltaBytes} bytes for ${changedBytes} changed; ` +
      `${reusedLayers}/${layers} layers reused`,
  );
  return result;
}
