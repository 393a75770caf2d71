/**
 * A build context comes from someone's repository: whatever one of its files holds, discovery
 * ends with images and warnings or a `FerryError`, within a bounded time. Each run mutates one
 * file of a valid context (the discovery fixture) and runs `discoverImages` as the CLI does, with
 * helm disabled (chart discovery then reads values and templates itself).
 *
 * @module
 */
import { discoverImages } from "../../src/context/mod.ts";
import { copyTree, FIXTURE_CONTEXT } from "../../src/context/testdata/fixtures.ts";
import { join } from "../../src/path.ts";
import { byteMutator, fuzz } from "../support/fuzz.ts";
import { yamlMutator } from "../support/fuzz_context.ts";
import { tempDir } from "../support/mod.ts";

const MANIFEST_FILES = [
  "manifests/deploy.yaml",
  "manifests/cronjob.yml",
  "manifests/cr.yaml",
  "manifests/sub/job.tmpl",
];

const CHART_FILES = [
  "charts/demo/Chart.yaml",
  "charts/demo/values.yaml",
  "charts/demo/templates/deployment.yaml",
  "charts/demo.values.yaml",
  "charts/demo/charts/cache/values.yaml",
];

const TEXT_FILES = [
  "manifests/app.json",
  "images/shim/base.txt",
  "images/skopeo/tar.txt",
  ".sealignore",
];

async function fuzzFile(
  ctx: string,
  rel: string,
  mutate: ReturnType<typeof yamlMutator>,
  runs: number,
) {
  const path = join(ctx, rel);
  const original = await Deno.readFile(path);
  let strict = false;

  try {
    await fuzz({
      name: `discoverImages (${rel})`,
      corpus: [original],
      mutate,
      runs,
      maxMs: 5000,
      target: async (bytes) => {
        await Deno.writeFile(path, bytes);
        await discoverImages(ctx, { helm: null, strict: strict = !strict });
      },
    });
  } finally {
    await Deno.writeFile(path, original);
  }
}

Deno.test("fuzz: discoverImages over a context with one mutated manifest", async () => {
  await using dir = await tempDir("ferry-fuzz-context-");
  await copyTree(FIXTURE_CONTEXT, dir.path);
  const mutate = yamlMutator();
  for (const rel of MANIFEST_FILES) await fuzzFile(dir.path, rel, mutate, 15);
});

Deno.test("fuzz: discoverImages over a context with one mutated chart file", async () => {
  await using dir = await tempDir("ferry-fuzz-context-");
  await copyTree(FIXTURE_CONTEXT, dir.path);
  const mutate = yamlMutator();
  for (const rel of CHART_FILES) await fuzzFile(dir.path, rel, mutate, 15);
});

Deno.test("fuzz: discoverImages over a context with one mutated list or JSON file", async () => {
  await using dir = await tempDir("ferry-fuzz-context-");
  await copyTree(FIXTURE_CONTEXT, dir.path);
  const mutate = byteMutator({ dictionary: ["\n", "#", "@", ":", "/", "..", "{", "}", '"'] });
  for (const rel of TEXT_FILES) await fuzzFile(dir.path, rel, mutate, 50);
});
