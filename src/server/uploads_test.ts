/**
 * Upload sessions and blobs of a served store never reach outside it: a session planted on disk
 * through a symlink is not adopted, a symlinked blob is not served, and a memory store's session
 * is reachable through its own repository's URL only.
 */
import assert from "node:assert/strict";
import { sha256 } from "../digest.ts";
import { MemoryStore } from "../memory_store/mod.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import { makeImage, pushImage } from "../../tests/support/images.ts";
import { blobDataPath } from "../registry_dir/test_util.ts";
import { makeVictim, snapshotTree } from "../symlink_test_util.ts";
import { createRegistryHandler, type RegistryHandler } from "./mod.ts";

const V2 = "docker/registry/v2";

async function call(
  handler: RegistryHandler,
  method: string,
  path: string,
  body?: Uint8Array,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await handler(
    new Request(`http://registry.test${path}`, {
      method,
      body: body as BodyInit | undefined,
      headers,
    }),
  );
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** A served registry directory and a victim directory beside it. */
async function withServedDir(
  fn: (ctx: { reg: string; victim: string; handler: RegistryHandler }) => Promise<void>,
  plant: (reg: string, victim: string) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "ferry-uploads-symlink-" });
  const reg = `${tmp}/reg`;
  const victim = `${tmp}/victim`;
  try {
    await makeVictim(victim);
    await Deno.writeTextFile(`${victim}/data`, "precious data");
    const setup = await RegistryDir.open(reg);
    await pushImage(setup.repository("app"), makeImage(), "1");
    await setup.close();
    await plant(reg, victim);
    const dir = await RegistryDir.open(reg);
    const handler = createRegistryHandler(dir, { onError: () => {} });
    try {
      await fn({ reg, victim, handler });
    } finally {
      await handler.close();
      await dir.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const ID = "0b5e7a4e-9a51-4c31-8a0e-7d3c2f1e6b5a";

for (
  const [what, plant] of [
    ["data", async (reg: string, victim: string) => {
      const session = `${reg}/${V2}/repositories/app/_uploads/${ID}`;
      await Deno.mkdir(session, { recursive: true });
      await Deno.symlink(`${victim}/data`, `${session}/data`);
    }],
    ["session directory", async (reg: string, victim: string) => {
      await Deno.mkdir(`${reg}/${V2}/repositories/app/_uploads`, { recursive: true });
      await Deno.symlink(victim, `${reg}/${V2}/repositories/app/_uploads/${ID}`);
    }],
    ["_uploads", async (reg: string, victim: string) => {
      await Deno.mkdir(`${victim}/${ID}`);
      await Deno.writeTextFile(`${victim}/${ID}/data`, "precious session");
      await Deno.remove(`${reg}/${V2}/repositories/app/_uploads`, { recursive: true })
        .catch(() => {});
      await Deno.symlink(victim, `${reg}/${V2}/repositories/app/_uploads`);
    }],
  ] as const
) {
  Deno.test(`serve dir: a symlinked upload ${what} is not adopted as a session`, async () => {
    await withServedDir(async ({ victim, handler }) => {
      const before = await snapshotTree(victim);
      const url = `/v2/app/blobs/uploads/${ID}`;
      const bytes = new TextEncoder().encode("appended");
      assert.equal((await call(handler, "GET", url)).status, 404);
      assert.equal((await call(handler, "PATCH", url, bytes)).status, 404);
      const digest = await sha256(new TextEncoder().encode("precious dataappended"));
      assert.equal((await call(handler, "PUT", `${url}?digest=${digest}`, bytes)).status, 404);
      assert.equal((await call(handler, "DELETE", url)).status, 404);
      assert.deepEqual(await snapshotTree(victim), before);
    }, plant);
  });
}

Deno.test("serve dir: a session whose data is swapped for a symlink after it opened is not written through", async () => {
  await withServedDir(async ({ reg, victim, handler }) => {
    const bytes = new TextEncoder().encode("appended");
    const opened = await call(handler, "POST", "/v2/app/blobs/uploads/");
    assert.equal(opened.status, 202);
    const url = opened.headers.get("location")!;
    const id = opened.headers.get("docker-upload-uuid")!;
    assert.equal((await call(handler, "PATCH", url, bytes)).status, 202);
    const data = `${reg}/${V2}/repositories/app/_uploads/${id}/data`;
    await Deno.remove(data);
    await Deno.symlink(`${victim}/data`, data);
    const before = await snapshotTree(victim);
    assert.ok((await call(handler, "PATCH", url, bytes)).status >= 400);
    const digest = await sha256(new TextEncoder().encode("appendedappended"));
    assert.ok((await call(handler, "PUT", `${url}?digest=${digest}`, bytes)).status >= 400);
    assert.equal((await call(handler, "DELETE", url)).status, 204);
    assert.deepEqual(await snapshotTree(victim), before);
  }, () => Promise.resolve());
});

Deno.test("serve dir: a blob whose data is a symlink to a file outside is not served", async () => {
  const image = makeImage();
  const layer = image.layers[0];
  await withServedDir(async ({ handler }) => {
    for (const method of ["GET", "HEAD"]) {
      const res = await call(handler, method, `/v2/app/blobs/${layer.desc.digest}`);
      assert.notEqual(res.status, 200, `${method}`);
      assert.doesNotMatch(res.text, /secret/);
    }
    const manifest = await call(
      handler,
      "GET",
      `/v2/app/manifests/${image.manifest.desc.digest}`,
      undefined,
      {
        Accept: image.manifest.desc.mediaType,
      },
    );
    assert.notEqual(manifest.status, 200);
  }, async (reg, victim) => {
    // The layer is linked into the repository; its data (and the manifest's) point outside.
    const dir = await RegistryDir.open(reg);
    await pushImage(dir.repository("app"), image, "2");
    await dir.close();
    for (const b of [layer, image.manifest]) {
      const data = `${reg}/${V2}/${blobDataPath(b.desc.digest)}`;
      await Deno.writeTextFile(`${victim}/secret`, "secret".padEnd(b.desc.size, "!"));
      await Deno.remove(data);
      await Deno.symlink(`${victim}/secret`, data);
    }
  });
});

Deno.test("serve inmem: an upload session answers through its own repository's URL only", async () => {
  const store = new MemoryStore();
  const handler = createRegistryHandler(store);
  try {
    const started = await call(handler, "POST", "/v2/a/blobs/uploads/");
    assert.equal(started.status, 202);
    const location = started.headers.get("location")!;
    const id = location.split("/").pop()!;
    const other = `/v2/b/blobs/uploads/${id}`;
    const first = new TextEncoder().encode("first ");
    const second = new TextEncoder().encode("second");
    assert.equal((await call(handler, "PATCH", location, first)).status, 202);

    assert.equal((await call(handler, "GET", other)).status, 404);
    assert.equal((await call(handler, "PATCH", other, second)).status, 404);
    const whole = await sha256(new Uint8Array([...first, ...second]));
    assert.equal((await call(handler, "PUT", `${other}?digest=${whole}`, second)).status, 404);
    assert.equal((await call(handler, "DELETE", other)).status, 404);

    // Repository a's session is as it was: it completes with exactly its own bytes.
    const status = await call(handler, "GET", location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), `0-${first.byteLength - 1}`);
    const done = await call(handler, "PUT", `${location}?digest=${whole}`, second);
    assert.equal(done.status, 201, done.text);
    assert.equal(store.repository("a").blobSize(whole), first.byteLength + second.byteLength);
    assert.equal(store.repository("b").blobSize(whole), undefined);
  } finally {
    await handler.close();
    await store.close();
  }
});
