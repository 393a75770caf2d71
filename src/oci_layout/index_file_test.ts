import assert from "node:assert/strict";
import { isFerryError } from "../errors.ts";
import { OCI_MANIFEST } from "../media_types.ts";
import { parseLayoutIndex, refNames } from "./index_file.ts";
import { REF_NAME_ANNOTATION } from "./ref_name.ts";

const encoder = new TextEncoder();

function indexWith(annotations: unknown): Uint8Array {
  return encoder.encode(JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: OCI_MANIFEST,
      digest: `sha256:${"a".repeat(64)}`,
      size: 10,
      annotations,
    }],
  }));
}

Deno.test("parseLayoutIndex refuses annotations that are not a map of strings", () => {
  for (
    const annotations of [
      { [REF_NAME_ANNOTATION]: 5 },
      { [REF_NAME_ANNOTATION]: ["a"] },
      "x",
      [],
      null,
    ]
  ) {
    assert.throws(
      () => refNames(parseLayoutIndex(indexWith(annotations), "in.tar")),
      (e) =>
        isFerryError(e, "invalid_input") &&
        e.message === "in.tar: index.json entry 0: annotations is not a map of strings",
      JSON.stringify(annotations),
    );
  }
  const named = parseLayoutIndex(indexWith({ [REF_NAME_ANNOTATION]: "localhost/app:1.0" }), "in");
  assert.deepEqual(refNames(named), ["localhost/app:1.0"]);
});
