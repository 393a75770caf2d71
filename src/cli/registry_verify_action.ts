/**
 * What `ferry registry verify` does once its command line is parsed. Loaded by the command only
 * when it runs, so that defining it (for parsing, `--help` and completions) stays cheap.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { RegistryDir, verifyRegistryDir } from "../registry_dir/mod.ts";
import type { VerifySnapshot } from "./json.ts";
import { formatSize, type Output } from "./output.ts";
import type { RegistryVerifyOptions } from "./registry_verify.ts";

/** Checks the registry directory `dir`; fails (exit 1) when anything is wrong. */
export async function registryVerify(
  dir: string,
  opts: RegistryVerifyOptions,
  out: Output,
): Promise<void> {
  const store = await RegistryDir.open(dir, { readOnly: true });
  try {
    let last = 0;
    const report = await verifyRegistryDir(store, {
      width: opts.maxProcs,
      onBlob: ({ done, total, bytes }) => {
        // A line every second at most: a progress count, not a line per blob.
        const now = Date.now();
        if (done === total || now - last >= 1000) {
          last = now;
          out.info(`Hashed ${done}/${total} blobs (${formatSize(bytes)})`);
        }
      },
    });
    const { problems } = report;
    if (out.json) {
      out.snapshot<VerifySnapshot>({
        dir: store.root,
        blobs: report.blobs,
        bytes: report.bytes,
        repositories: report.repositories,
        tags: report.tags,
        problems,
      });
    } else {
      for (const p of problems) out.print(`${p.kind}: ${p.message}`);
      const summary = `${report.blobs} blobs (${formatSize(report.bytes)}), ` +
        `${report.repositories} repositories, ${report.tags} tags`;
      if (problems.length === 0) out.print(`${store.root}: no problems in ${summary}`);
      else out.print(`${store.root}: ${problems.length} problem(s) in ${summary}`);
    }
    if (problems.length > 0) {
      throw new FerryError(
        "invalid_input",
        `${store.root}: ${problems.length} problem(s) found`,
      );
    }
  } finally {
    await store.close();
  }
}
