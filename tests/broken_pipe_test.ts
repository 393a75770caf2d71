/**
 * A reader that stops early (`ferry … | head`) ends ferry quietly, as it ends other Unix tools:
 * nothing on stderr, and the status a shell shows for a death by SIGPIPE.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { tempDir } from "./support/tmp.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

Deno.test("a closed stdout ends ferry quietly with status 141", async () => {
  await using dir = await tempDir();
  // Far more output than a pipe buffers, so ferry is still writing when `head` exits.
  const lines = Array.from({ length: 20_000 }, (_, i) => `docker.io/library/img${i}:1.0`);
  await Deno.mkdir(dir.join("ctx", "images", "shim"), { recursive: true });
  await Deno.writeTextFile(dir.join("ctx", "images", "shim", "list"), lines.join("\n") + "\n");
  const script = `"$0" run --allow-all --quiet "$1" context images "$2" | head -n 1 >/dev/null; ` +
    `echo "status=\${PIPESTATUS[0]}" >&3`;
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      `exec 3>&1; { ${script}; } 2>&1 >/dev/null`,
      Deno.execPath(),
      MAIN,
      dir.join("ctx"),
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.match(text, /status=141/, text);
  // Everything ferry wrote to stderr came before the status line; it must be nothing.
  assert.equal(text.replace(/status=\d+\n?/, ""), "", "stderr must stay empty");
});
