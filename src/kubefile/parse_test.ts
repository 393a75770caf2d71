import assert from "node:assert/strict";
import { isFerryError } from "../errors.ts";
import { MAX_TOTAL_EXPANSION, parseInstructions, type ParseOptions } from "./parse.ts";
import { MAX_PATTERN_STEPS } from "./shell_pattern.ts";
import type { Instruction, ParsedInstructions } from "./types.ts";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64" };
const BASE: ParseOptions = { targetPlatform: ARM64, buildPlatform: AMD64 };

function parse(text: string, options: ParseOptions = {}): ParsedInstructions {
  return parseInstructions({ name: "Kubefile", text }, { ...BASE, ...options });
}

/** Instructions of the last stage without their locations. */
function body(text: string, options: ParseOptions = {}): Record<string, unknown>[] {
  const stages = parse(text, options).stages;
  return stages[stages.length - 1].instructions.map(strip);
}

function strip(i: Instruction): Record<string, unknown> {
  const { file: _file, line: _line, ...rest } = i;
  return rest;
}

function assertFails(
  text: string | { name: string; text: string }[],
  message: string | RegExp,
  code = "invalid_input",
  options: ParseOptions = {},
): void {
  const sources = typeof text === "string" ? { name: "Kubefile", text } : text;
  assert.throws(() => parseInstructions(sources, { ...BASE, ...options }), (err: unknown) => {
    assert.ok(isFerryError(err), `not a FerryError: ${err}`);
    assert.equal(err.code, code, err.message);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

Deno.test("parse: FROM forms", () => {
  const r = parse(
    [
      "FROM scratch",
      "FROM labring/kubernetes:v1.25.0 AS Base",
      "FROM --platform=linux/arm64 registry.local:5000/a/b@sha256:" + "a".repeat(64),
      "from base as second",
      "FROM --platform=$BUILDPLATFORM scratch",
      "FROM --platform=${TARGETPLATFORM} second",
    ].join("\n"),
  );
  assert.deepEqual(
    r.stages.map((s) => ({ index: s.index, name: s.name, from: s.from, platform: s.platform })),
    [
      { index: 0, name: undefined, from: { kind: "scratch" }, platform: undefined },
      {
        index: 1,
        name: "base",
        from: { kind: "image", ref: "labring/kubernetes:v1.25.0" },
        platform: undefined,
      },
      {
        index: 2,
        name: undefined,
        from: { kind: "image", ref: "registry.local:5000/a/b@sha256:" + "a".repeat(64) },
        platform: ARM64,
      },
      { index: 3, name: "second", from: { kind: "stage", index: 1 }, platform: undefined },
      { index: 4, name: undefined, from: { kind: "scratch" }, platform: AMD64 },
      { index: 5, name: undefined, from: { kind: "stage", index: 3 }, platform: ARM64 },
    ],
  );
  assert.deepEqual(r.stages.map((s) => s.line), [1, 2, 3, 4, 5, 6]);
});

Deno.test("parse: global ARGs serve FROM only; redeclared ARGs take their value", () => {
  const text = [
    "ARG VERSION=v1.25.0",
    "ARG REPO=labring/kubernetes",
    "ARG IMAGE=${REPO}:${VERSION}",
    "FROM $IMAGE",
    "LABEL before=[$VERSION]",
    "ARG VERSION",
    "LABEL after=[$VERSION]",
  ].join("\n");
  const r = parse(text);
  assert.deepEqual(r.stages[0].from, { kind: "image", ref: "labring/kubernetes:v1.25.0" });
  assert.deepEqual(r.globalArgs, [
    { name: "VERSION", value: "v1.25.0" },
    { name: "REPO", value: "labring/kubernetes" },
    { name: "IMAGE", value: "labring/kubernetes:v1.25.0" },
  ]);
  assert.deepEqual(r.stages[0].instructions.map(strip), [
    { kind: "label", labels: [{ key: "before", value: "[]" }] },
    { kind: "arg", args: [{ name: "VERSION", value: "v1.25.0" }] },
    { kind: "label", labels: [{ key: "after", value: "[v1.25.0]" }] },
  ]);

  const overridden = parse(text, { buildArgs: { VERSION: "v1.27.1", UNUSED: "x" } });
  assert.deepEqual(overridden.stages[0].from, {
    kind: "image",
    ref: "labring/kubernetes:v1.27.1",
  });
  assert.deepEqual(overridden.unusedBuildArgs, ["UNUSED"]);
  assert.deepEqual(parse(text, { buildArgs: { HTTP_PROXY: "http://p" } }).unusedBuildArgs, []);
});

Deno.test("parse: ARG and ENV scope inside a stage", () => {
  assert.deepEqual(
    body(
      [
        "FROM scratch",
        "ARG A=default B",
        "LABEL a=$A b=${B:-unset}",
        "ENV A=from-env",
        "LABEL a=$A",
        "ARG C=${A}-c",
        "LABEL c=$C",
        "ARG TARGETARCH",
        "LABEL arch=$TARGETARCH build=${BUILDARCH:-none}",
      ].join("\n"),
    ),
    [
      { kind: "arg", args: [{ name: "A", value: "default" }, { name: "B" }] },
      { kind: "label", labels: [{ key: "a", value: "default" }, { key: "b", value: "unset" }] },
      { kind: "env", env: [{ key: "A", value: "from-env" }] },
      { kind: "label", labels: [{ key: "a", value: "from-env" }] },
      { kind: "arg", args: [{ name: "C", value: "from-env-c" }] },
      { kind: "label", labels: [{ key: "c", value: "from-env-c" }] },
      { kind: "arg", args: [{ name: "TARGETARCH", value: "arm64" }] },
      { kind: "label", labels: [{ key: "arch", value: "arm64" }, { key: "build", value: "none" }] },
    ],
  );
  // A build arg beats the default; ENV written after the ARG beats both.
  assert.deepEqual(
    body("FROM scratch\nARG V=d\nLABEL l=$V\nENV V=e\nLABEL l=$V", { buildArgs: { V: "b" } })
      .filter((i) => i.kind === "label"),
    [
      { kind: "label", labels: [{ key: "l", value: "b" }] },
      { kind: "label", labels: [{ key: "l", value: "e" }] },
    ],
  );
});

Deno.test("parse: a stage inherits its parent's ENV, not its ARGs; base image ENV is used", () => {
  const r = parse(
    [
      "FROM scratch AS parent",
      "ARG SECRET=s",
      "ENV HOME=/root",
      "FROM parent",
      "WORKDIR $HOME/${SECRET:-nope}",
      "FROM labring/app:1",
      "WORKDIR ${APP_HOME}",
      "CMD start",
    ].join("\n"),
    {
      baseImage: (ref) =>
        ref === "labring/app:1"
          ? { env: ["APP_HOME=/opt/app", "PATH=/bin"], shell: ["/bin/bash", "-c"] }
          : undefined,
    },
  );
  assert.deepEqual(strip(r.stages[1].instructions[0]), { kind: "workdir", path: "/root/nope" });
  assert.deepEqual(r.stages[2].instructions.map(strip), [
    { kind: "workdir", path: "/opt/app" },
    { kind: "cmd", command: ["/bin/bash", "-c", "start"], shellForm: true },
  ]);
});

Deno.test("parse: ENV and LABEL forms", () => {
  assert.deepEqual(
    body(
      [
        "FROM scratch",
        "ENV A=1 B=\"two words\" C=three\\ words D='$A' E=\\$A",
        "ENV LEGACY some value with  spaces",
        "ENV abc=hello",
        "ENV abc=bye def=$abc",
        'LABEL "quoted key"=v sealos.io.type=rootfs',
        "LABEL legacy form",
      ].join("\n"),
    ),
    [
      {
        kind: "env",
        env: [
          { key: "A", value: "1" },
          { key: "B", value: "two words" },
          { key: "C", value: "three words" },
          { key: "D", value: "$A" },
          { key: "E", value: "$A" },
        ],
      },
      { kind: "env", env: [{ key: "LEGACY", value: "some value with  spaces" }] },
      { kind: "env", env: [{ key: "abc", value: "hello" }] },
      { kind: "env", env: [{ key: "abc", value: "bye" }, { key: "def", value: "hello" }] },
      {
        kind: "label",
        labels: [{ key: "quoted key", value: "v" }, { key: "sealos.io.type", value: "rootfs" }],
      },
      { kind: "label", labels: [{ key: "legacy", value: "form" }] },
    ],
  );
});

Deno.test("parse: COPY and ADD forms", () => {
  const r = parse(
    [
      "FROM scratch AS build",
      "FROM scratch",
      "ARG DIR=registry",
      "COPY $DIR ./$DIR",
      'COPY ["with space", "b", "/dst/"]',
      "COPY --from=build --chmod=0755 --chown=1000:1000 --link /out /bin/",
      "COPY --from=0 a b",
      "COPY --from=docker.io/library/busybox:1.36 /bin/busybox /bin/",
      "COPY --exclude=*.md --exclude=tmp . /app",
      "ADD --checksum=sha256:abc --keep-git-dir=true https://x/y.tar.gz /opt/",
      "ADD local.tar /",
    ].join("\n"),
  );
  assert.deepEqual(r.stages[1].instructions.slice(1).map(strip), [
    { kind: "copy", sources: ["registry"], dest: "./registry", link: false, exclude: [] },
    { kind: "copy", sources: ["with space", "b"], dest: "/dst/", link: false, exclude: [] },
    {
      kind: "copy",
      sources: ["/out"],
      dest: "/bin/",
      link: true,
      exclude: [],
      chown: "1000:1000",
      chmod: 0o755,
      from: { kind: "stage", index: 0 },
    },
    {
      kind: "copy",
      sources: ["a"],
      dest: "b",
      link: false,
      exclude: [],
      from: { kind: "stage", index: 0 },
    },
    {
      kind: "copy",
      sources: ["/bin/busybox"],
      dest: "/bin/",
      link: false,
      exclude: [],
      from: { kind: "image", ref: "docker.io/library/busybox:1.36" },
    },
    { kind: "copy", sources: ["."], dest: "/app", link: false, exclude: ["*.md", "tmp"] },
    {
      kind: "add",
      sources: ["https://x/y.tar.gz"],
      dest: "/opt/",
      link: false,
      exclude: [],
      keepGitDir: true,
      checksum: "sha256:abc",
    },
    { kind: "add", sources: ["local.tar"], dest: "/", link: false, exclude: [], keepGitDir: false },
  ]);
});

Deno.test("parse: CMD, ENTRYPOINT and SHELL", () => {
  assert.deepEqual(
    body(
      [
        "FROM scratch",
        "CMD kubectl apply -f manifests/ && echo $HOME",
        'ENTRYPOINT ["/bin/bash", "-c"]',
        "CMD []",
        'SHELL ["/bin/bash", "-euo", "pipefail", "-c"]',
        "ENTRYPOINT [ -f x ] && run",
        'CMD ["unterminated"',
      ].join("\n"),
    ),
    [
      {
        kind: "cmd",
        command: ["/bin/sh", "-c", "kubectl apply -f manifests/ && echo $HOME"],
        shellForm: true,
      },
      { kind: "entrypoint", command: ["/bin/bash", "-c"], shellForm: false },
      { kind: "cmd", command: [], shellForm: false },
      { kind: "shell", shell: ["/bin/bash", "-euo", "pipefail", "-c"] },
      {
        kind: "entrypoint",
        command: ["/bin/bash", "-euo", "pipefail", "-c", "[ -f x ] && run"],
        shellForm: true,
      },
      {
        kind: "cmd",
        command: ["/bin/bash", "-euo", "pipefail", "-c", '["unterminated"'],
        shellForm: true,
      },
    ],
  );
});

Deno.test("parse: remaining instructions", () => {
  assert.deepEqual(
    body(
      [
        "FROM scratch",
        "ENV PORTS='8080 9090' DIR=/data U=app",
        "EXPOSE 80 443/UDP $PORTS 7000-7001/tcp",
        'VOLUME ["$DIR", "/b"]',
        "VOLUME /c /d",
        'WORKDIR "$DIR/my dir"',
        "USER ${U}:app",
        "STOPSIGNAL SIGTERM",
        "MAINTAINER labring <$x@example.com>",
        "HEALTHCHECK NONE",
        'HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=0 --retries=3 CMD ["curl", "-f", "x"]',
        "HEALTHCHECK CMD curl -f x || exit 1",
        "ONBUILD COPY . /app",
      ].join("\n"),
    ).slice(1),
    [
      {
        kind: "expose",
        ports: ["80/tcp", "443/udp", "8080/tcp", "9090/tcp", "7000/tcp", "7001/tcp"],
      },
      { kind: "volume", volumes: ["/data", "/b"] },
      { kind: "volume", volumes: ["/c", "/d"] },
      { kind: "workdir", path: "/data/my dir" },
      { kind: "user", user: "app:app" },
      { kind: "stopsignal", signal: "SIGTERM" },
      { kind: "maintainer", maintainer: "labring <$x@example.com>" },
      { kind: "healthcheck", test: ["NONE"] },
      {
        kind: "healthcheck",
        test: ["CMD", "curl", "-f", "x"],
        interval: 90e9,
        timeout: 500e6,
        retries: 3,
      },
      { kind: "healthcheck", test: ["CMD-SHELL", "curl -f x || exit 1"] },
      { kind: "onbuild", trigger: "COPY . /app" },
    ],
  );
});

Deno.test("parse: directives, comments and continuations", () => {
  const text = [
    "\uFEFF# syntax=docker/dockerfile:1",
    "# escape=`",
    "",
    "FROM scratch",
    "# a comment",
    "   # an indented comment",
    "COPY C:\\src `",
    "     # comment inside the continuation",
    "",
    "     C:\\dst",
    "LABEL a=1 `   ",
    "      b=2",
    "ENV X=a`$b",
    "# escape=\\",
    "LABEL last=1\\",
  ].join("\r\n");
  const r = parse(text);
  assert.deepEqual(r.stages[0].instructions.map((i) => ({ line: i.line, ...strip(i) })), [
    { line: 7, kind: "copy", sources: ["C:\\src"], dest: "C:\\dst", link: false, exclude: [] },
    { line: 11, kind: "label", labels: [{ key: "a", value: "1" }, { key: "b", value: "2" }] },
    { line: 13, kind: "env", env: [{ key: "X", value: "a$b" }] },
    // After the first instruction `# escape=` is a comment: `\` stays an ordinary character and
    // a trailing one does not continue the line.
    { line: 15, kind: "label", labels: [{ key: "last", value: "1\\" }] },
  ]);

  // A directive after a blank line or a comment is only a comment.
  const late = parse("# comment\n# escape=`\nFROM scratch\nLABEL a=1 \\\n b=2");
  assert.deepEqual(strip(late.stages[0].instructions[0]), {
    kind: "label",
    labels: [{ key: "a", value: "1" }, { key: "b", value: "2" }],
  });
});

Deno.test("parse: several files keep their own file:line and escape", () => {
  const r = parseInstructions(
    [
      { name: "Sealfile", text: "# escape=`\nFROM scratch AS a\nLABEL x=1 `\n y=2\n" },
      { name: "Kubefile", text: "\n\nFROM a\nLABEL z=3 \\\n w=4\n" },
    ],
    BASE,
  );
  assert.deepEqual(
    r.stages.flatMap((s) => [s, ...s.instructions]).map((i) => `${i.file}:${i.line}`),
    ["Sealfile:2", "Sealfile:3", "Kubefile:3", "Kubefile:4"],
  );
  assert.deepEqual(r.stages[1].from, { kind: "stage", index: 0 });
  assertFails(
    [
      { name: "Sealfile", text: "FROM scratch\n" },
      { name: "Kubefile", text: "\nCOPY onlyone\n" },
    ],
    "Kubefile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
  );
});

Deno.test("parse: errors name file:line", () => {
  const cases: [string, string | RegExp, string?][] = [
    [
      "FROM scratch\n\nRUN apt-get install -y x",
      /^Kubefile:3: RUN is not supported/,
      "unsupported",
    ],
    ["FROM scratch\nCOPY <<EOF /x\nhello\nEOF", /^Kubefile:2: COPY with a heredoc/, "unsupported"],
    [
      "FROM scratch\nCOPY --parents a/b ./",
      /^Kubefile:2: COPY --parents is not supported/,
      "unsupported",
    ],
    ["FROM scratch\nFOO bar", "Kubefile:2: unknown instruction: FOO"],
    ["FROM scratch\nCOPY a", /^Kubefile:2: COPY requires at least two arguments/],
    ["FROM scratch\nADD --from=x a b", "Kubefile:2: unknown flag: --from"],
    ["FROM scratch\nCOPY --link=maybe a b", /^Kubefile:2: expecting boolean value for flag --link/],
    ["FROM scratch\nCOPY --chown=1 --chown=2 a b", "Kubefile:2: duplicate flag specified: --chown"],
    ["FROM scratch\nCOPY --chmod=u+x a b", /^Kubefile:2: invalid --chmod=u\+x/],
    [
      "FROM scratch\nCOPY --from=0 a b",
      "Kubefile:2: COPY --from=0: stage 0 is not an earlier stage",
    ],
    [
      "FROM scratch AS me\nCOPY --from=me a b",
      "Kubefile:2: COPY --from=me refers to the stage it is in",
    ],
    ["FROM a b", "Kubefile:1: FROM requires either one or three arguments"],
    ["FROM scratch AS 1st", /^Kubefile:1: invalid name for build stage: "1st"/],
    ["FROM scratch AS x\nFROM scratch AS X", 'Kubefile:2: duplicate stage name "x"'],
    ["ARG X\nFROM $X", "Kubefile:2: base name ($X) should not be blank"],
    ["FROM --platform=linux/ scratch", /^Kubefile:1: FROM --platform: invalid platform/],
    [
      "LABEL a=b\nFROM scratch",
      "Kubefile:1: LABEL before the first FROM (only ARG may come before FROM)",
    ],
    ["ARG A=1", "Kubefile: no FROM instruction"],
    ["# only a comment\n\n", "Kubefile: file with no instructions"],
    ["FROM scratch\nENV a=1 b", /^Kubefile:2: Syntax error - can't find = in "b"/],
    ["FROM scratch\nENV onlykey", "Kubefile:2: ENV must have two arguments"],
    ["FROM scratch\nENV =x", "Kubefile:2: ENV names can not be blank"],
    ["FROM scratch\nARG =x", "Kubefile:2: ARG names can not be blank"],
    [
      'FROM scratch\nENV a="open',
      /^Kubefile:2: ENV: unexpected end of statement while looking for matching double-quote/,
    ],
    ["FROM scratch\n\nWORKDIR ${x", "Kubefile:3: WORKDIR: syntax error: missing '}'"],
    ["FROM scratch\nWORKDIR", "Kubefile:2: WORKDIR requires exactly one argument"],
    [
      "FROM scratch\nSHELL /bin/sh -c",
      "Kubefile:2: SHELL requires the arguments to be in JSON form",
    ],
    [
      'FROM scratch\nCMD ["a", 1]',
      /^Kubefile:2: when using JSON array syntax, arrays must be comprised of strings only/,
    ],
    ["FROM scratch\nCMD --help", "Kubefile:2: unknown flag: --help"],
    ["FROM scratch\nEXPOSE 80/http", /^Kubefile:2: invalid protocol in port "80\/http"/],
    ["FROM scratch\nEXPOSE 90-80", /^Kubefile:2: invalid port range/],
    [
      "FROM scratch\nHEALTHCHECK --interval=5x CMD true",
      "Kubefile:2: invalid duration --interval=5x",
    ],
    [
      "FROM scratch\nHEALTHCHECK --retries=-1 CMD true",
      "Kubefile:2: --retries cannot be negative (-1)",
    ],
    [
      "FROM scratch\nHEALTHCHECK --timeout=1us CMD true",
      "Kubefile:2: HEALTHCHECK --timeout cannot be less than 1ms",
    ],
    [
      "FROM scratch\nHEALTHCHECK WHAT x",
      'Kubefile:2: Unknown type "WHAT" in HEALTHCHECK (try CMD)',
    ],
    ["FROM scratch\nHEALTHCHECK CMD", "Kubefile:2: Missing command after HEALTHCHECK CMD"],
    [
      "FROM scratch\nONBUILD ONBUILD COPY a b",
      "Kubefile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
    ],
    ["FROM scratch\nONBUILD FROM x", "Kubefile:2: FROM isn't allowed as an ONBUILD trigger"],
    ['FROM scratch\nVOLUME [""]', "Kubefile:2: VOLUME specified can not be an empty string"],
    ["# escape=x\nFROM scratch", /^Kubefile:1: invalid escape token 'x'/],
    [
      "# escape=`\n# escape=`\nFROM scratch",
      "Kubefile:2: only one escape parser directive can be used",
    ],
  ];
  for (const [text, message, code] of cases) assertFails(text, message, code ?? "invalid_input");
});

Deno.test("parse: substitutions past MAX_TOTAL_EXPANSION in all fail naming file:line", () => {
  // Each word stays under the per-word bound; together they pass the parse's.
  const value = "x".repeat(1_000_000);
  const labels = Math.ceil(MAX_TOTAL_EXPANSION / value.length) + 1;
  const text = "FROM scratch\nARG A\n" + "LABEL a=$A\n".repeat(labels);
  assertFails(
    text,
    /^Kubefile:\d+: LABEL: substitutions produce more than 67108864 characters in all$/,
    "invalid_input",
    { buildArgs: { A: value } },
  );
});

Deno.test("parse: ENV doubling a value stops at the per-word bound", () => {
  const text = "FROM scratch\nENV A=xxxxxxxxxxxxxxxx\n" + "ENV A=$A$A\n".repeat(40);
  assertFails(text, /^Kubefile:\d+: ENV: substitution result is longer than 1048576 characters$/);
});

Deno.test("parse: a directive line with a long run of blanks is read in linear time", () => {
  const blanks = " ".repeat(1_000_000);
  assert.equal(parse(`# check=a${blanks}b\nFROM scratch\n`).stages.length, 1);
  assertFails(`# escape=${blanks}x\nFROM scratch\n`, /invalid escape token/);
  // As Docker's expression: a value of blanks only is the last blank.
  assertFails(
    "# escape=  \nFROM scratch\n",
    "Kubefile:1: invalid escape token ' ' does not match ` or \\",
  );
});

Deno.test("parse: pattern substitutions share one step bound across the file", () => {
  // Each line's `#` pattern takes about 2M steps, under MAX_PATTERN_STEPS; three do not fit.
  const line = "LABEL a=${L#*" + "?".repeat(500) + "y}\n";
  const options = { buildArgs: { L: "x".repeat(4000) } };
  assert.equal(parse("FROM scratch\nARG L\n" + line, options).stages.length, 1);
  assertFails(
    "FROM scratch\nARG L\n" + line.repeat(3),
    `Kubefile:5: LABEL: pattern substitutions take more than ${MAX_PATTERN_STEPS} steps; use ` +
      "shorter patterns or values",
    "invalid_input",
    options,
  );
});
