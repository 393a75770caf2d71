import assert from "node:assert/strict";
import { OciArchiveReader } from "../archive/oci_reader.ts";
import { OciLayout } from "../oci_layout/layout.ts";
import { fanOutArchive } from "../../tests/support/fuzz_archive.ts";
import { recordingOpens } from "../../tests/support/open_spy.ts";
import { tempDir } from "../../tests/support/tmp.ts";
import { CopyEngine } from "./engine.ts";

Deno.test("a child an index lists many times is copied once", async () => {
  await using dir = await tempDir("ferry-engine-test-");
  // An index listing an index 30 times, which lists one image 30 times: 931 paths, 3 manifests.
  const path = dir.join("fan.tar");
  await Deno.writeFile(path, await fanOutArchive(dir.path, 30));
  const archive = await OciArchiveReader.open(path);
  const out = await OciLayout.open(dir.join("out"));
  try {
    const { result, opened } = await recordingOpens(() =>
      new CopyEngine().copy(archive.repository(""), "localhost/fan:1", out.repository(""), {
        platforms: [],
        all: true,
        tags: ["fan"],
      })
    );
    assert.equal(result.images.length, 1);
    const reads = opened.filter((p) => p === path).length;
    assert.ok(reads < 20, `the archive was opened ${reads} times`);
    assert.equal((await out.repository("").resolve("fan")).digest, result.root.digest);
  } finally {
    await out.close();
    await archive.close();
  }
});
