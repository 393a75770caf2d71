import assert from "node:assert/strict";
import { formatDuration, TransferTally } from "./tally.ts";

const MIB = 1024 * 1024;

Deno.test("TransferTally: a blob shared by images counts once; present images' blobs count as present", () => {
  let now = 0;
  const tally = new TransferTally({ now: () => now });
  tally.imagesTotal = 3;
  const a = { digest: "sha256:a", size: 4 * MIB };
  const b = { digest: "sha256:b", size: 2 * MIB };
  const c = { digest: "sha256:c", size: 1 * MIB };
  tally.add({ type: "blobs-planned", source: "x", blobs: [a, b] });
  tally.add({ type: "blobs-planned", source: "y", blobs: [a, c], present: true });
  tally.add({ type: "blob-start", source: "x", digest: b.digest, size: b.size, offset: 0 });
  tally.add({ type: "blob-progress", source: "x", digest: b.digest, bytes: b.size });
  tally.add({ type: "blob-done", source: "x", ...b, status: "copied" });
  // `a` is reported again by the image that found it stored: counted once.
  tally.add({ type: "blob-done", source: "x", ...a, status: "exists" });
  tally.add({
    type: "image-done",
    source: "x",
    destination: "d",
    digest: "sha256:x",
    mediaType: "m",
  });
  now = 2000;
  assert.deepEqual(tally.totals(), {
    images: 1,
    blobs: 3,
    bytesFetched: 2 * MIB,
    bytesPresent: 5 * MIB,
    seconds: 2,
  });
  assert.equal(tally.summary(), "2.0MiB fetched, 5.0MiB already present, 2.00s, 1.0MiB/s");
});

Deno.test("TransferTally: the overall line shows images, bytes done of those known, rate and ETA", () => {
  let now = 0;
  const tally = new TransferTally({ now: () => now });
  tally.imagesTotal = 12;
  tally.add({
    type: "blobs-planned",
    source: "x",
    blobs: [{ digest: "sha256:a", size: 8 * MIB }, { digest: "sha256:b", size: 2 * MIB }],
  });
  tally.add({
    type: "blob-start",
    source: "x",
    digest: "sha256:a",
    size: 8 * MIB,
    offset: 2 * MIB,
  });
  tally.add({ type: "blob-progress", source: "x", digest: "sha256:a", bytes: 2 * MIB });
  now = 1000;
  // 2 MiB fetched in 1 s, 4 of 10 MiB done (2 resumed): 6 MiB left at 2 MiB/s.
  assert.equal(tally.progressLine(), "Images 0/12  4.0MiB / 10.0MiB  2.0MiB/s  ETA 3s");
  tally.add({ type: "image-failed", source: "x", error: "boom" });
  assert.match(tally.progressLine(), /^Images 1\/12 /);
});

Deno.test("formatDuration: seconds, minutes, hours", () => {
  assert.equal(formatDuration(0.2), "1s");
  assert.equal(formatDuration(59), "59s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3720), "1h02m");
});

Deno.test("TransferTally: a blob fetched for one repository and found by another is fetched, not present", () => {
  const tally = new TransferTally();
  const size = 1000;
  const digest = "sha256:a";
  // The second repository's copy may find the blob stored before the first reports it done.
  tally.add({ type: "blob-start", source: "one", digest, size, offset: 0 });
  tally.add({ type: "blob-progress", source: "one", digest, bytes: size });
  tally.add({ type: "blob-done", source: "two", digest, size, status: "exists" });
  tally.add({ type: "blob-done", source: "one", digest, size, status: "copied" });
  const t = tally.totals();
  assert.deepEqual([t.blobs, t.bytesFetched, t.bytesPresent], [1, size, 0]);
});
