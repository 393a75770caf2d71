import assert from "node:assert/strict";
import { digestHex } from "../digest.ts";
import { isFerryError } from "../errors.ts";
import { hostPlatform } from "../platform.ts";
import { bytesSource } from "../store.ts";
import { makeIndex, makeTarImage, pushImage, type TestImage } from "../../tests/support/images.ts";
import { ImageStore } from "./store.ts";

async function blobs(root: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${root}/blobs/sha256`)) out.push(`sha256:${e.name}`);
  return out.sort();
}

function imageSize(img: TestImage): number {
  return img.manifest.desc.size + img.config.desc.size +
    img.layers.reduce((n, l) => n + l.desc.size, 0);
}

/** A store with two images sharing a base layer: nginx (docker.io) and app (localhost). */
async function fixture() {
  const root = await Deno.makeTempDir({ prefix: "ferry-store-" });
  const store = await ImageStore.open({ root });
  const base = { "etc/base": "shared base\n" };
  const nginx = await makeTarImage({ seed: "nginx", files: [base, { "etc/nginx": "n\n" }] });
  const app = await makeTarImage({ seed: "app", files: [base, { "etc/app": "a\n" }] });
  await pushImage(store.target(), nginx, "docker.io/library/nginx:1.27");
  await pushImage(store.target(), app, "localhost/app:1.0");
  return {
    root,
    store,
    nginx,
    app,
    async [Symbol.asyncDispose]() {
      await store.close();
      await Deno.remove(root, { recursive: true });
    },
  };
}

Deno.test("resolve finds images by stored, Docker-normalised and localhost/ names, and digests", async () => {
  await using f = await fixture();
  const { store, nginx, app } = f;
  const cases: [string, string, string | undefined][] = [
    ["docker.io/library/nginx:1.27", nginx.manifest.desc.digest, "docker.io/library/nginx:1.27"],
    ["nginx:1.27", nginx.manifest.desc.digest, "docker.io/library/nginx:1.27"],
    ["library/nginx:1.27", nginx.manifest.desc.digest, "docker.io/library/nginx:1.27"],
    ["app:1.0", app.manifest.desc.digest, "localhost/app:1.0"],
    ["localhost/app:1.0", app.manifest.desc.digest, "localhost/app:1.0"],
    [`app:1.0@${app.manifest.desc.digest}`, app.manifest.desc.digest, "localhost/app:1.0"],
    [digestHex(app.manifest.desc.digest).slice(0, 12), app.manifest.desc.digest, undefined],
    [app.manifest.desc.digest, app.manifest.desc.digest, undefined],
  ];
  for (const [text, digest, name] of cases) {
    const found = await store.resolve(text);
    assert.equal(found.descriptor.digest, digest, text);
    assert.equal(found.name, name, text);
  }
  for (
    const missing of ["nginx:1.28", "app", `app:1.0@${nginx.manifest.desc.digest}`, "0".repeat(12)]
  ) {
    await assert.rejects(
      store.resolve(missing),
      (err) => isFerryError(err, "not_found") && err.message === `no such image: ${missing}`,
      missing,
    );
  }
  await assert.rejects(store.resolve("Bad Name"), (err) => isFerryError(err, "invalid_reference"));
});

Deno.test("tag names unqualified images localhost/ and moves an existing name", async () => {
  await using f = await fixture();
  const { store, nginx, app } = f;
  assert.equal((await store.tag("nginx:1.27", "web")).name, "localhost/web:latest");
  assert.equal((await store.resolve("web")).descriptor.digest, nginx.manifest.desc.digest);
  assert.deepEqual((await store.resolve("nginx:1.27")).names, [
    "docker.io/library/nginx:1.27",
    "localhost/web:latest",
  ]);
  await store.tag("app:1.0", "web:latest");
  assert.equal((await store.resolve("web")).descriptor.digest, app.manifest.desc.digest);
  await assert.rejects(
    store.tag("app:1.0", "Web"),
    (err) => isFerryError(err, "invalid_reference"),
  );
  await assert.rejects(store.tag("nope", "x"), (err) => isFerryError(err, "not_found"));
});

Deno.test("list reports names, sizes, platforms and creation times, sorted", async () => {
  await using f = await fixture();
  const list = await f.store.list();
  assert.deepEqual(list.map((i) => i.name), ["docker.io/library/nginx:1.27", "localhost/app:1.0"]);
  assert.equal(list[0].digest, f.nginx.manifest.desc.digest);
  assert.equal(list[0].size, imageSize(f.nginx));
  assert.equal(list[1].size, imageSize(f.app));
  assert.deepEqual(list[0].platforms, ["linux/amd64"]);
  assert.equal(list[0].created, "2024-01-01T00:00:00Z");
});

Deno.test("an index lists every platform and inspect picks this host's image", async () => {
  await using f = await fixture();
  const amd = await makeTarImage({ seed: "m-amd", architecture: "amd64" });
  const arm = await makeTarImage({ seed: "m-arm", architecture: "arm64" });
  const index = makeIndex([amd, arm]).index;
  await pushImage(f.store.target(), amd);
  await pushImage(f.store.target(), arm);
  await f.store.target().push(index.desc, bytesSource(index.bytes));
  await f.store.target().tag(index.desc, "localhost/multi:1");
  const [row] = (await f.store.list()).filter((i) => i.name === "localhost/multi:1");
  assert.deepEqual(row.platforms, ["linux/amd64", "linux/arm64"]);
  assert.equal(row.size, index.desc.size + imageSize(amd) + imageSize(arm));
  const details = await f.store.inspect("multi:1");
  assert.equal(details.manifests?.length, 2);
  const host = hostPlatform().architecture === "arm64" ? arm : amd;
  assert.equal(details.image.digest, host.manifest.desc.digest);
  const chosen = await f.store.inspect("multi:1", {
    platform: { os: "linux", architecture: "arm64" },
  });
  assert.equal(chosen.image.digest, arm.manifest.desc.digest);
  assert.equal(chosen.image.platform, "linux/arm64");
  await assert.rejects(
    f.store.inspect("multi:1", { platform: { os: "linux", architecture: "s390x" } }),
    (err) => isFerryError(err, "not_found") && /linux\/s390x/.test(err.message),
  );
});

Deno.test("inspect shows config, labels and layers", async () => {
  await using f = await fixture();
  const d = await f.store.inspect("app:1.0");
  assert.equal(d.name, "localhost/app:1.0");
  assert.equal(d.digest, f.app.manifest.desc.digest);
  assert.deepEqual(d.image.config.labels, { seed: "app" });
  assert.deepEqual(d.image.config.env, ["PATH=/usr/bin:/bin"]);
  assert.equal(d.image.platform, "linux/amd64");
  assert.deepEqual(d.image.layers.map((l) => l.digest), f.app.layers.map((l) => l.desc.digest));
  assert.deepEqual(d.registry, []);
  assert.deepEqual(d.notes, []);
  assert.equal((await f.store.inspect("app:1.0", { registry: false })).registry, undefined);
});

Deno.test("remove deletes the blobs only the removed image used", async () => {
  await using f = await fixture();
  const before = await blobs(f.root);
  const result = await f.store.remove(["app:1.0"]);
  assert.deepEqual(result.untagged, ["localhost/app:1.0"]);
  const gone: string[] = [f.app.manifest, f.app.config, f.app.layers[1]].map((b) => b.desc.digest)
    .sort();
  assert.deepEqual(result.removed, gone);
  assert.equal(
    result.freedBytes,
    [f.app.manifest, f.app.config, f.app.layers[1]].reduce((n, b) => n + b.desc.size, 0),
  );
  assert.deepEqual(await blobs(f.root), before.filter((d) => !gone.includes(d)));
  // the shared base layer stays with nginx
  assert.ok((await blobs(f.root)).includes(f.nginx.layers[0].desc.digest));
  await assert.rejects(f.store.remove(["app:1.0"]), (err) => isFerryError(err, "not_found"));
});

Deno.test("remove by digest needs --force when the image has several names", async () => {
  await using f = await fixture();
  await f.store.tag("nginx:1.27", "web:1");
  const id = digestHex(f.nginx.manifest.desc.digest).slice(0, 12);
  await assert.rejects(
    f.store.remove([id]),
    (err) => isFerryError(err, "conflict") && err.message.includes("localhost/web:1"),
  );
  assert.equal((await f.store.list()).length, 3);
  const result = await f.store.remove([id], { force: true });
  assert.deepEqual(result.untagged, ["docker.io/library/nginx:1.27", "localhost/web:1"]);
  assert.deepEqual((await f.store.list()).map((i) => i.name), ["localhost/app:1.0"]);
});

Deno.test("remove looks every image up before removing any", async () => {
  await using f = await fixture();
  await assert.rejects(
    f.store.remove(["app:1.0", "missing:1"]),
    (err) => isFerryError(err, "not_found"),
  );
  assert.equal((await f.store.list()).length, 2);
});

Deno.test("open refuses a non-empty directory that is no image store", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/notes.txt`, "mine");
    await assert.rejects(
      ImageStore.open({ root: dir }),
      (err) => isFerryError(err, "invalid_input") && err.message.includes("--root"),
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["notes.txt"]);
    const fresh = await ImageStore.open({ root: `${dir}/new/store` });
    assert.deepEqual(await fresh.list(), []);
    await fresh.close();
    // What another process creating the store has written so far is no reason to refuse it.
    await Deno.mkdir(`${dir}/racing/blobs/sha256`, { recursive: true });
    await Deno.mkdir(`${dir}/racing/.ferry/tmp`, { recursive: true });
    const racing = await ImageStore.open({ root: `${dir}/racing` });
    assert.deepEqual(await racing.list(), []);
    await racing.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
