/**
 * Running peer programs and failing with what they printed.
 *
 * @module
 */

/** A peer program that exited non-zero (or could not start). `stderr` holds what it said. */
export class CommandError extends Error {
  /** The program and its arguments, for the message (never pass secrets as arguments you log). */
  readonly command: string;
  /** Exit code, or -1 when the program could not be started. */
  readonly exitCode: number;
  /** Captured standard error. */
  readonly stderr: string;
  /** Captured standard output. */
  readonly stdout: string;

  constructor(command: string, exitCode: number, stdout: string, stderr: string) {
    super(`${command} exited with ${exitCode}: ${stderr.trim() || stdout.trim()}`);
    this.name = "CommandError";
    this.command = command;
    this.exitCode = exitCode;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

/** Options for {@link run}. */
export interface RunOptions {
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables (the rest of the environment is inherited). */
  env?: Record<string, string>;
  /** Bytes written to the program's standard input. */
  stdin?: Uint8Array | string;
  /**
   * How the command is shown in error messages; defaults to the program name and its arguments.
   * Set it when arguments carry credentials.
   */
  display?: string;
}

/** What a finished program printed. */
export interface RunResult {
  /** Raw standard output. */
  stdoutBytes: Uint8Array;
  /** Standard output decoded as UTF-8. */
  stdout: string;
  /** Standard error decoded as UTF-8. */
  stderr: string;
}

/** Runs `program args…` to completion; throws {@link CommandError} unless it exits 0. */
export async function run(
  program: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const display = options.display ?? [program, ...args].join(" ");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new CommandError(display, -1, "", err instanceof Error ? err.message : String(err));
  }
  if (options.stdin !== undefined) {
    const data = typeof options.stdin === "string"
      ? new TextEncoder().encode(options.stdin)
      : options.stdin;
    const writer = child.stdin.getWriter();
    // A program that exits without reading its input must fail on its exit code, not on EPIPE.
    await writer.write(data).catch(() => {});
    await writer.close().catch(() => {});
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(out.stdout);
  const stderr = decoder.decode(out.stderr);
  if (!out.success) throw new CommandError(display, out.code, stdout, stderr);
  return { stdoutBytes: out.stdout, stdout, stderr };
}
