/**
 * Records the paths `Deno.open` is asked for while a function runs: how tests see which files
 * a read touched (a manifest read once, a file refused before it is opened).
 *
 * @module
 */

/** Runs `fn`, recording the paths `Deno.open` was asked for. */
export async function recordingOpens<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; opened: string[] }> {
  const realOpen = Deno.open;
  const opened: string[] = [];
  Deno.open = (path: string | URL, options?: Deno.OpenOptions) => {
    opened.push(String(path));
    return realOpen(path, options);
  };
  try {
    return { result: await fn(), opened };
  } finally {
    Deno.open = realOpen;
  }
}
