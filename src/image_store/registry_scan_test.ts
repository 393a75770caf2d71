import assert from "node:assert/strict";
import { makeTarImage, pushImage } from "../../tests/support/images.ts";
import { ImageStore } from "./store.ts";

const REPOS = "registry/docker/registry/v2/repositories";
const link = (repo: string, tag: string) => `${REPOS}/${repo}/_manifests/tags/${tag}/current/link`;
const digest = (c: string) => `sha256:${c.repeat(64)}`;

Deno.test("inspect lists registry/ images, stacking layers with whiteouts and opaque dirs", async () => {
  const root = await Deno.makeTempDir({ prefix: "ferry-scan-" });
  const store = await ImageStore.open({ root });
  try {
    const image = await makeTarImage({
      files: [
        {
          [link("library/app", "1.0")]: digest("a"),
          [link("library/old", "2")]: digest("b"),
          [link("team/x", "1")]: digest("c"),
          [link("library/junk", "1")]: "not a digest",
          [`${REPOS}/library/app/_manifests/revisions/sha256/${"a".repeat(64)}/link`]: digest("a"),
          ["registry/docker/registry/v2/blobs/sha256/aa/data"]: "blob",
          ["etc/hostname"]: "x",
        },
        {
          [`${REPOS}/library/.wh.old`]: "",
          [link("library/new", "3")]: digest("d"),
          [link("library/app", "1.0")]: digest("e"),
        },
        {
          [`${REPOS}/team/.wh..wh..opq`]: "",
          [link("team/y", "1")]: digest("f"),
        },
      ],
    });
    await pushImage(store.target(), image, "localhost/cluster:1");
    const details = await store.inspect("cluster:1");
    assert.deepEqual(details.registry, [
      { repository: "library/app", tag: "1.0", digest: digest("e") },
      { repository: "library/new", tag: "3", digest: digest("d") },
      { repository: "team/y", tag: "1", digest: digest("f") },
    ]);
  } finally {
    await store.close();
    await Deno.remove(root, { recursive: true });
  }
});
