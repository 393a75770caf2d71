import assert from "node:assert/strict";
import {
  SERVE_METHODS,
  type ServeMeasurement,
  type ServeMethod,
  type ServeReport,
} from "./measure.ts";
import {
  checkServeTargets,
  SERVE_SECTION,
  serveMarkdown,
  summarizeRawGets,
  summarizeServe,
} from "./report.ts";

const MIB = 1024 * 1024;

function m(
  method: ServeMethod,
  run: number,
  wallMs: number,
  rssKiB = 60_000,
): ServeMeasurement {
  return {
    ...method,
    run,
    wallMs,
    bytes: 1000 * MIB,
    clientCpuS: 2,
    clientPeakRssKiB: 40_000,
    serverCpuS: 1,
    serverPeakRssKiB: rssKiB,
    otherCpuS: 0,
    serverStartMs: 100,
  };
}

const ferryPull1: ServeMethod = { server: "ferry", direction: "pull", width: 1 };
const registryPull1: ServeMethod = { server: "docker-registry", direction: "pull", width: 1 };

function report(measurements: ServeMeasurement[]): ServeReport {
  return {
    date: "2026-01-01T00:00:00Z",
    command: "deno task bench",
    scale: "large",
    description: "4 images",
    images: 4,
    bytes: 1000 * MIB,
    runs: 3,
    measurements,
    rawGets: [],
    profiles: [],
    ferryCommand: "deno run -A main.ts registry serve filesystem DIR -p PORT",
    quiet: { enabled: true, maxWaitMs: 60_000, settles: 1, waitedMs: 1000, gaveUp: 0 },
    totalMs: 1000,
  };
}

Deno.test("SERVE_METHODS pairs each ferry method with docker-registry's", () => {
  assert.equal(SERVE_METHODS.length, 8);
  for (const method of SERVE_METHODS.filter((x) => x.server === "ferry")) {
    assert.ok(
      SERVE_METHODS.some((x) =>
        x.server === "docker-registry" && x.direction === method.direction &&
        x.width === method.width
      ),
    );
  }
});

Deno.test("summarizeServe takes medians and throughput per method", () => {
  const s = summarizeServe([
    m(ferryPull1, 2, 4000),
    m(ferryPull1, 1, 2000),
    m(ferryPull1, 3, 3000, 90_000),
    m(registryPull1, 1, 5000),
  ]);
  assert.equal(s.length, 2);
  assert.equal(s[0].server, "ferry");
  assert.deepEqual(s[0].runs, [2, 4, 3]);
  assert.equal(s[0].median, 3);
  assert.equal(Math.round(s[0].mibPerS), 333);
  assert.equal(s[0].serverPeakRssKiB, 90_000);
  assert.equal(s[1].median, 5);
});

Deno.test("checkServeTargets compares throughput and the ferry server's peak RSS", () => {
  const checks = checkServeTargets([
    m(ferryPull1, 1, 2000, 130 * 1024),
    m(registryPull1, 1, 1000, 500 * 1024),
  ]);
  assert.equal(checks.length, 2);
  assert.equal(checks[0].reached, "0.50×");
  assert.equal(checks[0].ok, false);
  assert.equal(checks[1].reached, "130 MiB");
  assert.equal(checks[1].ok, false);
  const good = checkServeTargets([m(ferryPull1, 1, 1000), m(registryPull1, 1, 1000)]);
  assert.equal(good[0].ok, true);
  assert.equal(good[1].ok, true);
});

Deno.test("the serve section is replaced, keeping the rest of the file", () => {
  const save = "# save\n\n## Analysis\n\ntext\n\nWhole benchmark: 5 s.\n";
  const section = serveMarkdown(report([m(ferryPull1, 1, 1000), m(registryPull1, 1, 1000)]));
  const first = SERVE_SECTION.replace(save, section);
  assert.ok(first.startsWith(save.trimEnd() + "\n\n## registry serve\n"));
  assert.equal(SERVE_SECTION.extract(first), section);
  // Replacing again does not duplicate, and a section in the middle keeps what follows.
  assert.equal(SERVE_SECTION.replace(first, section), first);
  const middle = SERVE_SECTION.replace(
    `${section}\n## Later\n\nkept\n`,
    "## registry serve\n\nnew\n",
  );
  assert.equal(middle, "## registry serve\n\nnew\n\n## Later\n\nkept\n");
  // No section given: the file loses its serve section; an empty file gets only the section.
  assert.equal(SERVE_SECTION.replace(first, undefined), save);
  assert.equal(SERVE_SECTION.replace("", section), section);
});

Deno.test("the serve section's hand-written analysis survives regeneration", () => {
  const r = report([m(ferryPull1, 1, 1000), m(registryPull1, 1, 1000)]);
  const doc = SERVE_SECTION.replace(
    "# save\n\n## Analysis\n\nsave text\n",
    serveMarkdown(r, "why"),
  );
  assert.equal(SERVE_SECTION.keptAnalysis(doc), "why");
  assert.equal(SERVE_SECTION.keptAnalysis("# save\n"), undefined);
  assert.match(serveMarkdown(r), /_No analysis written yet\._/);
});

Deno.test("summarizeRawGets orders servers and takes medians", () => {
  const raw = (
    server: "ferry" | "deno-floor" | "docker-registry",
    run: number,
    wallMs: number,
  ) => ({
    server,
    width: 1,
    run,
    wallMs,
    bytes: 100 * MIB,
    clientCpuS: 0.1,
    serverCpuS: 1,
    serverPeakRssKiB: 50_000,
    otherCpuS: wallMs > 1500 ? 1 : 0,
  });
  const s = summarizeRawGets([
    raw("docker-registry", 1, 500),
    raw("ferry", 2, 2000),
    raw("ferry", 1, 1000),
    raw("ferry", 3, 1200),
  ]);
  assert.deepEqual(s.map((x) => x.server), ["ferry", "docker-registry"]);
  assert.deepEqual(s[0].runs, [1, 2, 1.2]);
  assert.deepEqual(s[0].disturbed, [false, true, false]);
  assert.equal(s[0].median, 1.2);
  assert.equal(Math.round(s[1].mibPerS), 200);
});
