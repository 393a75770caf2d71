/**
 * `ferry merge` against real peers: two cluster images built by ferry (each carrying its own
 * saved images) and one image whose layers delete a file are merged; umoci unpacks exactly the
 * overlay of the inputs' file systems (as Sealos's COPY --from merge gives, which buildah
 * reproduces here), the merged registry/ serves every image, and the config follows Sealos.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  configBlob,
  type ImageConfig,
  manifestBlob,
  storeJson,
  storeLayer,
} from "../src/builder/mod.ts";
import { readStored } from "../src/builder/test_util.ts";
import { ferry, ok } from "./ferry_cli.ts";
import { ImageStore } from "../src/image_store/mod.ts";
import { type LayerEntry, writeLayer } from "../src/layer/mod.ts";
import { type Snap, snapshot } from "../src/layer/test_util.ts";
import { OCI_LAYER_GZIP } from "../src/media_types.ts";
import {
  type BuiltImage,
  inspect,
  inspectRaw,
  makeLayout,
  peerTest,
  pushToRegistry,
  requirePeer,
  run,
  startRegistry,
  tempDir,
} from "./support/mod.ts";

/** A cluster image context: a Kubefile, a shim list and some files. */
async function writeContext(
  ctx: string,
  kubefile: string,
  files: Record<string, string>,
  images: string[],
): Promise<void> {
  const all = { Kubefile: kubefile, "images/shim/list.txt": images.join("\n") + "\n", ...files };
  for (const [rel, text] of Object.entries(all)) {
    await Deno.mkdir(join(ctx, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(ctx, rel), text);
  }
}

/** Stores `localhost/wh:1`: its second layer deletes etc/shared (a whiteout). */
async function storeWhiteoutImage(root: string): Promise<void> {
  const store = await ImageStore.open({ root });
  try {
    const file = (path: string, text: string): LayerEntry => ({
      kind: "file",
      path,
      mode: 0o644,
      size: text.length,
      mtime: 1_600_000_000,
      open: () => new Blob([text]).stream(),
    });
    const l0 = await storeLayer(
      store,
      writeLayer([
        { kind: "dir", path: "etc", mode: 0o755, mtime: 1_600_000_000 },
        file("etc/shared", "from wh"),
        file("etc/wh-only", "wh"),
      ], { compression: "gzip" }),
    );
    const l1 = await storeLayer(
      store,
      writeLayer([file("etc/.wh.shared", "")], { compression: "gzip" }),
    );
    const config: ImageConfig = {
      architecture: "amd64",
      os: "linux",
      config: { Labels: { "sealos.io.type": "patch", from: "wh" }, Env: ["WH=1"] },
      rootfs: { type: "layers", diff_ids: [l0.diffId, l1.diffId] },
      history: [{ created_by: "files" }, { created_by: "delete etc/shared" }],
    };
    const cfg = await configBlob(config);
    await storeJson(store, cfg);
    const m = await manifestBlob(
      cfg.descriptor,
      [l0, l1].map((l) => ({ mediaType: OCI_LAYER_GZIP, digest: l.digest, size: l.size })),
    );
    await storeJson(store, m);
    await store.setName(m.descriptor, "localhost/wh:1");
  } finally {
    await store.close();
  }
}

async function unpack(layout: string, ref: string, bundle: string): Promise<string> {
  await run(requirePeer("umoci"), ["unpack", "--rootless", "--image", `${layout}:${ref}`, bundle]);
  return join(bundle, "rootfs");
}

peerTest(
  "merge: umoci unpacks the overlay of the inputs; registry/ trees merge; config as Sealos",
  ["docker-registry", "skopeo", "umoci"],
  async (t) => {
    await using dir = await tempDir("ferry-merge-");
    await using source = await startRegistry();
    const layout = dir.join("layout");
    const [imgA, imgB] = await makeLayout(layout, [
      {
        name: "a",
        layers: [{ seed: "merge-shared", size: 20_000 }, { seed: "merge-a", size: 5_000 }],
      },
      {
        name: "b",
        layers: [{ seed: "merge-shared", size: 20_000 }, { seed: "merge-b", size: 6_000 }],
      },
    ]) as [BuiltImage, BuiltImage];
    await pushToRegistry(layout, "a", `${source.host}/library/a:1`);
    await pushToRegistry(layout, "b", `${source.host}/library/b:1`);

    const root = dir.join("root");
    const build = async (
      name: string,
      kubefile: string,
      files: Record<string, string>,
      image: string,
    ) => {
      const ctx = dir.join(name);
      await writeContext(ctx, kubefile, files, [image]);
      ok(
        await ferry([
          "build",
          "--root",
          root,
          "--tls-verify=false",
          "--platform",
          "linux/amd64",
          "-t",
          `${name}:1`,
          ctx,
        ]),
        `build ${name}`,
      );
    };
    await build(
      "k8s",
      [
        "FROM scratch",
        "LABEL sealos.io.type=rootfs version=v1.28 shared=k8s",
        "ENV criData=/var/lib/containerd SHARED=k8s",
        'CMD ["kubeadm-init.sh"]',
        "COPY . .",
      ].join("\n"),
      { "etc/shared": "from k8s", "etc/k8s-only": "k8s", "scripts/init.sh": "init" },
      `${source.host}/library/a:1`,
    );
    await build(
      "app",
      [
        "FROM scratch",
        "LABEL shared=app",
        "ENV SHARED=app PATH=/usr/bin",
        'CMD ["kubectl apply -f manifests"]',
        "COPY . .",
      ].join("\n"),
      { "etc/shared": "from app", "manifests/app.yaml": "kind: Deployment\n" },
      `${source.host}/library/b:1`,
    );
    await storeWhiteoutImage(root);

    const merged = ok(
      await ferry([
        "merge",
        "--root",
        root,
        "--platform",
        "linux/amd64",
        "-t",
        "all:1",
        "k8s:1",
        "app:1",
        "wh:1",
      ]),
      "ferry merge",
    );
    const digest = merged.stdout.trim();
    assert.match(merged.stderr, /wh:1: whiteouts in its layers, flattened into one layer/);

    const info = await inspect(`oci:${root}:localhost/all:1`);
    assert.equal(info.Digest, digest);

    const trees: Record<string, Snap>[] = [];
    for (const name of ["k8s:1", "app:1", "wh:1"]) {
      trees.push(
        await snapshot(await unpack(root, `localhost/${name}`, dir.join(`b-${name}`)), {
          mtimes: true,
        }),
      );
    }
    const rootfs = await unpack(root, "localhost/all:1", dir.join("b-all"));
    const got = await snapshot(rootfs, { mtimes: true });

    await t.step("the merged tree is the inputs' trees overlaid in order", () => {
      const want = Object.assign({}, ...trees);
      for (const s of Object.values(want) as Snap[]) if (s.type === "dir") delete s.mtime;
      for (const s of Object.values(got)) if (s.type === "dir") delete s.mtime;
      assert.deepEqual(got, want);
      // wh deletes etc/shared only in its own layers; a copy of its file system cannot.
      assert.equal(
        new TextDecoder().decode(Deno.readFileSync(join(rootfs, "etc/shared"))),
        "from app",
      );
      assert.ok(got["etc/wh-only"] && got["etc/k8s-only"] && got["scripts/init.sh"]);
    });

    await t.step("the merged registry/ serves both inputs' images", async () => {
      await using served = await startRegistry({ root: join(rootfs, "registry"), readOnly: true });
      assert.equal((await inspectRaw(`${served.host}/library/a:1`)).digest, imgA.digest);
      assert.equal((await inspectRaw(`${served.host}/library/b:1`)).digest, imgB.digest);
    });

    await t.step(
      "labels and env unioned (later wins, PATH dropped), CMD concatenated",
      async () => {
        const store = await ImageStore.open({ root });
        try {
          const { manifest, config } = await readStored(store, "all:1");
          const k8s = await readStored(store, "k8s:1");
          const app = await readStored(store, "app:1");
          const built = [...k8s.manifest.layers, ...app.manifest.layers];
          assert.deepEqual(
            manifest.layers.slice(0, built.length).map((l) => l.digest),
            built.map((l) => l.digest),
            "the built images' layers are reused",
          );
          assert.equal(manifest.layers.length, built.length + 1);
          const c = config.config as Record<string, unknown>;
          assert.deepEqual(c.Labels, {
            "apps.sealos.io/type": "rootfs",
            from: "wh",
            "sealos.io.type": "rootfs",
            shared: "app",
            version: "v1.28",
          });
          assert.deepEqual(c.Env, ["SHARED=app", "WH=1", "criData=/var/lib/containerd"]);
          assert.deepEqual(c.Cmd, ["kubeadm-init.sh", "kubectl apply -f manifests"]);
        } finally {
          await store.close();
        }
      },
    );

    await t.step("bad input is one line", async () => {
      const one = await ferry(["merge", "--root", root, "-t", "x", "k8s:1"]);
      assert.equal(one.code, 2);
      assert.match(one.stderr.trim(), /^ferry: merge needs at least two images$/);
      const noTag = await ferry(["merge", "--root", root, "k8s:1", "app:1"]);
      assert.match(noTag.stderr.trim(), /^ferry: merge needs a name for the result: -t NAME$/);
      const bad = await ferry(["merge", "--root", root, "-t", "x", "k8s:1", "Bad:Name:1"]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr.trim(), /^ferry: invalid reference "Bad:Name:1"/);
      const two = await ferry([
        "merge",
        "--root",
        root,
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        "x",
        "k8s:1",
        "app:1",
      ]);
      assert.match(two.stderr.trim(), /^ferry: --platform may be given once, with one platform$/);
    });
  },
);

peerTest(
  "merge: the same file system as buildah's COPY --from merge (what Sealos runs)",
  ["umoci", "buildah"],
  async (t) => {
    await using dir = await tempDir("ferry-merge-buildah-");
    const root = dir.join("root");
    const inputs: Record<string, Record<string, string>> = {
      one: { "etc/shared": "one", "one/f": "1", "bin/tool": "tool one" },
      two: { "etc/shared": "two", "two/f": "2" },
    };
    for (const [name, files] of Object.entries(inputs)) {
      const ctx = dir.join(name);
      await writeContext(ctx, "FROM scratch\nCOPY etc etc\nCOPY . /data/\n", files, []);
      ok(
        await ferry(["build", "--root", root, "--save-image=false", "-t", `${name}:1`, ctx]),
        `build ${name}`,
      );
    }
    await storeWhiteoutImage(root);
    ok(
      await ferry(["merge", "--root", root, "-t", "m:1", "one:1", "two:1", "wh:1"]),
      "ferry merge",
    );
    const ours = await snapshot(await unpack(root, "localhost/m:1", dir.join("ours")));

    const storage = [
      "--root",
      dir.join("bs"),
      "--runroot",
      dir.join("bs-run"),
      "--storage-driver",
      "vfs",
    ];
    const env = { TMPDIR: dir.path };
    const buildah = requirePeer("buildah");
    const ids: string[] = [];
    let problem: string | undefined;
    try {
      for (const name of ["one:1", "two:1", "wh:1"]) {
        const { stdout } = await run(buildah, [
          ...storage,
          "pull",
          "-q",
          `oci:${root}:localhost/${name}`,
        ], { env });
        ids.push(stdout.trim().split("\n").at(-1)!);
      }
    } catch (err) {
      problem = (err as Error).message.split("\n")[0].slice(0, 300);
    }
    await t.step({
      name: problem
        ? `buildah reference merge (not run: buildah cannot work here: ${problem})`
        : "buildah reference merge",
      ignore: problem !== undefined,
      fn: async () => {
        const ctx = dir.join("sealfile");
        await Deno.mkdir(ctx);
        // What Sealos generates and builds: FROM scratch, then COPY --from=<image> . . per input.
        await Deno.writeTextFile(
          join(ctx, "Sealfile"),
          ["FROM scratch", ...ids.map((id) => `COPY --from=${id} . .`)].join("\n") + "\n",
        );
        await run(buildah, [
          ...storage,
          "bud",
          "--isolation",
          "chroot",
          "-f",
          join(ctx, "Sealfile"),
          "-t",
          "localhost/ref:1",
          ctx,
        ], { env });
        await run(buildah, [...storage, "push", "localhost/ref:1", `oci:${dir.join("ref")}:r`], {
          env,
        });
        const theirs = await snapshot(await unpack(dir.join("ref"), "r", dir.join("theirs")));
        assert.deepEqual(ours, theirs);
      },
    });
  },
);
