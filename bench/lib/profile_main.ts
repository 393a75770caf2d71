/**
 * Runs the ferry CLI under V8's sampling CPU profiler and writes the profile (the `.cpuprofile`
 * JSON Chrome DevTools reads). Usage: `deno run -A bench/lib/profile_main.ts OUT.cpuprofile ARGS…`,
 * where ARGS are ferry's.
 *
 * The profiler starts after module loading, so the profile covers the command itself.
 *
 * @module
 */
import { Session } from "node:inspector/promises";
import { main } from "../../src/cli/mod.ts";

if (import.meta.main) {
  const [outPath, ...args] = Deno.args;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 500 });
  await session.post("Profiler.start");
  const code = await main(args);
  const { profile } = await session.post("Profiler.stop");
  await Deno.writeTextFile(outPath, JSON.stringify(profile));
  session.disconnect();
  Deno.exit(code);
}
