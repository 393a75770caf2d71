import assert from "node:assert/strict";
import { join } from "node:path";
import { ImageStore } from "../image_store/mod.ts";
import { readLayer } from "../layer/mod.ts";
import { OCI_LAYER_GZIP, OCI_LAYER_TAR } from "../media_types.ts";
import { build, type BuildEvent, type BuildOptions } from "./mod.ts";
import { imageTree, readStored, textDigest, writeTree } from "./test_util.ts";

const EPOCH = 1_700_000_000;

/** A temp dir holding `ctx/` and a store at `root/`, removed afterwards. */
async function withDirs(fn: (ctx: string, store: ImageStore, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ferry-build-" });
  const store = await ImageStore.open({ root: join(dir, "root") });
  try {
    await Deno.mkdir(join(dir, "ctx"));
    await fn(join(dir, "ctx"), store, dir);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(opts: Omit<BuildOptions, "saveImages">) {
  const events: BuildEvent[] = [];
  const result = await build({
    saveImages: false,
    ...opts,
    onEvent: (e) => events.push(e),
  });
  return { result, layers: events.filter((e) => e.type === "layer") };
}

Deno.test("build: instructions become config, layers and history", async () => {
  await withDirs(async (ctx, store) => {
    await writeTree(ctx, {
      "Kubefile": [
        "# escape=`",
        "ARG VERSION=1.0",
        "FROM scratch",
        "ARG VERSION",
        "MAINTAINER ops@example.com",
        "ENV APP=demo `",
        "    MODE=fast",
        "ENV DIR=/opt/$APP",
        'LABEL sealos.io.type="application" version=$VERSION',
        "COPY manifests $DIR/manifests",
        "WORKDIR $DIR",
        "COPY --chmod=0700 --chown=1000:1000 run.sh bin/",
        "EXPOSE 8080/tcp 53/udp",
        "VOLUME /data",
        "USER 1000",
        'ENTRYPOINT ["/bin/sh"]',
        'CMD ["run.sh"]',
        "STOPSIGNAL SIGTERM",
      ].join("\n"),
      "manifests/deploy.yaml": "kind: Deployment\n",
      "run.sh": ["#!/bin/sh\n", 0o755],
    });
    const { result, layers } = await run({
      context: ctx,
      store,
      tags: ["demo:1"],
      buildArgs: { VERSION: "2.0" },
      labels: { extra: "yes" },
      timestamp: EPOCH,
    });
    assert.deepEqual(result.names, ["localhost/demo:1"]);
    assert.equal(layers.length, 2);
    const { manifest, config } = await readStored(store, "demo:1");
    assert.equal(manifest.layers.length, 2);
    assert.ok(manifest.layers.every((l) => l.mediaType === OCI_LAYER_GZIP));
    const c = config.config as Record<string, unknown>;
    assert.deepEqual(c.Env, ["APP=demo", "MODE=fast", "DIR=/opt/demo"]);
    assert.deepEqual(c.Labels, { "sealos.io.type": "application", version: "2.0", extra: "yes" });
    assert.equal(c.WorkingDir, "/opt/demo");
    assert.deepEqual(c.ExposedPorts, { "53/udp": {}, "8080/tcp": {} });
    assert.deepEqual(c.Volumes, { "/data": {} });
    assert.equal(c.User, "1000");
    assert.deepEqual(c.Entrypoint, ["/bin/sh"]);
    assert.deepEqual(c.Cmd, ["run.sh"]);
    assert.equal(c.StopSignal, "SIGTERM");
    assert.equal(config.author, "ops@example.com");
    assert.equal(config.created, "2023-11-14T22:13:20Z");
    const history = config.history as { empty_layer?: boolean; created_by: string }[];
    assert.equal(history.filter((h) => !h.empty_layer).length, 2);
    const diffIds = (config.rootfs as { diff_ids: string[] }).diff_ids;
    assert.deepEqual(
      history.filter((h) => !h.empty_layer).map((h) => h.created_by),
      [
        `/bin/sh -c #(nop) COPY dir:${diffIds[0].slice(7)} in /opt/demo/manifests `,
        `/bin/sh -c #(nop) COPY file:${diffIds[1].slice(7)} in bin/ `,
      ],
    );

    const tree = await imageTree(store, manifest);
    assert.deepEqual(Object.keys(tree), [
      "opt",
      "opt/demo",
      "opt/demo/bin",
      "opt/demo/bin/run.sh",
      "opt/demo/manifests",
      "opt/demo/manifests/deploy.yaml",
    ]);
    assert.deepEqual(
      { ...tree["opt/demo/bin/run.sh"], mtime: 0 },
      {
        kind: "file",
        mode: 0o700,
        uid: 1000,
        gid: 1000,
        digest: textDigest("#!/bin/sh\n"),
        mtime: 0,
      },
    );
    assert.equal(tree["opt/demo/bin"].uid, 1000);
    assert.equal(tree["opt/demo/manifests/deploy.yaml"].mode, 0o644);
    assert.ok(Object.values(tree).every((e) => e.mtime <= EPOCH), "mtimes are clamped");
  });
});

Deno.test("build: unchanged inputs reuse their layer; a changed file rewrites only its layer", async () => {
  await withDirs(async (ctx, store) => {
    await writeTree(ctx, {
      "Kubefile": "FROM scratch\nCOPY a /a\nCOPY b /b\n",
      "a/one": "1",
      "b/two": "2",
    });
    const first = await run({ context: ctx, store, timestamp: EPOCH });
    assert.deepEqual(first.layers.map((l) => l.type === "layer" && l.cached), [false, false]);
    const again = await run({ context: ctx, store, timestamp: EPOCH });
    assert.deepEqual(again.layers.map((l) => l.type === "layer" && l.cached), [true, true]);
    assert.equal(again.result.descriptor.digest, first.result.descriptor.digest);
    // Without the cache the same bytes come out: layers are deterministic.
    const fresh = await run({ context: ctx, store, timestamp: EPOCH, cache: false });
    assert.deepEqual(fresh.layers.map((l) => l.type === "layer" && l.cached), [false, false]);
    assert.equal(fresh.result.descriptor.digest, first.result.descriptor.digest);
    await Deno.writeTextFile(join(ctx, "b/two"), "changed");
    const changed = await run({ context: ctx, store, timestamp: EPOCH });
    assert.deepEqual(changed.layers.map((l) => l.type === "layer" && l.cached), [true, false]);
    assert.notEqual(changed.result.descriptor.digest, first.result.descriptor.digest);
    // Same size, same (clamped, even restored) modification time, other content: still a change
    // (the change time moves; it has one-second resolution here, hence the pause).
    const before = await Deno.stat(join(ctx, "a/one"));
    await new Promise((r) => setTimeout(r, 1100));
    await Deno.writeTextFile(join(ctx, "a/one"), "9");
    await Deno.utime(join(ctx, "a/one"), before.atime!, before.mtime!);
    const sneaky = await run({ context: ctx, store, timestamp: EPOCH });
    assert.deepEqual(sneaky.layers.map((l) => l.type === "layer" && l.cached), [false, true]);
    // Plain tar layers: digest = diffID.
    const plain = await run({ context: ctx, store, timestamp: EPOCH, compression: "none" });
    const { manifest, config } = await readStored(store, plain.result.descriptor.digest);
    assert.ok(manifest.layers.every((l) => l.mediaType === OCI_LAYER_TAR));
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      (config.rootfs as { diff_ids: string[] }).diff_ids,
    );
  });
});

Deno.test("build: stages, COPY --from, FROM a stored image and its inherited config", async () => {
  await withDirs(async (ctx, store) => {
    await writeTree(ctx, {
      "Basefile": [
        "FROM scratch",
        "ENV BASE_DIR=/base PATH=/bin",
        "LABEL from=base",
        'CMD ["base-cmd"]',
        "COPY files /base/",
      ].join("\n"),
      "Kubefile": [
        "FROM scratch AS build",
        "COPY files /out/",
        "COPY extra.txt /out/sub/",
        "FROM scratch AS unused",
        "COPY nothing-here /x",
        "FROM localhost/base:1",
        "COPY --from=build /out /copied",
        "COPY --from=0 /out/sub/extra.txt $BASE_DIR/",
        "COPY --from=build --exclude=sub /out /filtered",
        "COPY --exclude=*.txt --exclude=Basefile --exclude=Kubefile . /ctx/",
        'ENTRYPOINT ["/entry"]',
      ].join("\n"),
      "files/f1": "f1",
      "extra.txt": "extra",
    });
    await run({ context: ctx, store, files: ["Basefile"], tags: ["base:1"], timestamp: EPOCH });
    const base = await readStored(store, "base:1");
    const { result } = await run({ context: ctx, store, tags: ["app:1"], timestamp: EPOCH });
    const { manifest, config } = await readStored(store, "app:1");
    assert.equal(result.images[0].layers[0].reused, true, "base layer reused");
    assert.equal(manifest.layers[0].digest, base.manifest.layers[0].digest);
    assert.equal(manifest.layers.length, 5);
    assert.equal(manifest.annotations?.["org.opencontainers.image.base.name"], "localhost/base:1");
    const c = config.config as Record<string, unknown>;
    assert.deepEqual(c.Env, ["BASE_DIR=/base", "PATH=/bin"]);
    assert.deepEqual(c.Labels, { from: "base" });
    assert.deepEqual(c.Entrypoint, ["/entry"]);
    assert.equal(c.Cmd, undefined, "ENTRYPOINT drops the inherited CMD");
    const tree = await imageTree(store, manifest);
    assert.deepEqual(Object.keys(tree), [
      "base",
      "base/extra.txt",
      "base/f1",
      "copied",
      "copied/f1",
      "copied/sub",
      "copied/sub/extra.txt",
      "ctx",
      "ctx/files",
      "ctx/files/f1",
      "filtered",
      "filtered/f1",
    ]);
    assert.equal(tree["copied/sub/extra.txt"].digest, textDigest("extra"));
  });
});

Deno.test("build: WORKDIR creates missing directories in the stage's next layer, as buildah does", async () => {
  await withDirs(async (ctx, store) => {
    await writeTree(ctx, {
      "Kubefile": [
        "FROM scratch",
        "COPY a.txt /x/a.txt",
        "WORKDIR /opt/app", // missing: opt and opt/app go into the next COPY's layer
        "COPY a.txt .",
        "WORKDIR /x", // exists: left as it is
        "USER 7",
        "WORKDIR sub", // owned by the numeric USER (a lone uid gives the gid)
        "USER 10:11",
        "WORKDIR /home/u",
        "USER nobody",
        "WORKDIR /n", // a name: root, with a warning
        'CMD ["x"]',
      ].join("\n"),
      "a.txt": "a",
    });
    const warnings: string[] = [];
    const first = await run({
      context: ctx,
      store,
      tags: ["wd:1"],
      timestamp: EPOCH,
      warn: (m) => warnings.push(m),
    });
    const { manifest, config } = await readStored(store, "wd:1");
    assert.equal(manifest.layers.length, 3, "two COPY layers and one for the last WORKDIRs");
    const layerPaths: string[][] = [];
    for (const layer of manifest.layers) {
      const paths: string[] = [];
      for await (const e of readLayer(await store.target().fetch(layer))) paths.push(e.path);
      layerPaths.push(paths);
    }
    assert.deepEqual(layerPaths, [
      ["x", "x/a.txt"],
      ["opt", "opt/app", "opt/app/a.txt"],
      ["x/sub", "home", "home/u", "n"],
    ]);
    const tree = await imageTree(store, manifest);
    const dir = (uid: number, gid: number) => ({
      kind: "dir",
      mode: 0o755,
      uid,
      gid,
      mtime: EPOCH,
    });
    assert.deepEqual(tree["opt/app"], dir(0, 0));
    assert.deepEqual(tree["x/sub"], dir(7, 7));
    assert.deepEqual(tree["home"], dir(10, 11));
    assert.deepEqual(tree["home/u"], dir(10, 11));
    assert.deepEqual(tree["n"], dir(0, 0));
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /^Kubefile:11: WORKDIR \/n: USER nobody is a name; the directory is owned by root/,
    );
    // The history names the WORKDIR that ended with directories as the last layer's step.
    const history = config.history as { empty_layer?: boolean; created_by: string }[];
    assert.deepEqual(
      history.filter((h) => !h.empty_layer).map((h) => h.created_by.replace(/:[0-9a-f]{64}/, "")),
      [
        "/bin/sh -c #(nop) COPY file in /x/a.txt ",
        "/bin/sh -c #(nop) COPY file in . ",
        "/bin/sh -c #(nop) WORKDIR /n",
      ],
    );
    assert.equal(history.length, 11, "one entry per instruction");
    // A rebuild reuses both COPY layers (the WORKDIR directories are part of the second's key)
    // and gives the same image.
    const again = await run({ context: ctx, store, tags: ["wd:1"], timestamp: EPOCH });
    assert.deepEqual(again.layers.map((l) => l.type === "layer" && l.cached), [true, true, false]);
    assert.equal(again.result.descriptor.digest, first.result.descriptor.digest);

    // A WORKDIR through a file is refused, as buildah refuses it.
    await Deno.writeTextFile(
      join(ctx, "Kubefile"),
      "FROM scratch\nCOPY a.txt /x/a.txt\nWORKDIR /x/a.txt/sub\n",
    );
    await assert.rejects(
      run({ context: ctx, store }),
      /^FerryError: Kubefile:3: WORKDIR \/x\/a.txt\/sub: \/x\/a.txt is not a directory$/,
    );
  });
});

Deno.test("build: bad input fails with one line naming file, line and instruction", async () => {
  await withDirs(async (ctx, store) => {
    await writeTree(ctx, { "a.txt": "a" });
    const cases: [string, RegExp][] = [
      [
        "FROM scratch\nCOPY missing /x\n",
        /^Kubefile:2: COPY: source "missing" not found in the build context$/,
      ],
      [
        "FROM scratch\nADD ../../etc/passwd /x\n",
        /^Kubefile:2: ADD: source "..\/..\/etc\/passwd" is outside the build context$/,
      ],
      ["FROM scratch\nRUN make\n", /^Kubefile:2: RUN is not supported/],
      ["FROM scratch\nCOPY a.txt\n", /^Kubefile:2: COPY requires at least two arguments/],
      [
        "FROM scratch\nCOPY --from=nostage /a /b\n",
        /^Kubefile:2: COPY --from=nostage: image nostage \(linux\/\w+\) is not in the image store and pulling is off$/,
      ],
      ["FROM Not_A/Name\n", /^Kubefile:1: FROM Not_A\/Name: invalid reference "Not_A\/Name": /],
      [
        "FROM scratch AS a\nCOPY a.txt /x\nFROM scratch\nCOPY --from=a /nope /y\n",
        /^Kubefile:4: COPY: source "\/nope" not found in stage a$/,
      ],
      [
        "FROM scratch\nCOPY --chown=nobody a.txt /x\n",
        /^Kubefile:2: COPY: --chown=nobody: user "nobody" is not a number/,
      ],
    ];
    for (const [text, pattern] of cases) {
      await Deno.writeTextFile(join(ctx, "Kubefile"), text);
      await assert.rejects(run({ context: ctx, store }), (err: Error) => {
        assert.match(err.message, pattern, `${text} -> ${err.message}`);
        assert.ok(!err.message.includes("\n"), "one line");
        return true;
      });
    }
    await Deno.writeTextFile(join(ctx, "Kubefile"), "FROM scratch\nCOPY a.txt /a\n");
    await assert.rejects(
      run({ context: ctx, store, tags: ["Bad Name"] }),
      /invalid reference "Bad Name": contains whitespace/,
    );
    await assert.rejects(
      run({ context: join(ctx, "nope"), store }),
      /build context .* does not exist/,
    );
  });
});
