/**
 * What `ferry registry verify` does once its command line is parsed. Loaded by the command only
 * when it runs, so that defining it (for parsing, `--help` and completions) stays cheap.
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { verifyLocation } from "../transfer/verify.ts";
import type { BlobCheckedEvent, ProgressEvent, RegistryVerifyResult } from "./json.ts";
import { formatSize, type Output } from "./output.ts";
import { ProgressLine } from "./progress_line.ts";
import type { RegistryVerifyOptions } from "./registry_verify.ts";

/** Checks the store at `location`; fails (exit 1) when anything is wrong. */
export async function registryVerify(
  location: string,
  opts: RegistryVerifyOptions,
  out: Output,
): Promise<void> {
  const line = new ProgressLine(out);
  let report;
  let lastProgress = 0;
  try {
    report = await verifyLocation(location, {
      width: opts.maxProcs,
      maxProblems: opts.maxProblems,
      onBlob: ({ digest, size, ok, done, total, bytes, totalBytes }) => {
        const end = done === total;
        out.emit<BlobCheckedEvent>({
          type: "blob-checked",
          digest,
          size,
          status: ok ? "ok" : "corrupt",
        });
        const now = Date.now();
        if (end || now - lastProgress >= 1000) {
          lastProgress = now;
          out.emit<ProgressEvent>({
            type: "progress",
            step: "hash",
            done,
            total,
            bytes,
            totalBytes,
          });
        }
        line.update(
          `Hashed ${done}/${total} blobs (${formatSize(bytes)} of ${formatSize(totalBytes)})`,
          end,
        );
      },
    });
  } finally {
    line.clear();
  }
  const { problems, moreProblems } = report;
  const count = problems.length + moreProblems;
  const name = report.location.replace(/^registry-dir:/, "");
  if (out.json) {
    out.emit<RegistryVerifyResult>({
      type: "result",
      location: report.location,
      ...(report.location.startsWith("registry-dir:") ? { dir: name } : {}),
      blobs: report.blobs,
      bytes: report.bytes,
      images: report.images,
      ...(report.omitted > 0 ? { omitted: report.omitted } : {}),
      repositories: report.repositories,
      tags: report.tags,
      problems,
      moreProblems,
    });
  } else {
    for (const p of problems) out.print(`${p.kind}: ${p.message}`);
    if (moreProblems > 0) {
      out.print(`… and ${moreProblems} more problem(s) (--max-problems ${opts.maxProblems})`);
    }
    const summary = `${report.blobs} blobs (${formatSize(report.bytes)}), ` +
      (report.location.startsWith("registry-dir:")
        ? `${report.repositories} repositories, ${report.tags} tags`
        : `${report.images} index entries`) +
      (report.omitted > 0 ? ` (${report.omitted} blobs left out by a differential archive)` : "");
    if (count === 0) out.print(`${name}: no problems in ${summary}`);
    else out.print(`${name}: ${count} problem(s) in ${summary}`);
  }
  if (count > 0) {
    throw new FerryError("invalid_input", `${name}: ${count} problem(s) found`);
  }
}
