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
