/**
 * The offline quickstart (`deno task demo`): the whole ferry flow on a fresh machine, with no
 * internet and nothing installed but Deno.
 *
 * 1. start a registry in memory (`ferry registry serve inmem`) on a free loopback port;
 * 2. generate two small images (a config and one gzip layer each) and push them into it with
 *    `ferry copy`;
 * 3. copy the example build context `examples/hello-cluster/`, which names those images, and show
 *    what a build would save (`ferry context images`);
 * 4. build the cluster image (`ferry build`) into a temporary image store;
 * 5. list it (`ferry images`) and show what it carries (`ferry inspect`);
 * 6. export it to one archive (`ferry save`), the file that goes to the air-gapped site.
 *
 * Every command is printed before it runs, as a user would type it, and runs as its own process.
 * Everything happens under a temporary directory (removed at the end unless `--keep`); the user's
 * image store, auth files and network are not touched: ferry runs with network access to
 * 127.0.0.1 only.
 *
 * Usage: `deno task demo [--keep] [--ferry PATH]`. `--ferry` runs another ferry: a bundle
 * (`dist/ferry.js`, run with `deno run`) or a compiled binary.
 *
 * @module
 */
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256 } from "../src/digest.ts";
import type { Descriptor } from "../src/manifest.ts";
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from "../src/media_types.ts";
import { OciLayout } from "../src/oci_layout/mod.ts";
import { hostPlatform } from "../src/platform.ts";
import { bytesSource, type Store } from "../src/store.ts";
import { writeLayer } from "../src/layer/mod.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const EXAMPLE = join(REPO, "examples", "hello-cluster");
/** The registry address the example's files name; replaced by the demo registry's. */
const EXAMPLE_REGISTRY = "127.0.0.1:5000";
const CLUSTER_IMAGE = "localhost/hello-cluster:1.0";
const STEPS = 6;

const encoder = new TextEncoder();

/** Demo options from the command line. */
interface DemoOptions {
  keep: boolean;
  /** Command prefix that runs ferry. */
  ferry: string[];
}

function parseArgs(args: string[]): DemoOptions {
  const options: DemoOptions = {
    keep: false,
    ferry: ferryCommand(join(REPO, "main.ts")),
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--keep") options.keep = true;
    else if (arg === "--ferry" && i + 1 < args.length) options.ferry = ferryCommand(args[++i]);
    else if (arg.startsWith("--ferry=")) options.ferry = ferryCommand(arg.slice(8));
    else {
      console.error(
        `demo: unknown argument ${arg} (usage: deno task demo [--keep] [--ferry PATH])`,
      );
      Deno.exit(2);
    }
  }
  return options;
}

/** How to run ferry from `path`: a script under `deno run`, or an executable. */
function ferryCommand(path: string): string[] {
  const abs = resolve(path);
  if (!/\.(ts|js|mjs)$/.test(abs)) return [abs];
  return [
    Deno.execPath(),
    "run",
    "--quiet",
    "--no-prompt",
    // Network access to this machine only: the demo needs no internet, and proves it.
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run",
    abs,
  ];
}

function say(text = ""): void {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

function step(n: number, title: string): void {
  say();
  say(`[${n}/${STEPS}] ${title}`);
}

/** A failed step: the demo stops, says where, and cleans up. */
class DemoError extends Error {}

/** Runs one ferry command in `cwd`, printing it first; its output goes straight to the user. */
async function ferry(options: DemoOptions, cwd: string, args: string[]): Promise<void> {
  say(`$ ferry ${args.map(shellWord).join(" ")}`);
  const [program, ...rest] = options.ferry;
  const status = await new Deno.Command(program, {
    args: [...rest, ...args],
    cwd,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!status.success) {
    throw new DemoError(`ferry ${args.join(" ")} exited with ${status.code}`);
  }
}

/** Whether this ferry has a command (its `--help` is that command's, not the program's). */
async function hasCommand(options: DemoOptions, cmd: string): Promise<boolean> {
  const [program, ...rest] = options.ferry;
  const out = await new Deno.Command(program, {
    args: [...rest, cmd, "--help"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success && new TextDecoder().decode(out.stdout).startsWith(`Usage: ferry ${cmd}`);
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A registry server running as a child process. */
interface RunningServer {
  /** `127.0.0.1:PORT`. */
  host: string;
  stop(): Promise<void>;
}

/** Starts `ferry registry serve inmem` on a free port and waits for its "Listening on" line. */
async function startRegistry(options: DemoOptions, cwd: string): Promise<RunningServer> {
  const args = [
    "registry",
    "serve",
    "inmem",
    "--port",
    "0",
    "--disable-logging",
    "--log-level",
    "warn",
  ];
  say(`$ ferry ${args.join(" ")} &`);
  const [program, ...rest] = options.ferry;
  const child = new Deno.Command(program, {
    args: [...rest, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let host: string | undefined;
  const deadline = setTimeout(() => child.kill("SIGTERM"), 30_000);
  try {
    while (host === undefined) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
      const match = /Listening on https?:\/\/([^\s/]+)/.exec(text);
      if (match) {
        host = match[1];
        say(text.trimEnd());
      }
    }
  } finally {
    clearTimeout(deadline);
  }
  if (host === undefined) {
    await child.status;
    throw new DemoError(`the registry did not start: ${text.trim() || "no output"}`);
  }
  // Keep reading so the server never blocks on a full pipe.
  const drained = (async () => {
    while (!(await lines.read()).done) { /* nothing more is expected */ }
  })().catch(() => {});
  return {
    host,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await drained;
    },
  };
}

/** The pieces of one generated image. */
export interface GeneratedImage {
  repository: string;
  tag: string;
  manifest: Descriptor;
  size: number;
}

/**
 * Writes a small single-platform image into `store` (an OCI layout, a memory store...): one gzip
 * layer holding `/hello.txt`, a config for this host's platform, a manifest, and the tag.
 */
export async function generateImage(
  store: Store,
  repository: string,
  tag: string,
  text: string,
): Promise<GeneratedImage> {
  const content = encoder.encode(text);
  const layer = writeLayer([
    {
      kind: "file",
      path: "hello.txt",
      mode: 0o644,
      size: content.byteLength,
      open: () => once(content),
    },
  ], { compression: "gzip" });
  const layerBytes = new Uint8Array(await new Response(layer.stream).arrayBuffer());
  const { digest, size, diffId } = await layer.done;
  const platform = hostPlatform();
  const config = encoder.encode(JSON.stringify({
    architecture: platform.architecture,
    os: platform.os,
    config: {
      Cmd: ["cat", "/hello.txt"],
      Labels: { "org.opencontainers.image.title": repository },
    },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created_by: "ferry demo: /hello.txt" }],
  }));
  const configDesc: Descriptor = {
    mediaType: OCI_CONFIG,
    digest: await sha256(config),
    size: config.byteLength,
  };
  const layerDesc: Descriptor = { mediaType: OCI_LAYER_GZIP, digest, size };
  const manifest = encoder.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: configDesc,
    layers: [layerDesc],
  }));
  const manifestDesc: Descriptor = {
    mediaType: OCI_MANIFEST,
    digest: await sha256(manifest),
    size: manifest.byteLength,
  };
  const repo = store.repository(repository);
  await repo.push(layerDesc, bytesSource(layerBytes));
  await repo.push(configDesc, bytesSource(config));
  await repo.push(manifestDesc, bytesSource(manifest));
  await repo.tag(manifestDesc, tag);
  return {
    repository,
    tag,
    manifest: manifestDesc,
    size: layerBytes.byteLength + config.byteLength,
  };
}

function once(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** Copies the example context, naming the demo registry instead of 127.0.0.1:5000. */
async function copyContext(from: string, to: string, registry: string): Promise<string[]> {
  const changed: string[] = [];
  async function walk(rel: string) {
    await Deno.mkdir(join(to, rel), { recursive: true });
    for await (const entry of Deno.readDir(join(from, rel))) {
      const path = join(rel, entry.name);
      if (entry.isDirectory) {
        if (path === "registry") continue; // left over from a build in place
        await walk(path);
      } else if (entry.isFile) {
        const text = await Deno.readTextFile(join(from, path));
        const rewritten = text.replaceAll(EXAMPLE_REGISTRY, registry);
        if (rewritten !== text && !path.endsWith(".md")) changed.push(path);
        await Deno.writeTextFile(join(to, path), rewritten);
      }
    }
  }
  await walk("");
  return changed.sort();
}

async function fileSize(path: string): Promise<number> {
  return (await Deno.stat(path)).size;
}

function formatSize(n: number): string {
  return n < 1024
    ? `${n} B`
    : n < 1024 * 1024
    ? `${(n / 1024).toFixed(1)} KiB`
    : `${(n / 1048576).toFixed(1)} MiB`;
}

async function demo(options: DemoOptions, work: string): Promise<void> {
  say("ferry quickstart: build a cluster image and export it for an air-gapped site, offline.");
  say(`Working in ${work}${options.keep ? " (kept afterwards)" : " (removed at the end)"}.`);
  say("ferry runs with network access to 127.0.0.1 only.");

  step(
    1,
    "Start a registry in memory: it stands in for Docker Hub, quay.io or your company's registry",
  );
  const server = await startRegistry(options, work);
  try {
    step(2, "Put two small application images into it");
    const layout = await OciLayout.open(join(work, "images"));
    const images = [
      await generateImage(
        layout,
        "demo/hello",
        "1.0",
        "hello from a cluster image built by ferry\n",
      ),
      await generateImage(layout, "demo/hello-job", "1.0", "hello from the job image\n"),
    ];
    await layout.close();
    for (const image of images) {
      say(
        `  images/ (an OCI layout) holds ${image.repository}:${image.tag}: one layer, ` +
          `${formatSize(image.size)}, ${image.manifest.digest.slice(0, 19)}…`,
      );
    }
    for (const image of images) {
      await ferry(options, work, [
        "copy",
        `oci:images:${image.repository}:${image.tag}`,
        `docker://${server.host}/${image.repository}:${image.tag}`,
      ]);
    }

    step(3, "The build context: manifests and a Kubefile that name those images");
    const context = "hello-cluster";
    const changed = await copyContext(EXAMPLE, join(work, context), server.host);
    say(`  ${relative(REPO, EXAMPLE)}/ copied to ${context}/, naming ${server.host}`);
    say(`  instead of ${EXAMPLE_REGISTRY} in ${changed.join(", ")}.`);
    say("  What a build will save into the image's registry/, and where each image was found:");
    await ferry(options, work, ["context", "images", context]);

    if (!(await hasCommand(options, "build"))) {
      say();
      say(
        "ferry build is not available in this ferry: skipping steps 4 to 6 " +
          "(build, list, export).",
      );
      return;
    }

    step(4, "Build the cluster image into a fresh image store (store/)");
    await ferry(options, work, ["build", "-t", CLUSTER_IMAGE, "--root", "store", context]);

    step(5, "List the image store, and look inside the cluster image");
    await ferry(options, work, ["images", "--root", "store"]);
    await ferry(options, work, ["inspect", "--root", "store", CLUSTER_IMAGE]);

    step(6, "Export it to one file for the air-gapped site");
    const archive = "hello-cluster.tar";
    await ferry(options, work, ["save", "--root", "store", "-o", archive, CLUSTER_IMAGE]);
    say(`  ${archive}: ${formatSize(await fileSize(join(work, archive)))}`);

    say();
    say("Done. On the air-gapped side, with the archive copied over:");
    say(`  ferry load -i ${archive}                      # into the local image store`);
    say(
      `  skopeo copy oci-archive:${archive} docker://REGISTRY/hello-cluster:1.0   # or any OCI tool`,
    );
    say("The cluster image's registry/ directory is served as a registry with");
    say("  ferry registry serve filesystem registry/       # or docker-registry, or sealos");
  } finally {
    await server.stop();
  }
}

if (import.meta.main) {
  const options = parseArgs(Deno.args);
  const work = await Deno.makeTempDir({ prefix: "ferry-demo-" });
  let code = 0;
  try {
    await demo(options, work);
  } catch (err) {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    if (!(err instanceof DemoError) && err instanceof Error) console.error(err.stack);
    code = 1;
  } finally {
    if (options.keep) say(`\nKept ${work}.`);
    else await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  Deno.exit(code);
}
