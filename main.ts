#!/usr/bin/env -S deno run --allow-net --allow-read --allow-write --allow-env --allow-run --v8-flags=--max-semi-space-size=1
/**
 * ferry command-line entry point.
 *
 * `--max-semi-space-size=1` caps V8's young generation: blob bytes stream through short-lived
 * buffers, and the default lets them pile up to ~170 MiB RSS for no speed (bench/RESULTS.md).
 *
 * @module
 */
// Not ./src/cli/mod.ts: that loads every command module, this loads the ones a command line needs.
import { main } from "./src/cli/program.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
