/**
 * Go duration strings (`1m30s`, `500ms`, `1.5h`), as HEALTHCHECK flags take them.
 *
 * @module
 */

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  "μs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX = (1n << 63n) - 1n;

/**
 * Parses a Go duration into nanoseconds; `undefined` when malformed. Like Go, a bare `0` is
 * allowed and every other number needs a unit.
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return undefined;
  let total = 0n;
  const part = /^([0-9]*)(?:\.([0-9]*))?([^0-9.]+)/;
  while (s !== "") {
    const m = part.exec(s);
    if (!m) return undefined;
    const [whole, intPart, fracPart = "", unitName] = m;
    if (intPart === "" && fracPart === "") return undefined;
    const unit = UNITS[unitName];
    if (unit === undefined) return undefined;
    let value = BigInt(intPart || "0") * unit;
    if (fracPart !== "") {
      const scale = 10n ** BigInt(fracPart.length);
      value += (BigInt(fracPart) * unit) / scale;
    }
    total += value;
    if (total > MAX) return undefined;
    s = s.slice(whole.length);
  }
  return Number(negative ? -total : total);
}
