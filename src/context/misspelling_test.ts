import assert from "node:assert/strict";
import { join } from "node:path";
import { editDistance, misspelledDirectories } from "./misspelling.ts";

Deno.test("editDistance counts transpositions as one edit", () => {
  assert.equal(editDistance("manifests", "manifests"), 0);
  assert.equal(editDistance("mainfests", "manifests"), 1);
  assert.equal(editDistance("manifest", "manifests"), 1);
  assert.equal(editDistance("chart", "charts"), 1);
  assert.equal(editDistance("Charts", "charts"), 1);
  assert.equal(editDistance("shims", "shim"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("registry", "charts"), 7);
});

Deno.test("misspelledDirectories names what was probably meant", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-misspell-" });
  try {
    for (
      const d of [
        "mainfests",
        "manifest",
        "chart",
        "image/shim",
        "images/shims",
        "images/skopeo",
        "charts",
        "registry",
        "etc",
        "scripts",
      ]
    ) {
      await Deno.mkdir(join(dir, d), { recursive: true });
    }
    // Files are not directories Sealos would have read.
    await Deno.writeTextFile(join(dir, "manifests"), "");
    // Each near-miss holds what Sealos reads under the right name.
    for (
      const [path, text] of [
        ["mainfests/a/pod.yaml", "kind: Pod\n"],
        ["manifest/svc.yml", "kind: Service\n"],
        ["chart/app/Chart.yaml", "name: app\n"],
        ["image/shim/list", "nginx:1\n"],
        ["images/shims/list", "nginx:1\n"],
      ]
    ) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, path), text);
    }
    const warnings = await misspelledDirectories(dir);
    assert.deepEqual(warnings, [
      { file: "chart", message: "directory chart/ is not read; did you mean charts/?" },
      { file: "image", message: "directory image/ is not read; did you mean images/?" },
      { file: "mainfests", message: "directory mainfests/ is not read; did you mean manifests/?" },
      { file: "manifest", message: "directory manifest/ is not read; did you mean manifests/?" },
      {
        file: "images/shims",
        message: "directory images/shims/ is not read; did you mean images/shim/?",
      },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a near-miss directory holding nothing Sealos reads is used on purpose: no warning", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferry-misspell-" });
  try {
    for (
      const [path, text] of [
        ["chart/values-notes.txt", "how the chart was configured\n"], // `chart/` on purpose
        ["chart/docs/README.md", "image: nginx:1\n"],
        ["manifest/README.md", "notes\n"],
        ["image/logo.png", "png"],
        ["images/shims/.keep", ""], // a file: Sealos would read it as a list, so this warns
        ["images/skopeos/app.tar", "tar"],
      ]
    ) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, path), text);
    }
    assert.deepEqual(await misspelledDirectories(dir), [{
      file: "images/shims",
      message: "directory images/shims/ is not read; did you mean images/shim/?",
    }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
