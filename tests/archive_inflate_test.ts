/**
 * Compressed archives from untrusted media, end to end: `ferry copy oci-archive:X.tar.gz` keeps its
 * decompressed copy where `$TMPDIR` says and leaves nothing there when it is interrupted mid-way,
 * and a decompression bomb stops at the limit with one line that says how to raise it.
 */
import assert from "node:assert/strict";
import { writeAll } from "../src/fs_util.ts";
import { encodeHeader } from "../src/tar/mod.ts";
import { pseudoRandomChunks, tempDir } from "./support/mod.ts";
import { ferry, type FerryRun } from "./ferry_cli.ts";

const hasProcFs = (() => {
  try {
    return Deno.statSync("/proc/self/fd").isDirectory;
  } catch {
    return false;
  }
})();

async function gzip(parts: Iterable<Uint8Array>): Promise<Uint8Array> {
  const stream = new Blob([...parts] as BlobPart[]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** Size of a file under `dir` that process `pid` holds open (deleted or not), if any. */
async function openFileIn(pid: number, dir: string): Promise<number | undefined> {
  for await (const fd of Deno.readDir(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = await Deno.readLink(`/proc/${pid}/fd/${fd.name}`);
    } catch {
      continue; // closed meanwhile
    }
    if (!target.startsWith(`${dir}/`)) continue;
    try {
      return (await Deno.stat(`/proc/${pid}/fd/${fd.name}`)).size;
    } catch {
      continue;
    }
  }
  return undefined;
}

Deno.test({
  name: "a signal mid-decompression leaves nothing in TMPDIR (SIGINT, SIGTERM, SIGKILL)",
  ignore: !hasProcFs,
  fn: async () => {
    // The gzip of a tar whose first member is 12 MiB of noise: ferry is given the first 6 MiB
    // through a pipe, so it is certainly decompressing when the signal comes.
    const noise = [...pseudoRandomChunks("inflate-signal", 12 * 1024 * 1024)];
    const gz = await gzip([
      encodeHeader({ name: "blobs/sha256/big", size: 12 * 1024 * 1024 }),
      ...noise,
    ]);
    const firstPart = gz.subarray(0, 6 * 1024 * 1024);
    for (const signal of ["SIGINT", "SIGTERM", "SIGKILL"] as const) {
      await using dir = await tempDir("ferry-inflate-signal-");
      const tmp = dir.join("tmp");
      await Deno.mkdir(tmp);
      const realTmp = await Deno.realPath(tmp);
      const fifo = dir.join("big.tar.gz");
      assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);

      let child: Deno.ChildProcess | undefined;
      let exited = false;
      const run: Promise<FerryRun> = ferry(
        ["copy", `oci-archive:${fifo}`, `oci:${dir.join("out")}:x`],
        { env: { TMPDIR: tmp }, onSpawn: (c) => child = c },
      ).finally(() => exited = true);
      // Opening a pipe's write end waits for its reader: ferry opening the archive.
      const writer = await Promise.race([
        Deno.open(fifo, { write: true }),
        run.then((r) => {
          throw new Error(`ferry exited before reading the archive: ${r.stderr}`);
        }),
      ]);
      try {
        await writeAll(writer, firstPart);
        // Wait until the decompressed copy has grown: ferry is mid-way through the archive.
        let size: number | undefined;
        for (let i = 0; i < 3000 && !exited; i++) {
          size = await openFileIn(child!.pid, realTmp);
          if (size !== undefined && size >= 1024 * 1024) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(!exited, `ferry exited early: ${exited ? (await run).stderr : ""}`);
        assert.ok(size !== undefined && size >= 1024 * 1024, `no temp file in ${tmp} (${size})`);
        child!.kill(signal);
        const result = await run;
        assert.notEqual(result.code, 0, signal);
      } finally {
        try {
          writer.close();
        } catch {
          // closed by the broken pipe
        }
      }
      assert.deepEqual(await listDir(tmp), [], `left behind after ${signal}`);
    }
  },
});

Deno.test("a decompression bomb stops at the limit with one line; the variable raises it", async () => {
  await using dir = await tempDir("ferry-inflate-limit-");
  const tmp = dir.join("tmp");
  await Deno.mkdir(tmp);
  const size = 3 * 1024 * 1024;
  const bomb = dir.join("bomb.tar.gz");
  await Deno.writeFile(
    bomb,
    await gzip([encodeHeader({ name: "blobs/sha256/zeros", size }), new Uint8Array(size)]),
  );
  const copy = (env: Record<string, string>) =>
    ferry(["copy", `oci-archive:${bomb}`, `oci:${dir.join("out")}:x`], {
      env: { TMPDIR: tmp, ...env },
    });

  const limited = await copy({ FERRY_MAX_INFLATED_SIZE: "1MiB" });
  assert.equal(limited.code, 1);
  assert.equal(
    limited.stderr,
    `ferry: ${bomb}: decompresses to more than 1.0MiB (FERRY_MAX_INFLATED_SIZE=1MiB); if the archive is trusted, allow more with FERRY_MAX_INFLATED_SIZE=<size, e.g. 64GiB>\n`,
  );
  // With room enough it is read (and found to be no image archive).
  const raised = await copy({ FERRY_MAX_INFLATED_SIZE: "8MiB" });
  assert.equal(raised.code, 1);
  assert.match(raised.stderr, /^ferry: .*not an oci-archive/);

  const bad = await copy({ FERRY_MAX_INFLATED_SIZE: "lots" });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^ferry: FERRY_MAX_INFLATED_SIZE="lots" is not a size/);
  assert.deepEqual(await listDir(tmp), []);
});
