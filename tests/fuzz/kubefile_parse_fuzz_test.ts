/**
 * Kubefiles come from someone's repository: whatever text they hold, lexing, parsing and the
 * `ARG`/`ENV` substitution fail only as a `FerryError`, within a bounded time.
 *
 * @module
 */
import { compileIgnore, parseInstructions } from "../../src/kubefile/mod.ts";
import { expandWord, expandWords, SubstitutionError } from "../../src/kubefile/expand.ts";
import { isFerryError } from "../../src/errors.ts";
import { byteMutator, fuzz } from "../support/fuzz.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const KUBEFILE = `# syntax=docker/dockerfile:1
# escape=\\
ARG BASE=labring/kubernetes:v1.27.7
ARG VERSION
FROM \${BASE} AS base
ARG VERSION=1.2.3
ENV NAME="app \${VERSION}" \\
    PATH=/usr/local/bin:\$PATH
LABEL version="\${VERSION:-dev}" sealos.io.type="application"
COPY --chmod=0644 charts charts
COPY ["registry", "registry"]
ADD --chown=1000:1000 files/\${NAME%% *}.tar /opt/
WORKDIR /opt/\${VERSION/./-}
USER \${UID:-1000}
EXPOSE 80/tcp \${PORTS:-443}
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s CMD ["check"]
SHELL ["/bin/bash", "-c"]
ONBUILD COPY . /app
CMD ["sealos", "run", "\${NAME}"]

FROM scratch
COPY --from=base /opt /opt
ENTRYPOINT cp -r charts /root
`;

const DOCKERFILE = `# escape=\`
FROM alpine:3.19
ENV A=\${A:?missing} B=\${B:+x} C=\${C#a*} D=\${D##*/} E=\${E//a/b}
ARG X=\\\`y
COPY a b \`
  c/
MAINTAINER someone
`;

const DICTIONARY = [
  "FROM ",
  "ARG ",
  "ENV ",
  "COPY ",
  "ADD ",
  "LABEL ",
  "WORKDIR ",
  "USER ",
  "EXPOSE ",
  "VOLUME ",
  "ONBUILD ",
  "HEALTHCHECK ",
  "SHELL ",
  "CMD ",
  "RUN ",
  "--from=",
  "--chmod=",
  "--chown=",
  "--exclude=",
  "--interval=",
  "--platform=",
  " AS ",
  "${",
  "}",
  "$",
  ":-",
  ":+",
  ":?",
  "##",
  "%%",
  "//",
  "/",
  "\\",
  "`",
  "\\\n",
  "'",
  '"',
  "<<EOF\n",
  "# escape=`\n",
  "# syntax=x\n",
  "*",
  "?",
  "=",
  "[",
  "]",
  "\n",
  "\r\n",
  "\uFEFF",
  "\u00e9",
  "\ud83d\ude00",
];

const mutate = byteMutator({ dictionary: DICTIONARY, maxLength: 64 * 1024 });

Deno.test("fuzz: parseInstructions fails only as FerryError", async () => {
  await fuzz({
    name: "parseInstructions",
    corpus: [encoder.encode(KUBEFILE), encoder.encode(DOCKERFILE)],
    mutate,
    runs: 2500,
    target: (bytes) =>
      parseInstructions({ name: "Kubefile", text: decoder.decode(bytes) }, {
        buildArgs: { VERSION: "9.9", PORTS: "8080 8443", A: "set" },
        targetPlatform: { os: "linux", architecture: "arm64" },
        buildPlatform: { os: "linux", architecture: "amd64" },
      }),
  });
});

const VARS: Record<string, string> = {
  A: "a.b.c/d",
  EMPTY: "",
  LONG: "x".repeat(4096),
  SPACED: "x y  z",
};

const WORDS = [
  "${A:-default}",
  "${A/./-}${A//./-}",
  "${LONG%%x*}${LONG#*x}",
  "'$A' \"${SPACED}\" \\$A",
  "${UNSET:?need it}",
  "${A:+alt}${EMPTY:-e}$A$1$@",
];

Deno.test("fuzz: expandWord and expandWords fail only as SubstitutionError", async () => {
  await fuzz({
    name: "expandWord",
    corpus: WORDS.map((w) => encoder.encode(w)),
    mutate,
    runs: 3000,
    accept: (err) => err instanceof SubstitutionError || isFerryError(err),
    target: (bytes) => {
      const word = decoder.decode(bytes);
      const lookup = (name: string) => VARS[name];
      expandWord(word, lookup);
      expandWords(word, lookup, "`");
    },
  });
});

const IGNORE = `# comment
*.md
!README.md
**/node_modules
build/**
/tmp/?.log
src/**/*_test.ts
[a-c]*.txt
\\*literal
`;

Deno.test("fuzz: compileIgnore fails only as FerryError and matches in bounded time", async () => {
  await fuzz({
    name: "compileIgnore",
    corpus: [encoder.encode(IGNORE)],
    mutate: byteMutator({
      dictionary: ["*", "**", "**/", "?", "[", "]", "^", "-", "\\", "!", "/", "\n"],
    }),
    runs: 2000,
    target: (bytes) => {
      const ignore = compileIgnore(decoder.decode(bytes).split("\n"));
      for (const path of ["README.md", "a/b/node_modules/x", "src/x/y_test.ts", "a".repeat(300)]) {
        ignore(path);
      }
    },
  });
});
