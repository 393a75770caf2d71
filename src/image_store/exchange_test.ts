import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { OCI_INDEX } from "../media_types.ts";
import { REF_NAME_ANNOTATION } from "../oci_layout/ref_name.ts";
import { sampleArchive, tarFrom, tarMembers } from "../../tests/support/fuzz_archive.ts";
import { recordingOpens } from "../../tests/support/open_spy.ts";
import { tempDir } from "../../tests/support/tmp.ts";
import { loadArchive } from "./exchange.ts";
import { ImageStore } from "./store.ts";

const encoder = new TextEncoder();

Deno.test("ferry load reads each manifest of an archive once before loading", async () => {
  await using dir = await tempDir("ferry-exchange-test-");
  // index A lists index B 30 times, B lists the image's manifest 30 times: 931 paths, 3 manifests.
  const members = await tarMembers(await sampleArchive(dir.path, "oci-archive"));
  const indexJson = members.find((m) => m.name === "index.json")!;
  const doc = JSON.parse(new TextDecoder().decode(indexJson.data));
  const { mediaType, digest, size } = doc.manifests[0];
  const b = encoder.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: Array(30).fill({ mediaType, digest, size }),
  }));
  const bDesc = { mediaType: OCI_INDEX, digest: await sha256(b), size: b.byteLength };
  const a = encoder.encode(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: Array(30).fill(bDesc) }),
  );
  const aDigest = await sha256(a);
  for (const [bytes, d] of [[b, bDesc.digest], [a, aDigest]] as const) {
    members.push({ name: `blobs/sha256/${d.slice(7)}`, typeflag: "0", linkname: "", data: bytes });
  }
  doc.manifests = [{
    mediaType: OCI_INDEX,
    digest: aDigest,
    size: a.byteLength,
    annotations: { [REF_NAME_ANNOTATION]: "localhost/fan:1" },
  }];
  indexJson.data = encoder.encode(JSON.stringify(doc));
  const path = dir.join("fan.tar");
  await Deno.writeFile(path, tarFrom(members));

  const store = await ImageStore.open({ root: dir.join("store") });
  try {
    // The check of signatures comes right after the archive's completeness is checked: stopping
    // there counts the reads of that check alone.
    const stop = new Error("stop after the completeness check");
    const { opened } = await recordingOpens(() =>
      loadArchive(store, path, { check: () => Promise.reject(stop) }).catch((err) => {
        if (err !== stop) throw err;
      })
    );
    const reads = opened.filter((p) => p === path).length;
    assert.ok(reads < 20, `the archive was opened ${reads} times`);
  } finally {
    await store.close();
  }
});
