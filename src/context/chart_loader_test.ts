import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { endOfArchive } from "../tar/mod.ts";
import { concat, gzipBytes, paxEntry, tarEntry } from "../tar/_test_tar.ts";
import { loadChartArchive } from "./chart_loader.ts";

async function gzipTar(parts: Uint8Array[]): Promise<Uint8Array> {
  return await gzipBytes(concat([...parts, endOfArchive()]));
}

Deno.test("a chart archive's tar headers are bounded as an image archive's, naming the archive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-chart-loader-" });
  try {
    const chart = tarEntry("demo/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.0.0\n");
    // Without the PAX record, the same archive loads.
    await Deno.writeFile(join(dir, "ok.tgz"), await gzipTar([chart]));
    assert.equal((await loadChartArchive(join(dir, "ok.tgz"), "charts/ok.tgz")).name, "demo");
    // 70 KiB of PAX comment: more metadata than any chart needs, held in memory by a reader.
    const pax = paxEntry("comment", "x".repeat(70 * 1024));
    await Deno.writeFile(join(dir, "big.tgz"), await gzipTar([pax, chart]));
    await assert.rejects(
      loadChartArchive(join(dir, "big.tgz"), "charts/big.tgz"),
      (e) =>
        isFerryError(e, "too_large") &&
        /^charts\/big\.tgz: tar metadata of \d+ bytes at byte 0 \(at most 65536\)$/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
