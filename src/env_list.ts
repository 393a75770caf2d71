/**
 * `KEY=value` lists, the form image configs (`config.Env`) and Kubefile `ENV` results take.
 *
 * @module
 */

/** `KEY=value` entries as an ordered map (later wins; an entry without `=` has an empty value). */
export function envToMap(env: readonly string[] | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of env ?? []) {
    const eq = entry.indexOf("=");
    if (eq < 0) map.set(entry, "");
    else map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return map;
}

/** The inverse of {@link envToMap}. */
export function mapToEnv(map: ReadonlyMap<string, string>): string[] {
  return [...map].map(([k, v]) => `${k}=${v}`);
}
