/**
 * What carrying signatures costs `ferry registry save` (issue 13: a save of 10 signed images
 * within 1.1× the same save unsigned). Two docker-registry 2.8 sources hold the same 10 images;
 * in the second each image also has a cosign signature (`sha256-<hex>.sig`) and an SBOM listed
 * under its fallback tag (docker-registry has no referrers API: the slower path). The same two
 * directories are also served by `ferry registry serve filesystem --read-only` (this checkout's),
 * which has the referrers API: there a signed image's SBOM is found by one request per image.
 * ferry as it ships saves all 10 from each source, and from the first with `--no-referrers`, in
 * rotated order, `--runs` times; the medians and their ratios are printed (each source's signed
 * save against its own unsigned one), of the wall time and of ferry's CPU time (user and system,
 * every thread: on a machine shared with other work the steadier of the two). With `--baseline DIR` (another checkout, e.g. /work/main)
 * its ferry runs the same saves, alternating with this one, so the ratios come from one run on
 * one machine.
 *
 * ```sh
 * deno run -A bench/save/signed.ts --runs 5 --mib 8 [--baseline /work/main]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { defaultRegistryClient } from "../../src/remote/mod.ts";
import { bytesSource } from "../../src/store.ts";
import { makeImage, pushImage, randomBytes, startRegistry } from "../../tests/support/mod.ts";
import {
  cosignTag,
  fallbackTagOf,
  makeArtifact,
  makeReferrersIndex,
  makeSignature,
} from "../../tests/support/referrers.ts";
import { denoRunArgs, REPO_ROOT } from "../lib/ferry.ts";
import { spawnListening, timed } from "../lib/proc.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    mib: { type: "string", default: "8" },
    images: { type: "string", default: "10" },
    baseline: { type: "string" },
  },
});
const runs = Number(values.runs);
const mib = Number(values.mib);
const count = Number(values.images);

await using plain = await startRegistry();
await using signed = await startRegistry();
const client = await defaultRegistryClient({ tlsVerify: false });
const names: string[] = [];
try {
  for (let i = 0; i < count; i++) {
    const name = `bench/img${i}`;
    names.push(name);
    // Two layers of random bytes (incompressible, as real layers are after gzip).
    const half = Math.round(mib * 1024 * 1024 / 2);
    const image = makeImage({ layers: [randomBytes(half), randomBytes(half)] });
    for (const host of [plain.host, signed.host]) {
      await pushImage(client.registry(host).repository(name), image, "1");
    }
    const target = client.registry(signed.host).repository(name);
    const subject = image.manifest.desc;
    await pushImage(target, makeSignature(subject), cosignTag(subject.digest, ".sig"));
    const sbom = makeArtifact(subject);
    await pushImage(target, sbom);
    const list = makeReferrersIndex([sbom.manifest.desc]);
    await target.push(list.desc, bytesSource(list.bytes));
    await target.tag(list.desc, fallbackTagOf(subject.digest));
  }
} finally {
  await client.close();
}

/**
 * `ferry registry serve filesystem ROOT --read-only` of this checkout on a free port (it answers
 * the referrers API from what the directory holds), ready once it printed its address.
 */
async function startFerryServe(root: string): Promise<AsyncDisposable & { host: string }> {
  const child = await spawnListening({
    program: Deno.execPath(),
    args: await denoRunArgs(REPO_ROOT, {
      denoFlags: ["--quiet"],
      script: ["main.ts", "registry", "serve", "fs", root, "-p", "0", "--read-only"],
    }),
    cwd: REPO_ROOT,
    what: "ferry registry serve",
  });
  return { host: new URL(child.url).host, [Symbol.asyncDispose]: child.stop };
}

// The same directories served with the referrers API (docker-registry keeps serving them too;
// neither writes).
await using plainApi = await startFerryServe(plain.root);
await using signedApi = await startFerryServe(signed.root);

const tmp = await Deno.makeTempDir({ prefix: "ferry-bench-signed-" });
const kinds = {
  unsigned: (root: string, dir: string) => save(root, plain.host, dir, []),
  "unsigned --no-referrers": (root: string, dir: string) =>
    save(root, plain.host, dir, ["--no-referrers"]),
  signed: (root: string, dir: string) => save(root, signed.host, dir, []),
  "unsigned, referrers API": (root: string, dir: string) => save(root, plainApi.host, dir, []),
  "signed, referrers API": (root: string, dir: string) => save(root, signedApi.host, dir, []),
} as const;
type Kind = keyof typeof kinds;
/** The unsigned save each save is measured against (same source server). */
const baseOf = (kind: Kind): Kind =>
  kind.endsWith("referrers API") ? "unsigned, referrers API" : "unsigned";
const checkouts = values.baseline ? [REPO_ROOT, values.baseline] : [REPO_ROOT];
const variants = checkouts.flatMap((root) =>
  (Object.keys(kinds) as Kind[]).map((kind) => ({
    root,
    kind,
    times: [] as number[],
    cpu: [] as number[],
  }))
);

/** One save's wall and CPU seconds. */
interface Measured {
  seconds: number;
  cpu: number;
}

async function save(root: string, host: string, dir: string, extra: string[]): Promise<Measured> {
  const images = names.map((n) => `${host}/${n}:1`).join(",");
  const run = await timed(Deno.execPath(), [
    ...await denoRunArgs(root, { denoFlags: ["--quiet"] }),
    "registry",
    "save",
    "--tls-verify=false",
    "--quiet",
    "--images",
    images,
    "--registry-dir",
    dir,
    ...extra,
  ], { cwd: root });
  if (run.code !== 0) throw new Error(run.stderr);
  return { seconds: run.wallMs / 1000, cpu: run.userS + run.sysS };
}

try {
  for (let run = 0; run < runs; run++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + run) % variants.length];
      const dir = join(tmp, `${run}-${i}`);
      const { seconds, cpu } = await kinds[variant.kind](variant.root, dir);
      variant.times.push(seconds);
      variant.cpu.push(cpu);
      await Deno.remove(dir, { recursive: true });
    }
  }
} finally {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${count} images of ${mib} MiB, ${runs} runs each (load: ${Deno.loadavg().join(" ")})`);
for (const root of checkouts) {
  const mine = variants.filter((v) => v.root === root);
  if (checkouts.length > 1) console.log(root);
  for (const { kind, times, cpu } of mine) {
    const base = mine.find((v) => v.kind === baseOf(kind))!;
    const m = median(times);
    const c = median(cpu);
    const wallRatio = (m / median(base.times)).toFixed(3);
    const cpuRatio = (c / median(base.cpu)).toFixed(3);
    console.log(
      `${kind.padEnd(24)} median ${m.toFixed(2)} s (${wallRatio}×), CPU ${
        c.toFixed(2)
      } s (${cpuRatio}×)  runs ${times.map((x) => x.toFixed(2)).join(" ")}`,
    );
  }
}
