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
import { OCI_INDEX } from "../../src/media_types.ts";
import { tempDir } from "./tmp.ts";
import { encodeHeader, endOfArchive, padding, TarReader } from "../../src/tar/mod.ts";
import { concat } from "../../src/tar/_test_tar.ts";

export { concat };
import { makeImage, makeIndex, pushImage, pushIndex, type TestImage } from "./images.ts";
import { createHash } from "node:crypto";
import { byteMutator, jsonMutator, mutateJson, type Mutator, Rng } from "./fuzz.ts";

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

/**
 * Runs `fn`, then fails when `work` holds anything but `allowed` paths (and what is below them),
 * whether `fn` failed or not; then passes on `fn`'s failure.
 */
export async function confinedTo(
  work: string,
  allowed: readonly string[],
  fn: () => Promise<void>,
): Promise<void> {
  let failure: { err: unknown } | undefined;
  try {
    await fn();
  } catch (err) {
    failure = { err };
  }
  const stray = (await listTree(work)).filter((p) =>
    !allowed.some((a) => p === a || p.startsWith(`${a}/`))
  );
  if (stray.length > 0) throw new Error(`written outside the destination: ${stray.join(", ")}`);
  if (failure) throw failure.err;
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
  await confinedTo(work.path, ["in.tar", "out"], async () => {
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
  });
}

/** Loads the archive `bytes` into an empty image store, as `ferry load` does. */
export async function loadArchiveBytes(bytes: Uint8Array): Promise<void> {
  await using work = await tempDir("ferry-fuzz-load-");
  await Deno.writeFile(work.join("in.tar"), bytes);
  await confinedTo(work.path, ["in.tar", "store"], async () => {
    const store = await ImageStore.open({ root: work.join("store") });
    try {
      await loadArchive(store, work.join("in.tar"));
    } finally {
      await store.close();
    }
  });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Header fields: offset and width in a ustar block. */
const FIELDS = [
  [0, 100], // name
  [100, 8], // mode
  [108, 8], // uid
  [116, 8], // gid
  [124, 12], // size
  [136, 12], // mtime
  [148, 8], // checksum
  [156, 1], // typeflag
  [157, 100], // linkname
  [257, 8], // magic and version
  [345, 155], // prefix
] as const;

/** Values worth writing into a field. */
const VALUES = [
  "../../../../tmp/ferry-escape",
  "/etc/passwd",
  "blobs/sha256/",
  "index.json",
  "manifest.json",
  "oci-layout",
  "././@LongLink",
  "77777777777\0",
  "99999999999\0",
  "-1",
  "\x80\0\0\0\x7f\xff\xff\xff\xff\xff\xff\xff",
  "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
  "0000001000\0",
  "00000000000\0",
  "ustar\x0000",
  "ustar  \0",
  "x",
  "g",
  "L",
  "K",
  "S",
  "1",
  "2",
  "5",
  "7",
  "\0",
  ".",
  "..",
];

/** Offsets of the header blocks of a tar. */
function headerOffsets(tar: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = 0; at + 512 <= tar.byteLength;) {
    const block = tar.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    out.push(at);
    const size = parseInt(new TextDecoder().decode(block.subarray(124, 135)), 8) || 0;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

function fixChecksum(tar: Uint8Array, at: number): void {
  tar.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += tar[i];
  const text = sum.toString(8).padStart(6, "0") + "\0 ";
  for (let i = 0; i < 8; i++) tar[at + 148 + i] = text.charCodeAt(i);
}

/**
 * Edits tar headers field by field (then, mostly, makes the checksum right again so the edit
 * reaches past it), now and then the raw bytes anywhere: truncation, trailing garbage.
 */
export function tarMutator(): Mutator {
  const raw = byteMutator({
    dictionary: ["ustar\0", "path=", "linkpath=", "size=", "././@LongLink"],
  });
  return (input: Uint8Array, rng: Rng) => {
    if (rng.chance(0.2)) return raw(input, rng);
    const tar = input.slice();
    const headers = headerOffsets(tar);
    for (let edits = 1 + rng.int(3); edits > 0 && headers.length > 0; edits--) {
      const at = rng.pick(headers);
      const [offset, width] = rng.pick(FIELDS);
      const value = rng.chance(0.7)
        ? encoder.encode(rng.pick(VALUES)).slice(0, width)
        : Uint8Array.from(rng.pick(VALUES), (c) => c.charCodeAt(0)).slice(0, width);
      if (rng.chance(0.5)) tar.fill(0, at + offset, at + offset + width);
      tar.set(value, at + offset);
      if (rng.chance(0.85)) fixChecksum(tar, at);
    }
    if (rng.chance(0.1)) return tar.subarray(0, rng.int(tar.byteLength));
    return tar;
  };
}

const TOP_LEVEL = ["index.json", "manifest.json", "oci-layout", "ferry-delta.json"];

function isJson(data: Uint8Array): boolean {
  try {
    JSON.parse(decoder.decode(data));
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses `input` (a tar) into members, mutates one JSON member and writes the tar again. A
 * mutated blob moves to its new digest; `index.json` and `manifest.json` are rewritten to name it
 * (digest and size), as a tool that wrote a bad manifest would have named it.
 */
export function archiveJsonMutator(members: Map<Uint8Array, TarMemberBytes[]>): Mutator {
  const json = jsonMutator({
    dictionary: ["sha256:", "blobs/sha256/", "org.opencontainers.image.ref.name", "../"],
  });
  return (input: Uint8Array, rng: Rng) => {
    const original = members.get(input)!;
    const list = original.map((m) => ({ ...m }));
    if (rng.chance(0.15) && !list.some((m) => m.name === "ferry-delta.json")) {
      list.push({
        name: "ferry-delta.json",
        typeflag: "0",
        linkname: "",
        data: encoder.encode(JSON.stringify({
          schemaVersion: 1,
          omitted: [{
            mediaType: "application/vnd.oci.image.layer.v1.tar",
            digest: `sha256:${"1".repeat(64)}`,
            size: 3,
          }],
        })),
      });
    }
    const top = list.filter((m) => TOP_LEVEL.includes(m.name));
    const blobs = list.filter((m) =>
      !TOP_LEVEL.includes(m.name) && m.data.byteLength < 64 * 1024 && isJson(m.data)
    );
    for (let edits = 1 + rng.int(2); edits > 0; edits--) {
      // Half the edits go to the few top-level files, which every reader starts from.
      const victim = rng.pick(rng.chance(0.5) ? top : blobs);
      const before = victim.data;
      victim.data = rng.chance(0.4)
        ? fieldEdit(before, rng) ?? json(before, rng)
        : json(before, rng);
      if (!TOP_LEVEL.includes(victim.name)) renameBlob(list, victim, before);
    }
    return tarFrom(list);
  };
}

/** Moves a changed blob to its new digest and points the top-level files at it. */
function renameBlob(list: TarMemberBytes[], blob: TarMemberBytes, before: Uint8Array): void {
  const oldHex = /([0-9a-f]{64})$/.exec(blob.name)?.[1];
  if (!oldHex) return;
  const newHex = syncSha256(blob.data);
  blob.name = blob.name.replace(oldHex, newHex);
  for (const m of list) {
    if (m.name !== "index.json" && m.name !== "manifest.json") continue;
    let text = decoder.decode(m.data);
    if (!text.includes(oldHex)) continue;
    text = text.replaceAll(oldHex, newHex).replaceAll(
      `"size":${before.byteLength}`,
      `"size":${blob.data.byteLength}`,
    );
    m.data = encoder.encode(text);
  }
}

/** SHA-256 in hex, computed synchronously (a mutator is synchronous). */
function syncSha256(data: Uint8Array): string {
  // node:crypto's hash is synchronous; WebCrypto's is not.
  return createHash("sha256").update(data).digest("hex");
}

/** Fields of descriptors that readers look into. */
const DESCRIPTOR_FIELDS = [
  ["mediaType"],
  ["digest"],
  ["size"],
  ["annotations"],
  ["annotations", "org.opencontainers.image.ref.name"],
  ["platform"],
  ["platform", "architecture"],
  ["artifactType"],
];

/** Fields of `manifest.json` entries. */
const DOCKER_FIELDS = [["Config"], ["RepoTags"], ["RepoTags", 0], ["Layers"], ["Layers", 0]];

/**
 * Replaces one field of one entry of a JSON document's list (`manifests`, `layers`, or the
 * document itself when it is a list) with a mutated value: the edits a structural mutator reaches
 * only rarely by walking down from the top. Undefined for a document with no such list.
 */
function fieldEdit(data: Uint8Array, rng: Rng): Uint8Array | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  const lists: unknown[][] = [];
  if (Array.isArray(doc)) lists.push(doc); // manifest.json
  else if (doc !== null && typeof doc === "object") {
    for (const key of ["manifests", "layers"]) {
      const list = (doc as Record<string, unknown>)[key];
      if (Array.isArray(list) && list.length > 0) lists.push(list);
    }
    const config = (doc as Record<string, unknown>).config;
    if (config !== null && typeof config === "object") lists.push([config]);
  }
  const list = lists.length > 0 ? rng.pick(lists) : undefined;
  if (!list || list.length === 0) return undefined;
  const entry = list[rng.int(list.length)];
  if (entry === null || typeof entry !== "object") return undefined;
  const path = rng.pick(Array.isArray(doc) ? DOCKER_FIELDS : DESCRIPTOR_FIELDS);
  let parent = entry as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    const next = parent[key];
    if (next === null || typeof next !== "object") parent[key] = {};
    parent = parent[key] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  parent[last] = mutateJson(parent[last] ?? "", rng);
  return encoder.encode(JSON.stringify(doc));
}

/**
 * An oci-archive (bytes) tagged `localhost/fan:1` whose index lists another index `n` times, which
 * lists one image `n` times: small, but a walk of every path through it takes n² steps.
 */
export async function fanOutArchive(dir: string, n: number): Promise<Uint8Array> {
  const members = await tarMembers(await sampleArchive(dir, "oci-archive"));
  const indexJson = members.find((m) => m.name === "index.json")!;
  const doc = JSON.parse(decoder.decode(indexJson.data));
  const { mediaType, digest, size } = doc.manifests[0];
  const indexOf = (child: unknown) =>
    encoder.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: Array(n).fill(child),
    }));
  const inner = indexOf({ mediaType, digest, size });
  const innerDesc = {
    mediaType: OCI_INDEX,
    digest: `sha256:${syncSha256(inner)}`,
    size: inner.byteLength,
  };
  const outer = indexOf(innerDesc);
  for (const data of [inner, outer]) {
    members.push({ name: `blobs/sha256/${syncSha256(data)}`, typeflag: "0", linkname: "", data });
  }
  doc.manifests = [{
    mediaType: OCI_INDEX,
    digest: `sha256:${syncSha256(outer)}`,
    size: outer.byteLength,
    annotations: { "org.opencontainers.image.ref.name": "localhost/fan:1" },
  }];
  indexJson.data = encoder.encode(JSON.stringify(doc));
  return tarFrom(members);
}
