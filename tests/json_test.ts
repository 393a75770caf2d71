/**
 * `--json` output of every command, against docs/JSON.md: the fields of each event and result,
 * one vocabulary (`source`/`destination` are location strings `ferry copy` reads back, `image` is
 * an argument as given, `names` are names in the store or an archive), and absolute paths.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatLocation, parseLocation } from "../src/transfer/location.ts";
import {
  type BuiltImage,
  type BuiltIndex,
  makeKeyPair,
  makeLayout,
  peerTest,
  pushToRegistry,
  signatureLayer,
  sigTag,
  startRegistry,
  tempDir,
  writeSignatureImage,
} from "./support/mod.ts";
import { formatSize } from "../src/byte_size.ts";
import { ferry } from "./ferry_cli.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/;

/** `obj` has every key of `required`, and none outside `required` and `optional`. */
function assertKeys(obj: Json, required: string[], optional: string[] = [], what = "") {
  const keys = Object.keys(obj);
  for (const k of required) assert.ok(k in obj, `${what} lacks ${k}: ${JSON.stringify(obj)}`);
  const extra = keys.filter((k) => !required.includes(k) && !optional.includes(k));
  assert.deepEqual(extra, [], `${what} has undocumented fields: ${JSON.stringify(obj)}`);
}

/** `totals` of a transfer result: its documented keys, and the counts expected. */
function assertTotals(
  totals: Json,
  want: { images: number; blobs: number; fetched: number; present: number },
) {
  assertKeys(totals, ["images", "blobs", "bytesFetched", "bytesPresent", "seconds"], [], "totals");
  assert.deepEqual(
    {
      images: totals.images,
      blobs: totals.blobs,
      fetched: totals.bytesFetched,
      present: totals.bytesPresent,
    },
    want,
  );
  assert.ok(typeof totals.seconds === "number" && totals.seconds >= 0);
}

/** A location string in its one form: parsed and formatted again it is unchanged; paths absolute. */
function assertLocation(text: string) {
  assert.equal(typeof text, "string");
  const loc = parseLocation(text);
  assert.equal(formatLocation(loc), text, `${text} is not in canonical form`);
  if ("path" in loc) assert.ok(loc.path.startsWith("/"), `${text}: relative path`);
}

/** The single-image fields every transfer reports. */
function assertTransferred(image: Json, what: string) {
  assertLocation(image.source);
  assert.match(image.digest, DIGEST, what);
  assert.equal(typeof image.mediaType, "string", what);
  assert.ok(Array.isArray(image.manifests) && image.manifests.length > 0, what);
  for (const m of image.manifests) assert.match(m, DIGEST, what);
  assert.ok(Array.isArray(image.referrers), `${what}: referrers is not a list`);
  for (const r of image.referrers) assertReferrer(r, what);
}

/** A signature, SBOM or attestation stored with an image. */
function assertReferrer(r: Json, what: string) {
  assertKeys(r, ["subject", "digest", "mediaType", "kind"], ["artifactType", "tag"], what);
  assert.match(r.subject, DIGEST, what);
  assert.match(r.digest, DIGEST, what);
  assert.ok(["signature", "attestation", "sbom", "other"].includes(r.kind), what);
}

/** Checks the events shared by the streams; returns them by type. */
function checkShared(events: Json[]): Map<string, Json[]> {
  const byType = new Map<string, Json[]>();
  for (const e of events) {
    assert.equal(typeof e.type, "string", JSON.stringify(e));
    byType.set(e.type, [...(byType.get(e.type) ?? []), e]);
    switch (e.type) {
      case "blob-done":
        assertKeys(e, ["type", "source", "digest", "size", "status"], [], "blob-done");
        assertLocation(e.source);
        assert.match(e.digest, DIGEST);
        assert.ok(Number.isInteger(e.size) && e.size > 0);
        assert.ok(e.status === "copied" || e.status === "exists");
        break;
      case "manifest":
        assertKeys(
          e,
          ["type", "source", "digest", "mediaType", "status"],
          ["platform"],
          "manifest",
        );
        assertLocation(e.source);
        if (e.platform !== undefined) assert.match(e.platform, PLATFORM);
        break;
      case "image-done":
        assertKeys(e, ["type", "source", "destination", "digest", "mediaType"], [], "image-done");
        assertLocation(e.source);
        assertLocation(e.destination);
        break;
      case "image-failed":
        assertKeys(e, ["type", "source", "error"], [], "image-failed");
        break;
      case "warning":
        assertKeys(e, ["type", "message"], [], "warning");
        break;
      case "referrer": {
        const { type: _, source, status, ...rest } = e;
        assertLocation(source);
        assert.ok(status === "copied" || status === "exists");
        assertReferrer(rest, "referrer");
        break;
      }
    }
  }
  return byType;
}

interface Stream {
  events: Json[];
  byType: Map<string, Json[]>;
  result: Json;
}

/** Runs an event-stream command; every line is JSON, the last one the `result`. */
async function stream(args: string[], cwd: string): Promise<Stream> {
  const run = await ferry(args, { cwd });
  assert.equal(run.code, 0, `ferry ${args.join(" ")} failed:\n${run.stderr}`);
  const events = run.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Json);
  const result = events.at(-1)!;
  assert.equal(result.type, "result", run.stdout);
  assert.equal(events.filter((e) => e.type === "result").length, 1);
  return { events, byType: checkShared(events), result };
}

/** Runs a snapshot command: one JSON object, no `type`. */
async function snapshot(args: string[], cwd: string): Promise<Json> {
  const run = await ferry(args, { cwd });
  assert.equal(run.code, 0, `ferry ${args.join(" ")} failed:\n${run.stderr}`);
  const lines = run.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 1, run.stdout);
  const value = JSON.parse(lines[0]);
  assert.equal(value.type, undefined);
  return value;
}

/** Every blob-done and manifest event names one of `sources`. */
function assertEventSources(s: Stream, sources: string[]) {
  const named = [...(s.byType.get("blob-done") ?? []), ...(s.byType.get("manifest") ?? [])];
  assert.ok(named.length > 0, "no blob-done or manifest events");
  for (const e of named) assert.ok(sources.includes(e.source), `${e.source} not in ${sources}`);
}

peerTest(
  "--json: every command's events and result follow docs/JSON.md",
  ["docker-registry", "skopeo"],
  async (t) => {
    await using dir = await tempDir("ferry-json-");
    // Relative paths are given below; the output must carry them absolute (cwd's real path).
    const cwd = await Deno.realPath(dir.path);
    const at = (rel: string) => join(cwd, rel);
    await using registry = await startRegistry();
    const host = registry.host;
    const [app, multi] = await makeLayout(at("layout"), [
      { name: "app", layers: [{ seed: "json-base", size: 6_000 }] },
      {
        name: "multi",
        children: [
          {
            platform: { os: "linux", architecture: "amd64" },
            layers: [{ seed: "j-a", size: 3_000 }],
          },
          {
            platform: { os: "linux", architecture: "arm64" },
            layers: [{ seed: "j-b", size: 3_000 }],
          },
        ],
      },
    ]) as [BuiltImage, BuiltIndex];
    await pushToRegistry(at("layout"), "app", `${host}/library/app:1.0`);
    await pushToRegistry(at("layout"), "multi", `${host}/multi/arch:latest`);
    const appSource = `docker://${host}/library/app:1.0`;
    const tls = "--tls-verify=false";

    await t.step("registry save", async () => {
      const s = await stream([
        "registry",
        "save",
        "--json",
        tls,
        "--all",
        "--registry-dir",
        "reg",
        "--images",
        `${host}/library/app:1.0,${host}/multi/arch`,
      ], cwd);
      assertKeys(s.result, ["type", "registryDir", "images", "failed", "totals"]);
      assert.equal(s.result.registryDir, at("reg"));
      assert.deepEqual(s.result.failed, []);
      // Totals: every distinct layer and config fetched once, nothing there before.
      const blobs = new Map(
        [app, ...multi.children].flatMap((i) => [i.config, ...i.layers]).map((d) => [d.digest, d]),
      );
      const bytes = [...blobs.values()].reduce((n, d) => n + d.size, 0);
      assertTotals(s.result.totals, { images: 2, blobs: blobs.size, fetched: bytes, present: 0 });
      const latest = `docker://${host}/multi/arch:latest`;
      assert.deepEqual(s.result.images.map((i: Json) => i.source), [appSource, latest]);
      for (const image of s.result.images) {
        assertKeys(image, [
          "source",
          "digest",
          "mediaType",
          "manifests",
          "referrers",
          "destination",
          "repository",
          "tag",
        ]);
        assertTransferred(image, "registry save");
        assert.equal(
          image.destination,
          `registry-dir:${at("reg")}:${image.repository}:${image.tag}`,
        );
      }
      assert.deepEqual(s.result.images.map((i: Json) => i.digest), [app.digest, multi.digest]);
      assert.equal(s.result.images[1].manifests.length, 2);
      // One image-done per image, naming it as the result does.
      assert.deepEqual(
        s.byType.get("image-done")!.map((e) => [e.source, e.destination, e.digest]).sort(),
        s.result.images.map((i: Json) => [i.source, i.destination, i.digest]).sort(),
      );
      assertEventSources(s, [appSource, latest]);
      const platforms = s.byType.get("manifest")!.map((e) => e.platform).filter(Boolean).sort();
      assert.deepEqual(platforms, ["linux/amd64", "linux/arm64"]);

      // A rerun fetches nothing: every byte is already present.
      const again = await stream([
        "registry",
        "save",
        "--json",
        tls,
        "--all",
        "--registry-dir",
        "reg",
        "--images",
        `${host}/library/app:1.0,${host}/multi/arch`,
      ], cwd);
      assertTotals(again.result.totals, {
        images: 2,
        blobs: blobs.size,
        fetched: 0,
        present: bytes,
      });
    });

    await t.step(
      "registry save with a failing image: image-failed, result, then error",
      async () => {
        const run = await ferry([
          "registry",
          "save",
          "--json",
          tls,
          "--registry-dir",
          "reg-failed",
          "--images",
          `${host}/library/app:1.0,${host}/team/missing:1`,
        ], { cwd });
        assert.equal(run.code, 1, run.stderr);
        const events = run.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Json);
        const byType = checkShared(events);
        assert.deepEqual(byType.get("image-failed")!.map((e) => e.source), [
          `docker://${host}/team/missing:1`,
        ]);
        assert.deepEqual(byType.get("image-done")!.map((e) => e.source), [appSource]);
        // The result still comes, before the error: the image saved, the one that failed (as its
        // event said), and the totals of what was fetched.
        const [result] = byType.get("result")!;
        assertKeys(result, ["type", "registryDir", "images", "failed", "totals"]);
        assert.deepEqual(result.images.map((i: Json) => i.source), [appSource]);
        assert.deepEqual(
          result.failed,
          byType.get("image-failed")!.map((e) => ({
            source: e.source,
            error: e.error,
          })),
        );
        const bytes = [app.config, ...app.layers].reduce((n, d) => n + d.size, 0);
        assertTotals(result.totals, {
          images: 1,
          blobs: app.layers.length + 1,
          fetched: bytes,
          present: 0,
        });
        assert.equal(events.at(-2), result);
        const last = events.at(-1)!;
        assertKeys(last, ["type", "code", "message"]);
        assert.equal(last.type, "error");
        assert.equal(last.code, "registry");

        // Without --json: the closing summary, then the error line.
        const plain = await ferry([
          "registry",
          "save",
          tls,
          "--registry-dir",
          "reg-failed",
          "--images",
          `${host}/library/app:1.0,${host}/team/missing:1`,
        ], { cwd });
        assert.equal(plain.code, 1, plain.stderr);
        const [summary, error] = plain.stderr.trimEnd().split("\n").slice(-2);
        assert.match(
          summary,
          new RegExp(
            `^1 of 2 images saved to reg-failed \\(0B fetched, ${
              formatSize(bytes).replace(".", "\\.")
            } already present, \\d+\\.\\d\\ds, 0B/s\\); 1 failed$`,
          ),
        );
        assert.match(error, /^ferry: 1 of 2 images failed: .*team\/missing:1/);
      },
    );

    let archived = "";
    await t.step("copy, and the destination read back as a source", async () => {
      const s = await stream(["copy", "--json", tls, appSource, "oci-archive:app.tar"], cwd);
      assertKeys(s.result, [
        "type",
        "source",
        "destination",
        "digest",
        "mediaType",
        "manifests",
        "referrers",
        "totals",
      ], ["tag"]);
      const appBytes = [app.config, ...app.layers].reduce((n, d) => n + d.size, 0);
      assertTotals(s.result.totals, { images: 1, blobs: 2, fetched: appBytes, present: 0 });
      assertTransferred(s.result, "copy");
      assert.equal(s.result.source, appSource);
      // An archive without a ref names the image as the source did, so a load restores the name.
      const appName = appSource.slice("docker://".length);
      assert.equal(s.result.destination, `oci-archive:${at("app.tar")}:${appName}`);
      assert.equal(s.result.tag, appName);
      assert.equal(s.result.digest, app.digest);
      assertEventSources(s, [appSource]);
      archived = s.result.destination;

      const back = await stream(["copy", "--json", archived, "oci:layout2"], cwd);
      assert.equal(back.result.source, archived);
      assert.equal(back.result.destination, `oci:${at("layout2")}:${appName}`);
      assert.equal(back.result.digest, app.digest);
      assertEventSources(back, [archived]);
    });

    await t.step("registry copy", async () => {
      const s = await stream(
        ["registry", "copy", "--json", tls, `${host}/library/app:1.0`, "./reg2"],
        cwd,
      );
      assertKeys(s.result, [
        "type",
        "source",
        "destination",
        "digest",
        "mediaType",
        "manifests",
        "referrers",
        "totals",
      ], ["tag"]);
      assertTransferred(s.result, "registry copy");
      assert.equal(s.result.source, appSource);
      assert.equal(s.result.destination, `registry-dir:${at("reg2")}:library/app:1.0`);
    });

    await t.step("registry sync", async () => {
      const s = await stream(["registry", "sync", "--json", tls, "./reg", host], cwd);
      assertKeys(s.result, ["type", "copied", "failed", "totals"]);
      assert.equal(s.result.copied, 2);
      // The registry holds both images already: nothing is fetched.
      assert.equal(s.result.totals.images, 2);
      assert.equal(s.result.totals.bytesFetched, 0);
      assert.deepEqual(s.result.failed, []);
      const done = s.byType.get("image-done")!.map((e) => [e.source, e.destination]).sort();
      assert.deepEqual(done, [
        [`registry-dir:${at("reg")}:library/app:1.0`, appSource],
        [`registry-dir:${at("reg")}:multi/arch:latest`, `docker://${host}/multi/arch:latest`],
      ]);
    });

    const root = ["--root", "store"];
    const storeOf = (name: string) => `oci:${at("store")}:${name}`;
    await t.step("pull", async () => {
      const s = await stream(["pull", "--json", tls, ...root, `${host}/library/app:1.0`], cwd);
      assertKeys(s.result, [
        "type",
        "source",
        "digest",
        "mediaType",
        "manifests",
        "referrers",
        "names",
      ]);
      assertTransferred(s.result, "pull");
      assert.equal(s.result.source, appSource);
      assert.deepEqual(s.result.names, [`${host}/library/app:1.0`]);
      assertEventSources(s, [appSource]);
    });

    await t.step("tag", async () => {
      const s = await stream(["tag", "--json", ...root, `${host}/library/app:1.0`, "web:1"], cwd);
      assert.deepEqual(s.events, [{
        type: "result",
        image: `${host}/library/app:1.0`,
        digest: app.digest,
        names: ["localhost/web:1"],
      }]);
    });

    await t.step("push, and its source read back", async () => {
      const s = await stream(["push", "--json", tls, ...root, "web:1", `${host}/team/web`], cwd);
      assertKeys(s.result, [
        "type",
        "source",
        "destination",
        "digest",
        "mediaType",
        "manifests",
        "referrers",
      ], [
        "tag",
      ]);
      assertTransferred(s.result, "push");
      assert.equal(s.result.source, storeOf("localhost/web:1"));
      assert.equal(s.result.destination, `docker://${host}/team/web:1`);
      assert.equal(s.result.tag, "1");
      const back = await stream(["copy", "--json", s.result.source, "oci:layout3"], cwd);
      assert.equal(back.result.digest, app.digest);
    });

    let saved: Json = {};
    await t.step("save", async () => {
      const s = await stream(["save", "--json", ...root, "-o", "web.tar", "web:1"], cwd);
      assertKeys(s.result, ["type", "destination", "images"]);
      assert.equal(s.result.destination, `oci-archive:${at("web.tar")}`);
      assertKeys(s.result.images[0], [
        "source",
        "digest",
        "mediaType",
        "manifests",
        "referrers",
        "names",
      ]);
      assertTransferred(s.result.images[0], "save");
      assert.equal(s.result.images[0].source, storeOf("localhost/web:1"));
      assert.deepEqual(s.result.images[0].names, ["localhost/web:1"]);
      assertEventSources(s, [storeOf("localhost/web:1")]);
      saved = s.result;
    });

    await t.step("load", async () => {
      const s = await stream(["load", "--json", "--root", "store2", "-i", "web.tar"], cwd);
      assertKeys(s.result, ["type", "source", "images"]);
      assert.equal(s.result.source, `oci-archive:${at("web.tar")}`);
      const [image] = s.result.images;
      assertKeys(image, ["source", "digest", "mediaType", "manifests", "referrers", "names"]);
      assertTransferred(image, "load");
      assert.equal(image.source, `oci-archive:${at("web.tar")}:${saved.images[0].digest}`);
      assert.deepEqual(image.names, ["localhost/web:1"]);
      assertEventSources(s, [image.source]);

      const docker = await ferry(
        ["save", ...root, "--format", "docker-archive", "-o", "d.tar", "web:1"],
        { cwd },
      );
      assert.equal(docker.code, 0, docker.stderr);
      const d = await stream(["load", "--json", "--root", "store3", "-i", "d.tar"], cwd);
      assert.equal(d.result.source, `docker-archive:${at("d.tar")}`);
      assert.equal(d.result.images[0].source, `docker-archive:${at("d.tar")}:@0`);
    });

    await t.step("images (snapshot)", async () => {
      const s = await snapshot(["images", "--json", ...root], cwd);
      assertKeys(s, ["root", "images"]);
      assert.equal(s.root, at("store"));
      for (const row of s.images) {
        assertKeys(row, ["digest", "mediaType", "size", "platforms"], ["name", "created"]);
      }
      assert.deepEqual(s.images.map((r: Json) => r.name), [
        `${host}/library/app:1.0`,
        "localhost/web:1",
      ]);
    });

    await t.step("inspect (snapshot)", async () => {
      const s = await snapshot(["inspect", "--json", ...root, "web:1"], cwd);
      assertKeys(s, [
        "image",
        "name",
        "names",
        "digest",
        "mediaType",
        "size",
        "platforms",
        "manifest",
        "registry",
        "referrers",
        "notes",
      ], ["created", "manifests"]);
      assert.deepEqual(s.referrers, { signatures: 0, attestations: 0, sboms: 0, other: 0 });
      assert.equal(s.image, "web:1");
      assert.equal(s.name, "localhost/web:1");
      assert.equal(s.digest, app.digest);
      assertKeys(s.manifest, ["digest", "mediaType", "config", "layers"], ["platform"]);
      assert.equal(s.manifest.platform, "linux/amd64");
    });

    await t.step("rmi", async () => {
      const s = await stream(["rmi", "--json", ...root, "web:1"], cwd);
      assert.deepEqual(s.events, [{
        type: "result",
        untagged: ["localhost/web:1"],
        removed: [],
        freedBytes: 0,
      }]);
    });

    await t.step("prune", async () => {
      const s = await stream(["prune", "--json", ...root], cwd);
      assertKeys(s.result, ["type", "removed", "freedBytes"]);
      assert.deepEqual(s.events, [{ type: "result", removed: [], freedBytes: 0 }]);
    });

    await t.step("context images (snapshot)", async () => {
      await Deno.mkdir(at("ctx/images/shim"), { recursive: true });
      await Deno.mkdir(at("ctx/images/skopeo"), { recursive: true });
      await Deno.writeTextFile(at("ctx/Kubefile"), "FROM scratch\nCOPY registry ./registry\n");
      await Deno.writeTextFile(at("ctx/images/shim/list.txt"), `${host}/library/app:1.0\n`);
      await Deno.copyFile(at("d.tar"), at("ctx/images/skopeo/web.tar"));
      await Deno.writeTextFile(
        at("ctx/images/skopeo/tar.txt"),
        "docker-archive:web.tar@team/web:2\n",
      );
      const s = await snapshot(["context", "images", "--json", "ctx"], cwd);
      assertKeys(s, ["context", "images", "referenced", "archives", "warnings", "ignored"]);
      assert.equal(s.context, at("ctx"));
      assert.deepEqual(s.images, [{
        image: `${host}/library/app:1.0`,
        foundIn: [{ file: at("ctx/images/shim/list.txt"), line: 1, rule: "shim" }],
      }]);
      assert.deepEqual(s.archives, [{
        source: `docker-archive:${at("ctx/images/skopeo/web.tar")}`,
        repository: "team/web",
        tag: "2",
        foundIn: [{ file: at("ctx/images/skopeo/tar.txt"), line: 1, rule: "tar" }],
      }]);
    });

    let built: Json = {};
    await t.step("build", async () => {
      const s = await stream([
        "build",
        "--json",
        tls,
        ...root,
        "--timestamp",
        "1700000000",
        "-t",
        "cluster:1",
        "-o",
        "oci-archive:cluster.tar",
        "ctx",
      ], cwd);
      assertKeys(s.result, [
        "type",
        "context",
        "digest",
        "mediaType",
        "names",
        "savedImages",
        "images",
      ], ["output"]);
      assert.equal(s.result.context, at("ctx"));
      assert.deepEqual(s.result.names, ["localhost/cluster:1"]);
      assert.equal(s.result.savedImages, 2);
      const [image] = s.result.images;
      assertKeys(image, ["platform", "digest", "config", "layers"]);
      assert.match(image.platform, PLATFORM);
      for (const l of image.layers) assertKeys(l, ["digest", "size", "diffId", "reused"]);
      // The context's registry/ gets layers of its own ahead of the COPY's other files.
      assert.ok(image.layers.length >= 2);
      assert.ok(image.layers.every((l: Json) => l.reused === false));
      const output = s.result.output;
      assertKeys(output, [
        "source",
        "destination",
        "digest",
        "mediaType",
        "manifests",
        "referrers",
        "tag",
      ]);
      assert.equal(output.source, storeOf("localhost/cluster:1"));
      assert.equal(output.destination, `oci-archive:${at("cluster.tar")}:localhost/cluster:1`);
      // The context's images are saved first, named like registry save names them.
      assert.deepEqual(
        s.byType.get("image-done")!.map((e) => [e.source, e.destination]).sort(),
        [
          [appSource, `registry-dir:${at("ctx/registry")}:library/app:1.0`],
          [
            `docker-archive:${at("ctx/images/skopeo/web.tar")}`,
            `registry-dir:${at("ctx/registry")}:team/web:2`,
          ],
        ].sort(),
      );
      for (const e of s.byType.get("step")!) {
        assertKeys(e, ["type", "platform", "step", "steps", "text"]);
      }
      const layers = s.byType.get("layer")!;
      for (const e of layers) {
        assertKeys(e, ["type", "platform", "digest", "size", "diffId", "reused"]);
      }
      assertKeys(s.byType.get("built")![0], ["type", "platform", "digest", "config"]);
      built = s.result;

      // Built again: the layer is reused, and both the event and the result say so.
      const again = await stream([
        "build",
        "--json",
        ...root,
        "--save-image=false",
        "--timestamp",
        "1700000000",
        "-t",
        "cluster:1",
        "ctx",
      ], cwd);
      const layerCount = built.images[0].layers.length;
      assert.deepEqual(
        again.byType.get("layer")!.map((e) => e.reused),
        Array(layerCount).fill(true),
      );
      assert.deepEqual(
        again.result.images[0].layers.map((l: Json) => l.reused),
        Array(layerCount).fill(true),
      );
      assert.equal(again.result.digest, built.digest);
    });

    await t.step("registry gc (dry run)", async () => {
      // The saved index's children are untagged: --delete-untagged would take them (and warns).
      const s = await stream(
        ["registry", "gc", "--json", "--dry-run", "--delete-untagged", "reg"],
        cwd,
      );
      assertKeys(s.result, [
        "type",
        "dir",
        "dryRun",
        "repositories",
        "keptManifests",
        "keptBlobs",
        "removed",
        "freedBytes",
      ]);
      assert.equal(s.result.dir, at("reg"));
      assertKeys(s.result.removed, ["manifests", "blobs", "layerLinks"]);
      const removed = s.byType.get("removed")!;
      assert.equal(removed.length, Object.values(s.result.removed as Json).reduce((a, b) => a + b));
      for (const e of removed) {
        assertKeys(e, ["type", "kind", "digest", "dryRun"], ["repository", "size"], "removed");
        assert.match(e.digest, DIGEST);
        assert.equal(e.dryRun, true);
        assert.equal(e.size !== undefined, e.kind === "blob");
        assert.equal(e.repository !== undefined, e.kind !== "blob");
      }
      assert.ok(removed.some((e) => e.kind === "manifest"));
      assert.equal(
        s.result.freedBytes,
        removed.reduce((n, e) => n + (e.size ?? 0), 0),
      );
      assert.ok(s.byType.get("warning")!.length > 0);
      const progress = s.byType.get("progress")!;
      for (const e of progress) {
        assertKeys(e, ["type", "step", "done", "total"], ["bytes"], "progress");
        assert.ok(e.step === "mark" || e.step === "sweep");
      }
      assert.ok(progress.some((e) => e.step === "mark" && e.done === e.total));
    });

    await t.step("merge", async () => {
      await Deno.mkdir(at("ctx2"));
      await Deno.writeTextFile(at("ctx2/Kubefile"), "FROM scratch\nCOPY f /f\n");
      await Deno.writeTextFile(at("ctx2/f"), "f\n");
      await stream(["build", "--json", ...root, "--save-image=false", "-t", "two:1", "ctx2"], cwd);
      const s = await stream(
        ["merge", "--json", ...root, "-t", "all:1", "cluster:1", "two:1"],
        cwd,
      );
      assertKeys(s.result, ["type", "digest", "mediaType", "names", "images"]);
      assert.deepEqual(s.result.names, ["localhost/all:1"]);
      const [image] = s.result.images;
      assertKeys(image, ["platform", "digest", "config", "layers"]);
      assert.equal(image.platform, built.images[0].platform);
      assert.equal(image.digest, s.result.digest);
      for (const l of image.layers) assertKeys(l, ["digest", "size", "diffId", "reused", "image"]);
      assert.deepEqual(
        image.layers.map((l: Json) => [l.image, l.reused]),
        [...built.images[0].layers.map(() => ["cluster:1", true]), ["two:1", true]],
      );
      assert.equal(image.layers[0].digest, built.images[0].layers[0].digest);
      const inputs = s.byType.get("input")!;
      for (const e of inputs) assertKeys(e, ["type", "image", "reused", "skipped", "flattened"]);
      assert.deepEqual(inputs.map((e) => e.image), ["cluster:1", "two:1"]);
    });
  },
);

/** One `verify` image: the fields docs/JSON.md lists. */
function assertVerified(image: Json) {
  assertKeys(
    image,
    ["image", "source", "verified", "keys", "signatures"],
    ["digest", "platform", "reason"],
    "verify image",
  );
  assertLocation(image.source);
  if (image.digest !== undefined) assert.match(image.digest, DIGEST);
  assert.ok(Number.isInteger(image.verified));
  assert.equal(image.reason === undefined, image.verified > 0, JSON.stringify(image));
  for (const sig of image.signatures) {
    assertKeys(sig, ["tag", "payload"], ["key", "signedDigest", "dockerReference", "problem"]);
    assert.match(sig.payload, DIGEST);
    assert.equal(sig.key === undefined, sig.problem !== undefined, JSON.stringify(sig));
  }
}

peerTest("--json: verify's snapshot follows docs/JSON.md", ["openssl"], async () => {
  await using dir = await tempDir("ferry-json-");
  const cwd = await Deno.realPath(dir.path);
  const [good, bad] = await makeLayout(join(cwd, "oci"), [
    { name: "good", layers: [{ seed: "json-good", size: 1_000 }] },
    { name: "bad", layers: [{ seed: "json-bad", size: 1_000 }] },
  ]) as BuiltImage[];
  const key = await makeKeyPair(cwd);
  await writeSignatureImage(join(cwd, "oci"), sigTag(good.digest), [
    await signatureLayer(good.digest, { key }),
  ]);
  await writeSignatureImage(join(cwd, "oci"), sigTag(bad.digest), [
    await signatureLayer(bad.digest, { key, tamper: true }),
  ]);
  // Relative paths given; the snapshot's locations are absolute.
  const s = await snapshot(["verify", "--json", "--key", "cosign.pub", "oci:oci:good"], cwd);
  assertKeys(s, ["images"]);
  assert.equal(s.images.length, 1);
  assertVerified(s.images[0]);
  assert.equal(s.images[0].source, `oci:${join(cwd, "oci")}:good`);
  assert.equal(s.images[0].image, "oci:oci:good");
  assert.equal(s.images[0].signatures[0].key, "cosign.pub");

  // Failing: the snapshot, then the error event; exit 1.
  const run = await ferry(["verify", "--json", "--key", "cosign.pub", "oci:oci:bad"], { cwd });
  assert.equal(run.code, 1);
  const [snap, error, ...rest] = run.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rest, []);
  assertKeys(snap, ["images"]);
  assertVerified(snap.images[0]);
  assert.equal(snap.images[0].verified, 0);
  assert.match(snap.images[0].signatures[0].problem, /does not verify/);
  assertKeys(error, ["type", "code", "message"]);
  assert.equal(error.code, "untrusted");
});
