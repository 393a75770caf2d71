/**
 * Fixtures for the tests that plant symlinks in stores: a victim directory outside the store,
 * and a snapshot of a tree that shows whether anything in it changed.
 *
 * @module
 */

/** Every entry under `dir` with its content; symlinks listed with their target, not followed. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (path: string, rel: string) => {
    for await (const e of Deno.readDir(path)) {
      const r = `${rel}${e.name}`;
      const full = `${path}/${e.name}`;
      const info = await Deno.lstat(full);
      const mtime = info.mtime?.getTime() ?? 0;
      if (e.isDirectory) {
        out[`${r}/`] = `dir ${mtime}`;
        await walk(full, `${r}/`);
      } else if (e.isSymlink) {
        out[r] = `-> ${await Deno.readLink(full)}`;
      } else {
        out[r] = `${await Deno.readTextFile(full)} ${mtime}`;
      }
    }
  };
  await walk(dir, "");
  return out;
}

/**
 * Creates `dir` holding files and a directory an hour old (older than any staging-file age
 * limit), some named like ferry's staging files (`<hex>.partial`, `write-<uuid>`).
 */
export async function makeVictim(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/old-dir`, { recursive: true });
  await Deno.writeTextFile(`${dir}/${"ab".repeat(32)}.partial`, "precious partial");
  await Deno.writeTextFile(`${dir}/write-${crypto.randomUUID()}`, "precious temp");
  await Deno.writeTextFile(`${dir}/notes.txt`, "precious notes");
  await Deno.writeTextFile(`${dir}/old-dir/inner.txt`, "precious inner");
  const hourAgo = new Date(Date.now() - 3600_000);
  await Deno.utime(`${dir}/old-dir/inner.txt`, hourAgo, hourAgo);
  for await (const e of Deno.readDir(dir)) await Deno.utime(`${dir}/${e.name}`, hourAgo, hourAgo);
  await Deno.utime(dir, hourAgo, hourAgo);
}
