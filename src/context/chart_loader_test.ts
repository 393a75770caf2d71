import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { endOfArchive } from "../tar/mod.ts";
import { concat, gzipBytes, paxEntry, tarEntry } from "../tar/_test_tar.ts";
import { loadChartArchive, MAX_CHART_NESTING } from "./chart_loader.ts";

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

Deno.test("subcharts nest at most MAX_CHART_NESTING deep: an archive inside itself stops with one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-chart-loader-" });
  try {
    const meta = (name: string) =>
      tarEntry(`${name}/Chart.yaml`, `apiVersion: v2\nname: ${name}\nversion: 1.0.0\n`);
    // c0 holds c1.tgz, which holds c2.tgz, …: the shape a self-containing archive unrolls into.
    const nest = async (levels: number): Promise<Uint8Array> => {
      let inner = await gzipTar([meta(`c${levels}`)]);
      for (let i = levels - 1; i >= 0; i--) {
        inner = await gzipTar([meta(`c${i}`), tarEntry(`c${i}/charts/c${i + 1}.tgz`, inner)]);
      }
      return inner;
    };
    await Deno.writeFile(join(dir, "ok.tgz"), await nest(MAX_CHART_NESTING));
    let chart = await loadChartArchive(join(dir, "ok.tgz"), "charts/ok.tgz");
    let depth = 0;
    while (chart.subcharts.length > 0) [chart, depth] = [chart.subcharts[0], depth + 1];
    assert.equal(depth, MAX_CHART_NESTING);
    await Deno.writeFile(join(dir, "deep.tgz"), await nest(MAX_CHART_NESTING + 1));
    await assert.rejects(
      loadChartArchive(join(dir, "deep.tgz"), "charts/deep.tgz"),
      (e) =>
        isFerryError(e, "too_large") &&
        /^charts\/deep\.tgz(\/charts\/c\d+\.tgz)+: subcharts nested more than 10 levels deep$/
          .test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
