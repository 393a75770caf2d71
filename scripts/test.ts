/**
 * `deno task test`: the whole suite (unit and interop tests), then one line naming the peer
 * programs this machine lacks, whose tests were ignored, and the command that installs them all.
 *
 * Arguments are passed to `deno test` (e.g. `--junit-path=…`, `--filter …`).
 *
 * @module
 */
import { missingPeers, PEER_NAMES } from "../tests/support/peers.ts";

const status = await new Deno.Command(Deno.execPath(), {
  args: ["test", "--allow-all", "--parallel", ...Deno.args, "tests/", "src/", "bench/"],
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn().status;

const missing = missingPeers(PEER_NAMES);
if (missing.length > 0) {
  console.error(
    `peers not found, their tests were ignored: ${missing.join(", ")}; ` +
      "`bash .ci/run` installs every peer and runs the whole suite",
  );
}
Deno.exit(status.code);
