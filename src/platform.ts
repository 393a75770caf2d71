/**
 * Platforms (`os/arch[/variant]`): parsing, the host's platform, and matching index entries.
 *
 * @module
 */
import { FerryError } from "./errors.ts";

/** A platform as written in image indexes and configs. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

const GO_ARCH: Record<string, string> = {
  x86_64: "amd64",
  aarch64: "arm64",
  arm: "arm",
  riscv64: "riscv64",
  s390x: "s390x",
  powerpc64le: "ppc64le",
};

/** Default variants, as containerd's platforms package normalises them. */
function normaliseVariant(arch: string, variant?: string): string | undefined {
  if (arch === "arm64" && (variant === "v8" || variant === undefined)) return undefined;
  if (arch === "arm" && variant === undefined) return "v7";
  return variant;
}

/** Normalises architecture aliases (`x86_64` → `amd64`, `aarch64` → `arm64`). */
function normaliseArch(arch: string): string {
  const lower = arch.toLowerCase();
  if (lower === "x86_64" || lower === "x86-64") return "amd64";
  if (lower === "aarch64") return "arm64";
  return lower;
}

/** The platform this process runs on (OS fixed to linux for cluster images built elsewhere). */
export function hostPlatform(): Platform {
  const arch = GO_ARCH[Deno.build.arch] ?? Deno.build.arch;
  return { os: "linux", architecture: arch, ...(arch === "arm" ? { variant: "v7" } : {}) };
}

/** Parses `os/arch[/variant]` (or a bare `arch`, which implies linux). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split("/");
  if (parts.some((p) => p === "") || parts.length > 3) {
    throw new FerryError(
      "usage",
      `invalid platform ${JSON.stringify(text)}: want os/arch[/variant]`,
    );
  }
  const [os, arch, variant] = parts.length === 1 ? ["linux", parts[0]] : parts;
  const architecture = normaliseArch(arch);
  const v = normaliseVariant(architecture, variant);
  return { os: os.toLowerCase(), architecture, ...(v ? { variant: v } : {}) };
}

/** Parses a comma-separated list of platforms, dropping duplicates. */
export function parsePlatformList(text: string): Platform[] {
  const out: Platform[] = [];
  for (const item of text.split(",")) {
    if (item.trim() === "") continue;
    const p = parsePlatform(item);
    if (!out.some((q) => formatPlatform(q) === formatPlatform(p))) out.push(p);
  }
  if (out.length === 0) throw new FerryError("usage", "no platform given");
  return out;
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/**
 * Whether an index entry's platform satisfies a wanted platform: os and architecture equal, and the
 * variant equal after normalisation (an entry without variant matches a want without variant).
 */
export function platformMatches(entry: Platform | undefined, want: Platform): boolean {
  if (!entry) return false;
  const arch = normaliseArch(entry.architecture ?? "");
  if ((entry.os ?? "").toLowerCase() !== want.os || arch !== want.architecture) return false;
  return normaliseVariant(arch, entry.variant) ===
    normaliseVariant(want.architecture, want.variant);
}
