/**
 * Registry directories arrive from elsewhere (a USB stick, an archive, another tool): a directory
 * ferry wrote, with link files, `_manifests` entries, blobs, upload sessions and their data
 * mutated, swapped for directories or symlinks, removed or joined by strays, is served by
 * `registry serve` with answers below 500 (a 404 for what is not there; a damaged store is
 * reported to the operator, never a thrown `TypeError`) and checked by `registry verify`, which
 * lists problems and never throws.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isFerryError } from "../../src/errors.ts";
import { OCI_INDEX, OCI_MANIFEST } from "../../src/media_types.ts";
import { RegistryDir } from "../../src/registry_dir/mod.ts";
import { verifyRegistryDir } from "../../src/registry_dir/verify.ts";
import { createRegistryHandler } from "../../src/server/mod.ts";
import { byteMutator, Rng } from "../support/fuzz.ts";
import { fixtureImage, REPO, TAG } from "../support/fuzz_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? "1");
const SEED = SCALE === 1 ? 1 : Date.now() % 1_000_000;
const RUNS = 20 * SCALE;
/** Longest one request, or one verify, may take. */
const MAX_MS = 3000;

const { image, artifact, index } = fixtureImage();
const UPLOAD_ID = "0b7e1c7e-8d4e-4a51-9c1f-3c2b1e0d9a77";

/** A directory as ferry writes it: the fixture pushed through `registry serve`, one upload left. */
async function pristine(root: string): Promise<void> {
  const dir = await RegistryDir.open(root);
  const handler = createRegistryHandler(dir, { purgeUploadsAfterMs: 0 });
  const send = async (method: string, path: string, body?: Uint8Array, type?: string) => {
    const res = await handler(
      new Request(`http://registry.test${path}`, {
        method,
        body: body as Uint8Array<ArrayBuffer> | undefined,
        headers: type ? { "Content-Type": type } : {},
      }),
    );
    await res.body?.cancel();
    assert.ok(res.status < 300, `${method} ${path}: ${res.status}`);
    return res;
  };
  try {
    for (const b of [image.config, ...image.layers, artifact.config, ...artifact.layers]) {
      await send("POST", `/v2/${REPO}/blobs/uploads/?digest=${b.desc.digest}`, b.bytes);
    }
    await send("PUT", `/v2/${REPO}/manifests/${TAG}`, image.manifest.bytes, OCI_MANIFEST);
    await send("PUT", `/v2/${REPO}/manifests/art`, artifact.manifest.bytes, OCI_MANIFEST);
    await send("PUT", `/v2/${REPO}/manifests/multi`, index.bytes, OCI_INDEX);
    await send(
      "POST",
      `/v2/other/blobs/uploads/?mount=${image.layers[0].desc.digest}&from=${REPO}`,
    );
    const loc = (await send("POST", `/v2/${REPO}/blobs/uploads/`)).headers.get("location")!;
    await send("PATCH", loc, encoder.encode("hello"));
    // The session under a fixed id, so that requests can name it.
    const id = loc.split("/").pop()!;
    const uploads = `${root}/docker/registry/v2/repositories/${REPO}/_uploads`;
    await Deno.rename(`${uploads}/${id}`, `${uploads}/${UPLOAD_ID}`);
  } finally {
    await handler.close();
    await dir.close();
  }
}

/** Every entry under `root` (relative paths), directories first. */
async function entries(root: string, rel = ""): Promise<{ files: string[]; dirs: string[] }> {
  const files: string[] = [];
  const dirs: string[] = [];
  for await (const e of Deno.readDir(rel ? `${root}/${rel}` : root)) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) {
      dirs.push(path);
      const inner = await entries(root, path);
      files.push(...inner.files);
      dirs.push(...inner.dirs);
    } else if (e.isFile) files.push(path);
  }
  return { files: files.sort(), dirs: dirs.sort() };
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

const ODD_NAMES = [
  "sha256:zz",
  "..x",
  "UPPER",
  "a b",
  "x".repeat(255),
  "line\nbreak",
  "_manifests",
  "link",
  "data",
  "sha512",
  "0".repeat(64),
  "-dash",
];

const mutateBytes = byteMutator({ dictionary: ["sha256:", "\n", " ", "\ufeff", "sha512:"] });

/** Applies 1 to 3 random damages to the directory at `root`; returns what was done. */
async function damage(root: string, rng: Rng, outside: string): Promise<string[]> {
  const done: string[] = [];
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const { files, dirs } = await entries(root);
    const v2dirs = dirs.filter((d) => d.startsWith("docker/registry/v2/"));
    const file = files.length ? rng.pick(files) : undefined;
    const dir = v2dirs.length ? rng.pick(v2dirs) : undefined;
    const op = rng.int(13);
    try {
      if (op <= 4 && file) {
        const bytes = await Deno.readFile(`${root}/${file}`);
        await Deno.writeFile(`${root}/${file}`, mutateBytes(bytes, rng));
        done.push(`bytes of ${file}`);
      } else if (op === 5 && file) {
        await Deno.remove(`${root}/${file}`);
        done.push(`removed ${file}`);
      } else if (op === 6 && file) {
        await Deno.remove(`${root}/${file}`);
        await Deno.mkdir(`${root}/${file}/data`, { recursive: true });
        done.push(`directory for ${file}`);
      } else if (op === 7 && file) {
        const to = rng.pick([outside, `${root}/${rng.pick(files)}`, "/dev/zero", file, "."]);
        await Deno.remove(`${root}/${file}`);
        await Deno.symlink(to, `${root}/${file}`);
        done.push(`symlink ${file} -> ${to}`);
      } else if (op === 8 && dir) {
        await Deno.remove(`${root}/${dir}`, { recursive: true });
        done.push(`removed ${dir}/`);
      } else if (op === 9 && dir) {
        await Deno.remove(`${root}/${dir}`, { recursive: true });
        await Deno.writeFile(`${root}/${dir}`, rng.bytes(rng.int(100)));
        done.push(`file for ${dir}/`);
      } else if (op === 10 && dir) {
        const name = rng.pick(ODD_NAMES);
        const where = `${root}/${dir}/${name}`;
        if (rng.chance(0.5)) await Deno.mkdir(`${where}/link`, { recursive: true });
        else await Deno.writeFile(where, encoder.encode(rng.pick(["sha256:", "", "x"])));
        done.push(`stray ${dir}/${name}`);
      } else if (op === 12 && file) {
        // A named pipe where a file should be: opening it to read would wait for a writer.
        await Deno.remove(`${root}/${file}`);
        const made = await new Deno.Command("mkfifo", { args: [`${root}/${file}`] }).output();
        done.push(made.success ? `fifo for ${file}` : "(no mkfifo)");
      } else if (dir) {
        const to = `${dir.slice(0, dir.lastIndexOf("/"))}/${rng.pick(ODD_NAMES)}`;
        if (rng.chance(0.5)) await Deno.rename(`${root}/${dir}`, `${root}/${to}`);
        else {
          await Deno.remove(`${root}/${dir}`, { recursive: true });
          await Deno.symlink(rng.pick([outside, "..", "."]), `${root}/${dir}`);
        }
        done.push(`moved or linked ${dir}/`);
      }
    } catch (err) {
      done.push(`(${err instanceof Error ? err.name : err})`);
    }
  }
  return done;
}

/** What a client of the damaged directory asks. */
function requests(): [string, string][] {
  const digests = [
    image.manifest.desc.digest,
    artifact.manifest.desc.digest,
    index.desc.digest,
    image.config.desc.digest,
    ...image.layers.map((l) => l.desc.digest),
  ];
  return [
    ["GET", "/v2/"],
    ["GET", "/v2/_catalog"],
    ["GET", `/v2/${REPO}/tags/list`],
    ["GET", `/v2/other/tags/list`],
    ["GET", `/v2/${REPO}/manifests/${TAG}`],
    ["HEAD", `/v2/${REPO}/manifests/art`],
    ["GET", `/v2/${REPO}/manifests/multi`],
    ["GET", `/v2/${REPO}/referrers/${image.manifest.desc.digest}`],
    ...digests.map((d): [string, string] => ["GET", `/v2/${REPO}/manifests/${d}`]),
    ...digests.map((d): [string, string] => ["GET", `/v2/${REPO}/blobs/${d}`]),
    ["HEAD", `/v2/other/blobs/${image.layers[0].desc.digest}`],
    ["GET", `/v2/${REPO}/blobs/uploads/${UPLOAD_ID}`],
    ["PATCH", `/v2/${REPO}/blobs/uploads/${UPLOAD_ID}`],
  ];
}

async function timed<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer in ${MAX_MS} ms`)), MAX_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Serves and verifies the directory at `root`, checking every answer. */
async function check(root: string, label: string): Promise<void> {
  let dir: RegistryDir;
  try {
    dir = await RegistryDir.open(root);
  } catch (err) {
    if (isFerryError(err)) return; // refused at open, with a clear message
    throw err;
  }
  const errors: unknown[] = [];
  const handler = createRegistryHandler(dir, {
    purgeUploadsAfterMs: 0,
    onError: (err) => errors.push(err),
  });
  try {
    for (const [method, path] of requests()) {
      const what = `${label}: ${method} ${path}`;
      const res = await timed(
        what,
        handler(
          new Request(`http://registry.test${path}`, {
            method,
            body: method === "PATCH" ? encoder.encode(" world") : undefined,
          }),
        ),
      );
      const body = await timed(what, res.arrayBuffer().catch((err) => err as Error));
      const failure = errors.find((e) => !isFerryError(e));
      if (failure) throw new Error(`${what}: the handler failed: ${(failure as Error).stack}`);
      if (res.status >= 500) {
        // A damaged store is the operator's problem: told through onError as a FerryError (one
        // line saying what and where), the client gets a generic 500.
        assert.ok(errors.length > 0, `${what}: ${res.status} without a reason`);
      }
      if (body instanceof Error) {
        // The body broke off mid-way (a blob file shorter than its size): only a stream error.
        continue;
      }
      if (res.status >= 400 && method !== "HEAD") {
        const doc = JSON.parse(decoder.decode(body));
        assert.ok(Array.isArray(doc.errors), `${what}: ${decoder.decode(body)}`);
      }
    }
    const report = await timed(`${label}: verify`, verifyRegistryDir(dir));
    for (const p of report.problems) {
      assert.ok(p.message && !p.message.includes("\n  at "), `${label}: verify: ${p.message}`);
    }
    // The upload purge walks every repository's sessions (at start, then daily).
    const purger = createRegistryHandler(dir, {
      purgeUploadsAfterMs: 1,
      onError: (err) => errors.push(err),
    });
    await timed(`${label}: purge`, purger.close());
    const failure = errors.find((e) => !isFerryError(e));
    if (failure) throw new Error(`${label}: the purge failed: ${(failure as Error).stack}`);
  } finally {
    await handler.close();
    await dir.close();
  }
}

Deno.test("fuzz: damaged registry directories are served and verified without a crash", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-fuzz-dir-" });
  try {
    const outside = `${tmp}/outside`;
    await Deno.writeTextFile(outside, "sha256:" + "a".repeat(64));
    await pristine(`${tmp}/pristine`);
    await check(`${tmp}/pristine`, "pristine");
    for (let run = 0; run < RUNS; run++) {
      const seed = SEED + run;
      const root = `${tmp}/run`;
      await copyTree(`${tmp}/pristine`, root);
      const done = await damage(root, new Rng(seed), outside);
      try {
        await check(root, `seed ${seed} [${done.join("; ")}]`);
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("fuzz: every file of a registry directory swapped for a named pipe or emptied", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-fuzz-dir-" });
  try {
    await pristine(`${tmp}/pristine`);
    const { files } = await entries(`${tmp}/pristine`);
    // Every data file becomes a pipe; links, alike but many, take turns being a pipe or empty.
    const cases = files.filter((f) => f.startsWith("docker/")).map((file, i) => ({
      file,
      kind: file.endsWith("/link") && i % 2 === 0 ? "empty" : "fifo",
    }));
    // The pipes made at once (one process), each moved into place in its turn.
    const pipes = cases.map((_, i) => `${tmp}/pipe-${i}`);
    await new Deno.Command("mkfifo", { args: pipes }).output();
    for (const [i, { file, kind }] of cases.entries()) {
      const root = `${tmp}/run`;
      await copyTree(`${tmp}/pristine`, root);
      await Deno.remove(`${root}/${file}`);
      if (kind === "empty") await Deno.writeFile(`${root}/${file}`, new Uint8Array());
      else await Deno.rename(pipes[i], `${root}/${file}`);
      try {
        await check(root, `${kind} for ${file}`);
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
