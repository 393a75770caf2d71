/**
 * Inputs for fuzzing ferry's readers of archives and layouts: small valid oci-archives and
 * docker-archives written by ferry's own {@link ArchiveWriter} from deterministic images, their
 * members taken apart and put back together (so a mutated `index.json` or `manifest.json` still
 * sits in a well-formed tar), gzip, and a check that a reader wrote nothing outside where it may.
 *
 * @module
 */
import { type ArchiveFormat, ArchiveWriter } from "../../src/archive/writer.ts";
import { openArchive } from "../../src/archive/open.ts";
import { CopyEngine } from "../../src/copy/engine.ts";
import { loadArchive } from "../../src/image_store/exchange.ts";
import { ImageStore } from "../../src/image_store/store.ts";
import { OciLayout } from "../../src/oci_layout/layout.ts";
import { tempDir } from "./tmp.ts";
import { encodeHeader, endOfArchive, padding, TarReader } from "../../src/tar/mod.ts";
import { makeImage, makeIndex, pushImage, pushIndex, type TestImage } from "./images.ts";
import { Rng } from "./fuzz.ts";

/** One tar member as read back, enough to write it again. */
export interface TarMemberBytes {
  name: string;
  typeflag: string;
  linkname: string;
  data: Uint8Array;
}

/** A deterministic image of `layers` small random layers (same `seed`, same bytes). */
export function seededImage(seed: number, architecture = "amd64", layers = 2): TestImage {
  const rng = new Rng(seed);
  return makeImage({
    architecture,
    layers: Array.from({ length: layers }, (_, i) => rng.bytes(200 + 300 * i)),
  });
}

/**
 * The bytes of an archive of `format` holding one image tagged `localhost/app:1.0` and an index of
 * two images tagged `localhost/multi:2`, as ferry writes it.
 */
export async function sampleArchive(dir: string, format: ArchiveFormat): Promise<Uint8Array> {
  const path = `${dir}/sample-${format}.tar`;
  const writer = await ArchiveWriter.create(path, { format });
  try {
    await pushImage(writer.repository("localhost/app"), seededImage(1), "1.0");
    if (format === "oci-archive") {
      const index = makeIndex([seededImage(2, "amd64"), seededImage(3, "arm64")]);
      await pushIndex(writer.repository("localhost/multi"), index, "2");
    } else {
      await pushImage(writer.repository("localhost/other"), seededImage(2, "arm64", 1), "2");
    }
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const bytes = await Deno.readFile(path);
  await Deno.remove(path);
  return bytes;
}

/** The members of a tar, in order, with their data. */
export async function tarMembers(tar: Uint8Array): Promise<TarMemberBytes[]> {
  const reader = new TarReader(new Blob([tar as Uint8Array<ArrayBuffer>]).stream());
  const out: TarMemberBytes[] = [];
  for (let h = await reader.next(); h !== null; h = await reader.next()) {
    const data = new Uint8Array(await new Response(reader.body(h.name)).arrayBuffer());
    out.push({ name: h.name, typeflag: h.typeflag, linkname: h.linkname, data });
  }
  return out;
}

/** A tar of `members` (ferry's own headers), ended by the end-of-archive marker. */
export function tarFrom(members: readonly TarMemberBytes[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    parts.push(encodeHeader({
      name: m.name,
      typeflag: m.typeflag,
      linkname: m.linkname,
      size: m.data.byteLength,
    }));
    parts.push(m.data, new Uint8Array(padding(m.data.byteLength)));
  }
  parts.push(endOfArchive());
  return concat(parts);
}

/** `parts` end to end. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Gzip of `bytes`. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads a whole stream, at most `limit` bytes (more is a test failure, not a hang). */
export async function drainBounded(
  stream: ReadableStream<Uint8Array>,
  limit = 64 * 1024 * 1024,
): Promise<number> {
  let n = 0;
  for await (const chunk of stream) {
    n += chunk.byteLength;
    if (n > limit) throw new Error(`stream longer than ${limit} bytes`);
  }
  return n;
}

/** Every path below `dir` (relative, sorted), symlinks not followed. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel === "" ? dir : `${dir}/${rel}`)) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      out.push(path);
      if (e.isDirectory) await walk(path);
    }
  };
  await walk("");
  return out.sort();
}

/** Fails when `work` holds anything but `allowed` paths (and what is below them). */
async function checkNothingElse(work: string, allowed: readonly string[]): Promise<void> {
  const stray = (await listTree(work)).filter((p) =>
    !allowed.some((a) => p === a || p.startsWith(`${a}/`))
  );
  if (stray.length > 0) throw new Error(`written outside the destination: ${stray.join(", ")}`);
}

/**
 * Opens the archive `bytes` as `ferry copy oci-archive:…` does, copies every image it lists into
 * an OCI layout and reads every blob it stores; then checks that nothing but the input and the
 * layout was written.
 */
export async function copyArchive(bytes: Uint8Array): Promise<void> {
  await using work = await tempDir("ferry-fuzz-archive-");
  const input = work.join("in.tar");
  await Deno.writeFile(input, bytes);
  try {
    const archive = await openArchive(input);
    try {
      const layout = await OciLayout.open(work.join("out"));
      try {
        const engine = new CopyEngine();
        for (const image of await archive.images()) {
          await engine.copy(
            archive.repository(""),
            image.descriptor.digest,
            layout.repository(""),
            {
              platforms: [],
              all: true,
              indexSubset: "filter",
              skipMissingChildren: true,
              tags: [],
            },
          );
        }
        for (const blob of "storedBlobs" in archive ? archive.storedBlobs() : []) {
          await drainBounded(await archive.repository("").fetch({ mediaType: "", ...blob }));
        }
      } finally {
        await layout.close();
      }
    } finally {
      await archive.close();
    }
  } finally {
    await checkNothingElse(work.path, ["in.tar", "out"]);
  }
}

/** Loads the archive `bytes` into an empty image store, as `ferry load` does. */
export async function loadArchiveBytes(bytes: Uint8Array): Promise<void> {
  await using work = await tempDir("ferry-fuzz-load-");
  await Deno.writeFile(work.join("in.tar"), bytes);
  try {
    const store = await ImageStore.open({ root: work.join("store") });
    try {
      await loadArchive(store, work.join("in.tar"));
    } finally {
      await store.close();
    }
  } finally {
    await checkNothingElse(work.path, ["in.tar", "store"]);
  }
}
