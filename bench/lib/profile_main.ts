/**
 * Runs the ferry CLI under V8's sampling CPU profiler and writes the profile (the `.cpuprofile`
 * JSON Chrome DevTools reads). Usage: `deno run -A bench/lib/profile_main.ts [--cold]
 * OUT.cpuprofile ARGS…`, where ARGS are ferry's.
 *
 * The profiler starts after module loading, so the profile covers the command itself, sampled
 * every 500 µs. With `--cold` it starts before the CLI's modules are imported and samples every
 * 200 µs: what a short command (a rerun) spends loading code and running it the first time shows.
 *
 * @module
 */
import { Session } from "node:inspector/promises";

if (import.meta.main) {
  const cold = Deno.args[0] === "--cold";
  const [outPath, ...args] = Deno.args.slice(cold ? 1 : 0);
  const load = () => import("../../src/cli/mod.ts");
  const early = cold ? undefined : await load();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: cold ? 200 : 500 });
  await session.post("Profiler.start");
  const { main } = early ?? await load();
  const code = await main(args);
  const { profile } = await session.post("Profiler.stop");
  await Deno.writeTextFile(outPath, JSON.stringify(profile));
  session.disconnect();
  Deno.exit(code);
}
