/**
 * Seeded mutation fuzzing of the code that reads hostile input (manifests and headers from a
 * registry, archives off a USB stick, contexts from someone's repository, requests to `registry
 * serve`). Valid inputs are mutated, byte-wise ({@link mutateBytes}) or as JSON values
 * ({@link mutateJson}), and fed to a target that may fail only as ferry fails on bad input: a
 * `FerryError` (one line saying what and where), never a `TypeError` from a shape it did not
 * expect, a stack overflow or a hang. Seeds are fixed, so a run is the same every time and a
 * failure names the input that caused it.
 *
 * ```ts
 * await fuzz({
 *   name: "parseManifest",
 *   corpus: [manifestBytes],
 *   mutate: jsonMutator,
 *   target: (bytes) => parseManifest(bytes, OCI_MANIFEST, "test"),
 * });
 * ```
 *
 * @module
 */
import { isFerryError } from "../../src/errors.ts";

/** A seeded pseudo-random source (mulberry32): the same seed gives the same sequence. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Turns a valid input into a mutated one. */
export type Mutator = (input: Uint8Array, rng: Rng) => Uint8Array;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes that parsers of text formats treat specially. */
const INTERESTING = [
  0,
  0xff,
  0x7f,
  0x80,
  0x20,
  0x0a,
  0x0d,
  0x09,
  0x22,
  0x27,
  0x5c,
  0x2f,
  0x3a,
  0x2c,
  0x7b,
  0x7d,
  0x5b,
  0x5d,
  0x23,
  0x3d,
  0x2e,
  0x2d,
  0x30,
  0x39,
  0x40,
  0x25,
  0x26,
  0x3f,
];

/** Options of {@link byteMutator}. */
export interface ByteMutatorOptions {
  /** Tokens worth inserting whole (keywords, field names, separators of the format). */
  dictionary?: readonly string[];
  /** Longest mutated input (default 4 × the input, at least 4 KiB). */
  maxLength?: number;
}

/**
 * A mutator of raw bytes: 1 to 4 stacked edits (bit flips, special bytes, deleted, repeated or
 * inserted ranges, dictionary tokens, truncation), as a coverage-less fuzzer does.
 */
export function byteMutator(options: ByteMutatorOptions = {}): Mutator {
  const tokens = (options.dictionary ?? []).map((t) => encoder.encode(t));
  return (input, rng) => {
    let data: Uint8Array = input.slice();
    const max = options.maxLength ?? Math.max(4096, input.length * 4);
    for (let edits = 1 + rng.int(4); edits > 0; edits--) {
      data = mutateBytes(data, rng, tokens);
      if (data.length > max) data = data.subarray(0, max);
    }
    return data;
  };
}

/** One byte-level edit of `data`. */
export function mutateBytes(data: Uint8Array, rng: Rng, tokens: Uint8Array[] = []): Uint8Array {
  const at = () => rng.int(data.length + 1);
  const splice = (start: number, end: number, insert: Uint8Array) => {
    const out = new Uint8Array(data.length - (end - start) + insert.length);
    out.set(data.subarray(0, start));
    out.set(insert, start);
    out.set(data.subarray(end), start + insert.length);
    return out;
  };
  switch (rng.int(tokens.length > 0 ? 9 : 8)) {
    case 0: { // flip a bit
      if (data.length === 0) return rng.bytes(1);
      const out = data.slice();
      out[rng.int(out.length)] ^= 1 << rng.int(8);
      return out;
    }
    case 1: { // a special byte
      if (data.length === 0) return Uint8Array.of(rng.pick(INTERESTING));
      const out = data.slice();
      out[rng.int(out.length)] = rng.pick(INTERESTING);
      return out;
    }
    case 2: { // delete a range
      const start = at();
      return splice(start, Math.min(data.length, start + 1 + rng.int(32)), new Uint8Array());
    }
    case 3: { // repeat a range, sometimes many times
      const start = at();
      const piece = data.subarray(start, Math.min(data.length, start + 1 + rng.int(64)));
      const times = rng.chance(0.2) ? 50 + rng.int(200) : 1 + rng.int(3);
      const repeated = new Uint8Array(piece.length * times);
      for (let i = 0; i < times; i++) repeated.set(piece, i * piece.length);
      return splice(start, start, repeated);
    }
    case 4: { // insert random bytes
      const start = at();
      return splice(start, start, rng.bytes(1 + rng.int(16)));
    }
    case 5: // truncate
      return data.subarray(0, at());
    case 6: { // copy a range over another place
      const from = at();
      const piece = data.slice(from, Math.min(data.length, from + 1 + rng.int(64)));
      const start = at();
      return splice(start, Math.min(data.length, start + piece.length), piece);
    }
    case 7: { // a digit run: numbers out of range
      const start = at();
      return splice(
        start,
        start,
        encoder.encode(rng.pick(["-1", "1e308", "99999999999999999999", "0.5", "NaN"])),
      );
    }
    default: { // a dictionary token
      const start = at();
      return splice(start, start, rng.pick(tokens));
    }
  }
}

/** Values a JSON field can be swapped for: every type, and the edges of each. */
function oddValue(rng: Rng): unknown {
  switch (rng.int(16)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 53 + 2, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER]);
    case 3:
      return "";
    case 4:
      return "x".repeat(1 + rng.int(5000));
    case 5:
      return rng.pick(["sha256:", "sha256:" + "0".repeat(64), "sha512:abc", "../../etc/passwd"]);
    case 6:
      return rng.pick(["__proto__", "constructor", "toString", "\u0000", "\ud800"]);
    case 7:
      return [];
    case 8:
      return {};
    case 9:
      return [null];
    case 10: // an own "__proto__" key, as JSON.parse makes it
      return JSON.parse('{"__proto__": {"polluted": true}}');
    case 11: { // deep nesting
      let v: unknown = 1;
      const depth = 10 + rng.int(3000);
      for (let i = 0; i < depth; i++) v = rng.chance(0.5) ? [v] : { a: v };
      return v;
    }
    case 12:
      return Array.from({ length: 1 + rng.int(2000) }, () => ({}));
    case 13:
      return "application/vnd.oci.image.index.v1+json";
    case 14:
      return "application/vnd.oci.image.manifest.v1+json";
    default:
      return rng.bytes(8).join("");
  }
}

/** Sets an own, enumerable property, `__proto__` included (an assignment would set the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** One structural edit somewhere in `value` (a copy: `value` is not changed). */
export function mutateJson(value: unknown, rng: Rng): unknown {
  if (Array.isArray(value)) {
    const out = [...value];
    const op = rng.int(value.length === 0 ? 2 : 5);
    if (op === 0) out.splice(rng.int(out.length + 1), 0, oddValue(rng));
    else if (op === 1) return oddValue(rng);
    else if (op === 2) out.splice(rng.int(out.length), 1);
    else if (op === 3) out.push(...out.slice(0, 1 + rng.int(out.length)));
    else {
      const i = rng.int(out.length);
      out[i] = mutateJson(out[i], rng);
    }
    return out;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = { ...value as Record<string, unknown> };
    const keys = Object.keys(out);
    const op = rng.int(keys.length === 0 ? 2 : 5);
    if (op === 0) {
      out[rng.pick([...keys, "extra", "mediaType", "__proto__"]) ?? "extra"] = oddValue(rng);
    } else if (op === 1) return oddValue(rng);
    else if (op === 2) delete out[rng.pick(keys)];
    else if (op === 3) setOwn(out, rng.pick(keys), oddValue(rng));
    else {
      const k = rng.pick(keys);
      setOwn(out, k, mutateJson(out[k], rng));
    }
    return out;
  }
  return rng.chance(0.7) ? oddValue(rng) : value;
}

/**
 * A mutator of JSON documents: mostly structural edits of the parsed value (1 to 3 stacked), now
 * and then a byte-level edit of the text (broken syntax, duplicated keys, truncation).
 */
export function jsonMutator(options: ByteMutatorOptions = {}): Mutator {
  const bytes = byteMutator({
    dictionary: ['"', "{", "}", "[", "]", ",", ":", ...(options.dictionary ?? [])],
  });
  return (input, rng) => {
    if (rng.chance(0.25)) return bytes(input, rng);
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(input));
    } catch {
      return bytes(input, rng);
    }
    for (let edits = 1 + rng.int(3); edits > 0; edits--) value = mutateJson(value, rng);
    return encoder.encode(JSON.stringify(value) ?? "null");
  };
}

/** Options of {@link fuzz}. */
export interface FuzzOptions {
  /** What is fuzzed, for the failure message. */
  name: string;
  /** Valid inputs, each mutated in turn. */
  corpus: readonly Uint8Array[];
  /** How inputs are mutated (default {@link byteMutator}). */
  mutate?: Mutator;
  /** Mutated inputs tried (default 400). */
  runs?: number;
  /** First seed (default 1); run `i` uses seed + i, so a failure can be replayed alone. */
  seed?: number;
  /** The code under test. It may throw only what `accept` allows. */
  target: (input: Uint8Array) => unknown;
  /** Whether a thrown value is an accepted failure (default: any `FerryError`). */
  accept?: (err: unknown) => boolean;
  /** Longest one input may take, in milliseconds (default 2000): longer is a failure too. */
  maxMs?: number;
}

/**
 * Feeds `runs` mutated inputs to `target` and throws at the first that fails otherwise than
 * `accept` allows, or takes longer than `maxMs`, naming the seed, the input (base64) and the error.
 * The corpus itself is run first: it must pass.
 */
export async function fuzz(options: FuzzOptions): Promise<void> {
  const mutate = options.mutate ?? byteMutator();
  const accept = options.accept ?? ((err: unknown) => isFerryError(err));
  const runs = options.runs ?? 400;
  const seed = options.seed ?? 1;
  const maxMs = options.maxMs ?? 2000;
  const attempt = async (input: Uint8Array, label: string) => {
    const start = performance.now();
    try {
      await options.target(input);
    } catch (err) {
      if (!accept(err)) {
        throw new Error(
          `${options.name}: ${label} failed as it must not: ${
            err instanceof Error ? `${err.name}: ${err.message}` : String(err)
          }\ninput (base64): ${encodeBase64(input).slice(0, 4000)}\n${
            err instanceof Error ? err.stack : ""
          }`,
          { cause: err },
        );
      }
    }
    const took = performance.now() - start;
    if (took > maxMs) {
      throw new Error(
        `${options.name}: ${label} took ${took.toFixed(0)} ms (at most ${maxMs})\ninput (base64): ${
          encodeBase64(input).slice(0, 4000)
        }`,
      );
    }
  };
  for (const [i, input] of options.corpus.entries()) await attempt(input, `corpus input ${i}`);
  for (let run = 0; run < runs; run++) {
    const rng = new Rng(seed + run);
    const input = mutate(options.corpus[run % options.corpus.length], rng);
    await attempt(input, `seed ${seed + run}`);
  }
}

function encodeBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}
