/**
 * Waiting for a quiet machine before each measurement: dirty pages flushed (`sync`), then a
 * window in which the whole machine was nearly idle, so that other work on a shared machine does
 * not land inside the timing. Every benchmark reports how long it waited and how often it gave up.
 *
 * @module
 */
import { machineBusySeconds, output } from "./proc.ts";

/** How often measurements waited for a quiet machine, how long, and how often in vain. */
export interface QuietCounts {
  settles: number;
  waitedMs: number;
  gaveUp: number;
}

/** {@link QuietCounts} with the settings they were taken under, as reports show them. */
export interface QuietSummary extends QuietCounts {
  enabled: boolean;
  maxWaitMs: number;
}

/** How long measurements waited for a quiet machine (see {@link settle}), since start. */
export const quietStats: QuietCounts = { settles: 0, waitedMs: 0, gaveUp: 0 };

/** Settings of {@link settle}. */
export const quietSettings = {
  /** Wait at all. */
  enabled: true,
  /** Give up waiting after this long and measure anyway. */
  maxWaitMs: 30_000,
  /** Length of the quiet window. */
  windowMs: 1000,
  /** "Quiet": the whole machine used at most this many cores during the window. */
  maxBusyCores: 0.15,
};

/** Flushes dirty pages to disk, so that one measurement does not pay for the last one's writes. */
export async function syncDisks(): Promise<void> {
  await output("sync", []);
}

/**
 * Prepares a measurement: flushes dirty pages (`sync`), then waits until the machine has been
 * quiet for a window. Gives up after {@link quietSettings}.maxWaitMs; the measurement's "other
 * CPU" shows the rest.
 */
export async function settle(): Promise<void> {
  await syncDisks();
  if (!quietSettings.enabled) return;
  quietStats.settles++;
  const start = performance.now();
  for (;;) {
    const busy0 = await machineBusySeconds();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, quietSettings.windowMs));
    const cores = (await machineBusySeconds() - busy0) / ((performance.now() - t0) / 1000);
    const waited = performance.now() - start;
    if (cores <= quietSettings.maxBusyCores || waited >= quietSettings.maxWaitMs) {
      quietStats.waitedMs += waited;
      if (cores > quietSettings.maxBusyCores) quietStats.gaveUp++;
      return;
    }
  }
}

/** The waits since `before` (a copy of {@link quietStats} taken then), with the settings. */
export function quietSince(before: QuietCounts): QuietSummary {
  return {
    enabled: quietSettings.enabled,
    maxWaitMs: quietSettings.maxWaitMs,
    settles: quietStats.settles - before.settles,
    waitedMs: quietStats.waitedMs - before.waitedMs,
    gaveUp: quietStats.gaveUp - before.gaveUp,
  };
}
