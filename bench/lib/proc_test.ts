import assert from "node:assert/strict";
import { parseTimeOutput } from "./proc.ts";

Deno.test("parseTimeOutput reads the last line GNU time wrote", () => {
  assert.deepEqual(
    parseTimeOutput("Command exited with non-zero status 1\n1.50 0.70 0.20 123456\n"),
    { userS: 0.7, sysS: 0.2, maxRssKiB: 123456 },
  );
  assert.throws(() => parseTimeOutput("garbage"), /unexpected output/);
});
