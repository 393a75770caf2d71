/**
 * Writing credentials the way `podman login` does: the containers `auth.json` that podman, skopeo,
 * buildah and sealos read, kept at mode 0600, replaced atomically, other entries untouched.
 *
 * @module
 */
import { dirname, join } from "../path.ts";
import { FerryError } from "../errors.ts";
import { writeFileAtomic } from "../fs_util.ts";
import { encodeBasic, normalizeAuthKey, normalizeRegistry } from "./credentials.ts";

/**
 * The auth file `login` writes: `--authfile`, else `$REGISTRY_AUTH_FILE`, else
 * `$XDG_RUNTIME_DIR/containers/auth.json`, else `~/.config/containers/auth.json` (persistent, and
 * read by podman and skopeo when the runtime file is absent).
 */
export function authFileForWriting(
  authfile: string | undefined,
  env: (name: string) => string | undefined,
): string {
  if (authfile) return authfile;
  const fromEnv = env("REGISTRY_AUTH_FILE");
  if (fromEnv) return fromEnv;
  const runtime = env("XDG_RUNTIME_DIR");
  if (runtime) return join(runtime, "containers", "auth.json");
  const config = env("XDG_CONFIG_HOME") ?? join(env("HOME") ?? "/root", ".config");
  return join(config, "containers", "auth.json");
}

type AuthDoc = { auths?: Record<string, Record<string, unknown>> } & Record<string, unknown>;

async function readDoc(path: string): Promise<AuthDoc> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw new FerryError("io", `${path}: cannot read: ${(err as Error).message}`);
  }
  try {
    const doc = JSON.parse(text);
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error();
    return doc;
  } catch {
    throw new FerryError("invalid_input", `${path}: not valid JSON; fix or remove it`);
  }
}

async function writeDoc(path: string, doc: AuthDoc): Promise<void> {
  const dir = dirname(path);
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    // Created 0600 and synced before the rename: a crash leaves the old file or the new one whole.
    await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(doc, null, "\t") + "\n"), {
      tmpDir: dir,
      mode: 0o600,
    });
  } catch (err) {
    throw new FerryError("io", `${path}: cannot write: ${(err as Error).message}`);
  }
}

/** Stores `username`/`password` for `registry` (replacing any entry for the same host). */
export async function storeCredential(
  path: string,
  registry: string,
  username: string,
  password: string,
): Promise<void> {
  const doc = await readDoc(path);
  const key = normalizeRegistry(registry);
  const auths = Object.fromEntries(
    Object.entries(doc.auths ?? {}).filter(([k]) => normalizeAuthKey(k) !== key),
  );
  auths[key] = { auth: encodeBasic(username, password) };
  await writeDoc(path, { ...doc, auths });
}

/** Removes the entries for `registry` (or every entry); returns how many were removed. */
export async function removeCredential(path: string, registry: string | "all"): Promise<number> {
  const doc = await readDoc(path);
  const before = Object.keys(doc.auths ?? {});
  const key = registry === "all" ? undefined : normalizeRegistry(registry);
  const kept = before.filter((k) => key !== undefined && normalizeAuthKey(k) !== key);
  if (kept.length === before.length) return 0;
  await writeDoc(path, { ...doc, auths: Object.fromEntries(kept.map((k) => [k, doc.auths![k]])) });
  return before.length - kept.length;
}
