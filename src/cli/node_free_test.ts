import assert from "node:assert/strict";
import { staticGraph } from "../../tests/support/module_graph.ts";

// Importing node:crypto initialises much of Deno's Node compatibility layer (tens of
// milliseconds), node:path part of it: start-up and a rerun of a finished save must not pay for
// them. Blob hashing loads node:crypto when the first streamed blob needs it (src/digest.ts).
const NODE_MODULES = ["node:crypto", "node:path", "node:path/posix"];

for (const entry of ["main.ts", "src/cli/registry_save_action.ts"]) {
  Deno.test(`${entry} loads no ${NODE_MODULES.join(" or ")} before a dynamic import`, async () => {
    const graph = await staticGraph(entry);
    // The test sees the graph: ferry's own modules are in it.
    assert.ok(graph.includes(entry) && graph.includes("src/errors.ts"), graph.join("\n"));
    const loaded = graph.filter((m) => NODE_MODULES.includes(m));
    assert.deepEqual(loaded, [], `${entry} loads at start-up:\n${loaded.join("\n")}`);
  });
}
