/**
 * OCI layout directories off a USB stick (`ferry copy oci:DIR…`, an image store copied over): with
 * `index.json`, `oci-layout` or a manifest mutated, opening the layout as a store, listing,
 * resolving, inspecting, copying out of it and collecting its garbage fails only as a
 * `FerryError`, in bounded time, and touches nothing outside the layout and the destination.
 *
 * @module
 */
import { CopyEngine } from "../../src/copy/engine.ts";
import { ImageStore } from "../../src/image_store/store.ts";
import { OciLayout } from "../../src/oci_layout/layout.ts";
import { byteMutator, fuzz, type Mutator } from "../support/fuzz.ts";
import {
  archiveJsonMutator,
  confinedTo,
  sampleArchive,
  tarFrom,
  type TarMemberBytes,
  tarMembers,
} from "../support/fuzz_archive.ts";
import { tempDir } from "../support/tmp.ts";

/** `FUZZ_SCALE=20` runs twenty times the inputs with other seeds (to look for new failures). */
const SCALE = Number(Deno.env.get("FUZZ_SCALE") ?? 1) || 1;

const dir = await tempDir("ferry-fuzz-layout-");
const sample = await sampleArchive(dir.path, "oci-archive");
await dir.remove();
const corpus = [sample];
const members = new Map<Uint8Array, TarMemberBytes[]>([[sample, await tarMembers(sample)]]);

/** JSON edits as for archives, and now and then raw bytes of `index.json` or `oci-layout`. */
function layoutMutator(): Mutator {
  const json = archiveJsonMutator(members);
  const raw = byteMutator({ dictionary: ['"manifests"', '"digest"', '"size"', "sha256:"] });
  return (input, rng) => {
    if (rng.chance(0.15)) {
      // A FIFO or a directory where a file should be: what a stick formatted ext4 can hold.
      const list = members.get(input)!.map((m) => ({ ...m }));
      const files = list.filter((m) => m.typeflag === "0");
      const name = rng.chance(0.5) ? rng.pick(["index.json", "oci-layout"]) : undefined;
      const victim = files.find((m) => m.name === name) ?? rng.pick(files);
      victim.typeflag = rng.pick(["6", "5"]);
      victim.data = new Uint8Array(0);
      return tarFrom(list);
    }
    if (!rng.chance(0.2)) return json(input, rng);
    const list = members.get(input)!.map((m) => ({ ...m }));
    const name = rng.pick(["index.json", "oci-layout"]);
    const victim = list.find((m) => m.name === name)!;
    victim.data = raw(victim.data, rng);
    return tarFrom(list);
  };
}

async function mkfifo(path: string): Promise<void> {
  const made = await new Deno.Command("mkfifo", { args: [path] }).output();
  if (!made.success) throw new Error(`mkfifo ${path} failed`);
}

/**
 * Writes the members of the tar `bytes` as an OCI layout directory, then uses it as ferry's
 * commands do.
 */
async function useLayout(bytes: Uint8Array): Promise<void> {
  await using work = await tempDir("ferry-fuzz-layout-");
  const root = work.join("layout");
  for (const m of await tarMembers(bytes)) {
    const path = `${root}/${m.name.replace(/\/$/, "")}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (m.typeflag === "0") await Deno.writeFile(path, m.data);
    else if (m.typeflag === "5") await Deno.mkdir(path, { recursive: true });
    else if (m.typeflag === "6") await mkfifo(path);
  }
  await confinedTo(work.path, ["layout", "out"], async () => {
    const layout = await OciLayout.open(root, { create: false });
    const out = await OciLayout.open(work.join("out"));
    try {
      const engine = new CopyEngine();
      await layout.repositories();
      for (const name of await layout.refNames()) await layout.repository("").resolve(name);
      for (const entry of await layout.entries()) {
        await engine.copy(layout.repository(""), entry.digest, out.repository(""), {
          platforms: [],
          all: true,
          indexSubset: "filter",
          skipMissingChildren: true,
          tags: [],
        });
      }
    } finally {
      await out.close();
      await layout.close();
    }
    // The same directory as `ferry images` and `ferry rmi` see it.
    const store = await ImageStore.open({ root });
    try {
      for (const image of await store.list()) {
        await store.inspect(image.name ?? image.digest);
      }
      await store.gc();
    } finally {
      await store.close();
    }
  });
}

Deno.test("fuzz: OCI layout directories with mutated index.json, oci-layout and manifests", async () => {
  await fuzz({
    name: "OCI layout",
    corpus,
    mutate: layoutMutator(),
    runs: 60 * SCALE,
    seed: 40_000,
    // Each input is a copy, a listing and a gc with their fsyncs: slow on a loaded machine, and a
    // FIFO waited on never ends, so a generous bound still tells the two apart.
    maxMs: 8000,
    target: useLayout,
  });
});
