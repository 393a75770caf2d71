/**
 * What carrying signatures costs `ferry registry save` (issue 13: a save of 10 signed images
 * within 1.1× the same save unsigned). Two docker-registry 2.8 sources hold the same 10 images;
 * in the second each image also has a cosign signature (`sha256-<hex>.sig`) and an SBOM listed
 * under its fallback tag (docker-registry has no referrers API: the slower path). ferry as it
 * ships saves all 10 from each source, and from the first with `--no-referrers`, in rotated order,
 * `--runs` times; the medians and their ratios are printed. With `--baseline DIR` (another
 * checkout, e.g. /work/main) its ferry runs the same three saves, alternating with this one, so
 * the two ratios come from one run on one machine.
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

const tmp = await Deno.makeTempDir({ prefix: "ferry-bench-signed-" });
const kinds = {
  unsigned: (root: string, dir: string) => save(root, plain.host, dir, []),
  "unsigned --no-referrers": (root: string, dir: string) =>
    save(root, plain.host, dir, ["--no-referrers"]),
  signed: (root: string, dir: string) => save(root, signed.host, dir, []),
} as const;
type Kind = keyof typeof kinds;
const checkouts = values.baseline ? [REPO_ROOT, values.baseline] : [REPO_ROOT];
const variants = checkouts.flatMap((root) =>
  (Object.keys(kinds) as Kind[]).map((kind) => ({ root, kind, times: [] as number[] }))
);

async function save(root: string, host: string, dir: string, extra: string[]): Promise<number> {
  const images = names.map((n) => `${host}/${n}:1`).join(",");
  const start = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
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
    ],
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - start) / 1000;
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return seconds;
}

try {
  for (let run = 0; run < runs; run++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + run) % variants.length];
      const dir = join(tmp, `${run}-${i}`);
      variant.times.push(await kinds[variant.kind](variant.root, dir));
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
  const base = median(mine.find((v) => v.kind === "unsigned")!.times);
  if (checkouts.length > 1) console.log(root);
  for (const { kind, times } of mine) {
    const m = median(times);
    console.log(
      `${kind.padEnd(24)} median ${m.toFixed(2)} s  (${(m / base).toFixed(3)}×)  runs ${
        times.map((x) => x.toFixed(2)).join(" ")
      }`,
    );
  }
}
