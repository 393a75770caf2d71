/**
 * How commands talk to people and programs: results on stdout, progress and warnings on stderr,
 * or one JSON object per line on stdout under `--json`.
 *
 * Progress follows skopeo's wording (`Copying blob 08409d417260 done`) so Sealos users recognise
 * it; on a terminal, blobs in flight get live bars that are redrawn in place.
 *
 * Under `--json` every line goes through {@link Output.emit} or {@link Output.snapshot}, typed by
 * json.ts; {@link Output.transfer} turns the copy engine's events into the shared event shapes, so
 * every command that moves images reports them alike.
 *
 * @module
 */
import { jsonSafe, terminalSafe } from "../terminal_text.ts";
import type { CopyEvent } from "../copy/mod.ts";
import { formatSize } from "../byte_size.ts";
import { formatPlatform } from "../platform.ts";
import type { SaveEvent } from "../transfer/mod.ts";
import { TransferTally } from "./tally.ts";
import {
  type BlobDoneEvent,
  type Event,
  type ImageDoneEvent,
  type ImageFailedEvent,
  type ManifestEvent,
  type ReferrerEvent,
  referrerSummary,
  type Snapshot,
} from "./json.ts";

/** Global output settings. */
export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
  /** Draw live bars (default: stderr is a terminal and not `--json`/`--quiet`). */
  live?: boolean;
}

const encoder = new TextEncoder();

/** `1.5MiB` (re-exported: the CLI's modules take it from here). */
export { formatSize };

/** Short form of a digest, as skopeo prints it. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

/** Per-blob bars drawn at once (the rest wait their turn). */
const MAX_BARS = 10;

/** How progress lines name each kind of referrer. */
const REFERRER_WORDS = {
  signature: "signature",
  attestation: "attestation",
  sbom: "SBOM",
  other: "referrer",
} as const;

interface Bar {
  digest: string;
  size: number;
  done: number;
}

/** The output channel of one command run. */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly debugEnabled: boolean;
  #live: boolean;
  #bars = new Map<string, Bar>();
  #drawn = 0;
  #lastDraw = 0;
  #tally?: TransferTally;

  constructor(options: OutputOptions = {}) {
    this.json = options.json ?? false;
    this.quiet = options.quiet ?? false;
    this.debugEnabled = options.debug ?? false;
    this.#live = options.live ??
      (!this.json && !this.quiet && Deno.stderr.isTerminal() && Deno.env.get("TERM") !== "dumb");
  }

  /** A result line on stdout (not in JSON mode: use {@link emit}). */
  print(line: string): void {
    this.#clearBars();
    Deno.stdout.writeSync(encoder.encode(terminalSafe(line, { lines: true }) + "\n"));
    this.#drawBars(true);
  }

  /** A progress line on stderr (dropped under `--quiet` and `--json`). */
  info(line: string): void {
    if (this.quiet || this.json) return;
    this.#stderr(line);
  }

  /** A warning on stderr (also in JSON mode, as an event). */
  warn(message: string): void {
    if (this.json) return this.emit({ type: "warning", message });
    if (this.quiet) return;
    this.#stderr(`warning: ${message}`);
  }

  /** A debug line on stderr, only under `--debug`. */
  debug(line: string): void {
    if (this.debugEnabled) this.#stderr(`debug: ${line}`);
  }

  /**
   * One JSON event on stdout (only in JSON mode). Name the shape (`out.emit<PullResult>({…})`) so
   * that a field the schema lacks is a type error.
   */
  emit<T extends Event>(event: T): void {
    if (!this.json) return;
    Deno.stdout.writeSync(encoder.encode(jsonSafe(JSON.stringify(event)) + "\n"));
  }

  /** The one JSON object of a snapshot command, on stdout (name the shape as for {@link emit}). */
  snapshot<T extends Snapshot>(value: T): void {
    this.#clearBars();
    Deno.stdout.writeSync(encoder.encode(jsonSafe(JSON.stringify(value)) + "\n"));
    this.#drawBars(true);
  }

  /**
   * Starts counting what {@link transfer} reports (bytes fetched and already present, images
   * done) for the overall line under the live bars, the closing summary and the JSON totals.
   * `images` is the number of images the command will transfer, when it knows.
   */
  tally(images?: number): TransferTally {
    this.#tally = new TransferTally();
    this.#tally.imagesTotal = images;
    return this.#tally;
  }

  /**
   * Reports an event of the copy engine or the image saver: live bars and progress lines, and
   * under `--json` the event in its documented shape.
   */
  transfer(e: CopyEvent | SaveEvent): void {
    this.#tally?.add(e);
    switch (e.type) {
      case "blob-start":
        return this.#blobStart(e.digest, e.size, e.offset);
      case "blob-progress":
        return this.#blobProgress(e.digest, e.bytes);
      case "blobs-planned":
        return;
      case "blob-done":
        this.emit<BlobDoneEvent>({
          type: "blob-done",
          source: e.source,
          digest: e.digest,
          size: e.size,
          status: e.status,
        });
        return this.#blobDone(e.digest, e.size, e.status);
      case "manifest":
        return this.emit<ManifestEvent>({
          type: "manifest",
          source: e.source,
          digest: e.digest,
          mediaType: e.mediaType,
          ...(e.platform ? { platform: formatPlatform(e.platform) } : {}),
          status: e.status,
        });
      case "referrer":
        this.emit<ReferrerEvent>({
          type: "referrer",
          source: e.source,
          ...referrerSummary(e),
          status: e.status,
        });
        return this.info(
          `Copying ${REFERRER_WORDS[e.kind]} ${shortDigest(e.digest)} of ${
            shortDigest(e.subject)
          } ${e.status === "copied" ? "done" : "skipped: already exists"}`,
        );
      case "warning":
        return this.warn(`${e.source}: ${e.message}`);
      case "image-done":
        this.emit<ImageDoneEvent>({
          type: "image-done",
          source: e.source,
          destination: e.destination,
          digest: e.digest,
          mediaType: e.mediaType,
        });
        return this.info(`Copied ${e.source} to ${e.destination}`);
      case "image-failed":
        this.#drawBars();
        return this.emit<ImageFailedEvent>({
          type: "image-failed",
          source: e.source,
          error: e.error,
        });
    }
  }

  #blobStart(digest: string, size: number, offset: number): void {
    if (!this.#live) return;
    this.#bars.set(digest, { digest, size, done: offset });
    this.#drawBars();
  }

  #blobProgress(digest: string, bytes: number): void {
    const bar = this.#bars.get(digest);
    if (!bar) return;
    bar.done += bytes;
    this.#drawBars();
  }

  /** A blob finished (`copied`) or was already there (`exists`). */
  #blobDone(digest: string, size: number, status: "copied" | "exists"): void {
    this.#bars.delete(digest);
    this.info(
      `Copying blob ${shortDigest(digest)} ${
        status === "copied" ? `done (${formatSize(size)})` : "skipped: already exists"
      }`,
    );
  }

  #stderr(line: string) {
    this.#clearBars();
    Deno.stderr.writeSync(encoder.encode(terminalSafe(line) + "\n"));
    this.#drawBars(true);
  }

  #clearBars() {
    if (!this.#live || this.#drawn === 0) return;
    Deno.stderr.writeSync(encoder.encode(`\x1b[${this.#drawn}F\x1b[J`));
    this.#drawn = 0;
  }

  #drawBars(force = false) {
    if (!this.#live) return;
    const now = Date.now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    this.#clearBars();
    const width = 30;
    const lines = [...this.#bars.values()].slice(0, MAX_BARS).map((b) => {
      const ratio = b.size > 0 ? Math.min(1, b.done / b.size) : 1;
      const fill = Math.round(ratio * width);
      return `Copying blob ${shortDigest(b.digest)} [${"=".repeat(fill)}${
        " ".repeat(width - fill)
      }] ` +
        `${formatSize(b.done)} / ${formatSize(b.size)}`;
    });
    // The overall line goes under the bars while anything is in flight.
    if (this.#tally && lines.length > 0) lines.push(this.#tally.progressLine());
    if (lines.length === 0) return;
    Deno.stderr.writeSync(encoder.encode(lines.join("\n") + "\n"));
    this.#drawn = lines.length;
  }

  /** Removes live bars before the process ends. */
  finish(): void {
    this.#clearBars();
    this.#bars.clear();
  }
}
