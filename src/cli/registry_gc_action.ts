/**
 * What `ferry registry gc` does once its command line is parsed. Loaded by the command only when
 * it runs, so that defining it (for parsing, `--help` and completions) stays cheap.
 *
 * @module
 */
import { collectGarbage, RegistryDir } from "../registry_dir/mod.ts";
import type { ProgressEvent, RegistryGcResult, RemovedEvent } from "./json.ts";
import { formatSize, type Output } from "./output.ts";
import { ProgressLine } from "./progress_line.ts";
import type { RegistryGcOptions } from "./registry_gc.ts";

/** Collects the garbage of the registry directory `dir` (or lists it, with `--dry-run`). */
export async function registryGc(dir: string, opts: RegistryGcOptions, out: Output): Promise<void> {
  const dryRun = opts.dryRun ?? false;
  // A read-only open first: a missing directory is an error, not something to create.
  let store = await RegistryDir.open(dir, { readOnly: true });
  if (!dryRun) store = await RegistryDir.open(store.root);
  const verb = dryRun ? "would remove" : "removed";
  const line = new ProgressLine(out);
  let lastEvent = 0;
  const progress = (e: ProgressEvent) => {
    const now = Date.now();
    if (e.done === e.total || now - lastEvent >= 1000) {
      lastEvent = now;
      out.emit<ProgressEvent>(e);
    }
  };
  try {
    const report = await collectGarbage(store, {
      dryRun,
      deleteUntagged: opts.deleteUntagged ?? false,
      onEvent: (e) => {
        switch (e.type) {
          case "mark":
            progress({ type: "progress", step: "mark", done: e.done, total: e.total });
            return line.update(
              `Marking: ${e.done}/${e.total} repositories, ${e.manifests} manifests kept`,
              e.done === e.total,
            );
          case "sweep":
            progress({
              type: "progress",
              step: "sweep",
              done: e.done,
              total: e.total,
              bytes: e.bytes,
            });
            return line.update(
              `Sweeping: ${e.done}/${e.total} blobs, ${formatSize(e.bytes)} ${
                dryRun ? "to free" : "freed"
              }`,
              e.done === e.total,
            );
          case "broken-index":
            return out.warn(
              `${e.repository}@${e.digest} is a tagged index whose child ${e.child} no tag ` +
                `points at: ${dryRun ? "it would be" : "it is"} removed with its layers ` +
                `(docker-registry 2.8's --delete-untagged rule), so the index no longer pulls`,
            );
          case "manifest":
          case "blob":
          case "layer-link": {
            out.emit<RemovedEvent>({
              type: "removed",
              kind: e.type,
              digest: e.digest,
              ...("repository" in e ? { repository: e.repository } : {}),
              ...("size" in e ? { size: e.size } : {}),
              dryRun,
            });
            if (out.json) return;
            if (e.type === "manifest") line.print(`${verb} manifest ${e.repository}@${e.digest}`);
            else if (e.type === "blob") {
              line.print(`${verb} blob ${e.digest} (${formatSize(e.size)})`);
            } else line.print(`${verb} layer link ${e.repository}@${e.digest}`);
          }
        }
      },
    });
    line.clear();
    const result: RegistryGcResult = {
      type: "result",
      dir: store.root,
      dryRun,
      repositories: report.repositories,
      keptManifests: report.markedManifests,
      keptBlobs: report.keptBlobs,
      removed: {
        manifests: report.manifests.length,
        blobs: report.blobs.length,
        layerLinks: report.layerLinks.length,
      },
      freedBytes: report.freedBytes,
    };
    if (out.json) return out.emit<RegistryGcResult>(result);
    out.print(
      `${store.root}: ${verb} ${report.manifests.length} manifest(s), ${report.blobs.length} ` +
        `blob(s) (${formatSize(report.freedBytes)}) and ${report.layerLinks.length} layer ` +
        `link(s); kept ${report.markedManifests} manifest(s) and ${report.keptBlobs} blob(s) in ` +
        `${report.repositories} repositories`,
    );
  } finally {
    line.clear();
    await store.close();
  }
}
