/**
 * The least a Deno program must do to save blobs the way ferry does: `fetch` each blob, SHA-256 it,
 * write it to a file, fsync, rename; six blobs at a time. No registry protocol, no layout, no
 * retries. Comparing ferry with this separates what ferry adds from what the runtime costs.
 *
 * The body is read as ferry's registry directory reads it: BYOB into a buffer of up to 1 MiB (the
 * runtime copies what has arrived straight into it, no chunk allocated), each read hashed and
 * written at once, two buffers taking turns so that one is written while the next read fills the
 * other. (Reading fetch's own 64 KiB chunks instead costs about 40% more CPU for the same bytes.)
 *
 * Usage: `deno run -A bench/save/floor.ts JOBS.json OUT_DIR [STEPS]`, where JOBS.json holds
 * `[{url, digest, size}]` and STEPS is how far to go, to see what each step costs: `read` (fetch
 * and drop the bytes), `hash` (read and hash), `write` (read, hash, write, no fsync) or `all`
 * (the default: also fsync and rename).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

/** One blob to fetch. */
export interface FloorJob {
  url: string;
  digest: string;
  size: number;
}

/** How far {@link saveAll} goes with each blob. */
export type FloorSteps = "read" | "hash" | "write" | "all";

/** The steps in order, each including the ones before it. */
export const FLOOR_STEPS: readonly FloorSteps[] = ["read", "hash", "write", "all"];

const BATCH = 1024 * 1024;
const PARALLEL = 6;

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await file.write(bytes.subarray(at));
}

async function save(
  body: ReadableStream<Uint8Array>,
  file: Deno.FsFile | undefined,
  hashing: boolean,
): Promise<string | undefined> {
  const hash = hashing ? createHash("sha256") : undefined;
  const reader = body.getReader({ mode: "byob" });
  const buffers = [new ArrayBuffer(BATCH), new ArrayBuffer(BATCH)];
  let turn = 0;
  let writing: Promise<void> = Promise.resolve();
  for (;;) {
    const { value, done } = await reader.read(new Uint8Array(buffers[turn]));
    if (done || !value) break;
    buffers[turn] = value.buffer as ArrayBuffer;
    hash?.update(value);
    if (file) {
      await writing;
      writing = writeAll(file, value);
    }
    turn ^= 1;
  }
  await writing;
  return hash?.digest("hex");
}

/** Fetches, hashes, writes, fsyncs and renames every job into `outDir` (or fewer `steps`). */
export async function saveAll(
  jobs: FloorJob[],
  outDir: string,
  steps: FloorSteps = "all",
): Promise<void> {
  const level = FLOOR_STEPS.indexOf(steps);
  await Deno.mkdir(outDir, { recursive: true });
  const queue = [...jobs];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const hex = job.digest.replace(/^sha256:/, "");
      const tmp = join(outDir, `${hex}.partial`);
      const res = await fetch(job.url, { headers: { "accept-encoding": "identity" } });
      if (!res.ok || !res.body) throw new Error(`${job.url}: ${res.status}`);
      const file = level >= 2
        ? await Deno.open(tmp, { write: true, create: true, truncate: true })
        : undefined;
      try {
        const got = await save(res.body, file, level >= 1);
        if (got !== undefined && got !== hex) throw new Error(`${job.url}: digest sha256:${got}`);
        if (level >= 3) await file?.sync();
      } finally {
        file?.close();
      }
      if (file) await Deno.rename(tmp, join(outDir, hex));
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, jobs.length) }, worker));
}

if (import.meta.main) {
  const [jobsPath, outDir, steps = "all"] = Deno.args;
  if (!jobsPath || !outDir || !FLOOR_STEPS.includes(steps as FloorSteps)) {
    console.error(`usage: floor.ts JOBS.json OUT_DIR [${FLOOR_STEPS.join("|")}]`);
    Deno.exit(2);
  }
  await saveAll(JSON.parse(await Deno.readTextFile(jobsPath)), outDir, steps as FloorSteps);
}
