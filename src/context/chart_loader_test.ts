import assert from "node:assert/strict";
import { join } from "node:path";
import { isFerryError } from "../errors.ts";
import { encodeHeader, endOfArchive, padding, TYPE } from "../tar/mod.ts";
import { loadChartArchive } from "./chart_loader.ts";

const enc = new TextEncoder();

function file(name: string, data: Uint8Array, typeflag: string = TYPE.file): Uint8Array[] {
  return [
    encodeHeader({ name, size: data.byteLength, typeflag }),
    data,
    new Uint8Array(padding(data.byteLength)),
  ];
}

async function gzipTar(parts: Uint8Array[]): Promise<Uint8Array> {
  const tar = new Blob([...parts, endOfArchive()] as Uint8Array<ArrayBuffer>[]).stream();
  return new Uint8Array(await new Response(tar.pipeThrough(new CompressionStream("gzip"))).bytes());
}

Deno.test("a chart archive's tar headers are bounded as an image archive's, naming the archive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-chart-loader-" });
  try {
    const chart = file(
      "demo/Chart.yaml",
      enc.encode("apiVersion: v2\nname: demo\nversion: 1.0.0\n"),
    );
    const record = (key: string, value: string) => {
      const body = ` ${key}=${value}\n`;
      let len = body.length + 1;
      while (len !== body.length + String(len).length) len = body.length + String(len).length;
      return enc.encode(`${len}${body}`);
    };
    // Without the PAX record, the same archive loads.
    await Deno.writeFile(join(dir, "ok.tgz"), await gzipTar(chart));
    assert.equal((await loadChartArchive(join(dir, "ok.tgz"), "charts/ok.tgz")).name, "demo");
    // 70 KiB of PAX comment: more metadata than any chart needs, held in memory by a reader.
    const pax = file(
      "PaxHeaders/Chart.yaml",
      record("comment", "x".repeat(70 * 1024)),
      TYPE.paxLocal,
    );
    await Deno.writeFile(join(dir, "big.tgz"), await gzipTar([...pax, ...chart]));
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
