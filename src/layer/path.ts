/**
 * Paths inside a layer: relative, `/`-separated, never escaping the root.
 *
 * @module
 */
import { FerryError } from "../errors.ts";

/**
 * Normalises a path inside a layer: drops leading `/` and `./`, empty and `.` elements; rejects
 * `..` elements, NUL bytes and the empty result.
 *
 * @param what names the path in messages (`layer entry`, `hard link target`).
 * @throws {FerryError} `invalid_input`.
 */
export function normalizeLayerPath(path: string, what = "layer entry"): string {
  if (path.includes("\0")) {
    throw new FerryError("invalid_input", `${what} ${JSON.stringify(path)} contains a NUL byte`);
  }
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) {
    throw new FerryError(
      "invalid_input",
      `${what} ${JSON.stringify(path)} escapes the layer root (contains "..")`,
    );
  }
  if (parts.length === 0) {
    throw new FerryError("invalid_input", `${what} ${JSON.stringify(path)} names the layer root`);
  }
  return parts.join("/");
}
