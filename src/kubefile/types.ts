/**
 * The parsed form of an instruction file: build stages holding typed instructions.
 *
 * Arguments are already substituted (`$VAR`) where the Dockerfile frontend substitutes them, so a
 * builder applies them as they are. Every instruction carries the file and line it came from.
 *
 * @module
 */
import type { Platform } from "../platform.ts";

/** Where an instruction was written. */
export interface SourceLocation {
  /** File name as shown in messages (`Kubefile`, `build/Sealfile`). */
  file: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

/** A key and its value (ENV, LABEL), in the order written. */
export interface KeyValue {
  key: string;
  value: string;
}

/** The base of a stage. */
export type StageBase =
  | { kind: "scratch" }
  | { kind: "image"; ref: string }
  | { kind: "stage"; index: number };

/** Where COPY --from takes its files. */
export type CopyFrom =
  | { kind: "stage"; index: number }
  | { kind: "image"; ref: string };

/** `ARG NAME[=default] ...`; `value` is the effective value (build arg, default or global), if any. */
export interface ArgInstruction extends SourceLocation {
  kind: "arg";
  args: { name: string; value?: string }[];
}

/** `ENV K=V ...` (or the legacy `ENV K V`). */
export interface EnvInstruction extends SourceLocation {
  kind: "env";
  env: KeyValue[];
}

/** `LABEL K=V ...`. */
export interface LabelInstruction extends SourceLocation {
  kind: "label";
  labels: KeyValue[];
}

/** Fields common to COPY and ADD. */
interface CopyLike extends SourceLocation {
  /** Source paths or patterns as written after substitution (relative to the context or stage). */
  sources: string[];
  /** Destination; ends in `/` when written so. Relative paths are relative to WORKDIR. */
  dest: string;
  /** `--chown=user[:group]` after substitution. */
  chown?: string;
  /** `--chmod=` as permission bits. */
  chmod?: number;
  /** `--link`: accepted; the layer ferry writes is the same either way. */
  link: boolean;
  /** `--exclude=` patterns (repeatable), in .dockerignore syntax. */
  exclude: string[];
}

/** `COPY [--from=…] src... dest`. */
export interface CopyInstruction extends CopyLike {
  kind: "copy";
  /** `--from=`: an earlier stage (by name or index) or an image. */
  from?: CopyFrom;
}

/** `ADD src... dest` (local archives are extracted; URLs are fetched by the builder). */
export interface AddInstruction extends CopyLike {
  kind: "add";
  /** `--checksum=` for URL sources. */
  checksum?: string;
  /** `--keep-git-dir` for git sources. */
  keepGitDir: boolean;
}

/** `CMD` or `ENTRYPOINT`. The shell form is already wrapped in the stage's SHELL. */
export interface CommandInstruction extends SourceLocation {
  kind: "cmd" | "entrypoint";
  /** Final argv for the image config; `[]` clears it. */
  command: string[];
  /** Whether the shell form was used (`CMD echo hi` → `["/bin/sh","-c","echo hi"]`). */
  shellForm: boolean;
}

/** `WORKDIR path` (relative paths are relative to the previous WORKDIR). */
export interface WorkdirInstruction extends SourceLocation {
  kind: "workdir";
  path: string;
}

/** `USER user[:group]`. */
export interface UserInstruction extends SourceLocation {
  kind: "user";
  user: string;
}

/** `MAINTAINER text` (sets the config author). */
export interface MaintainerInstruction extends SourceLocation {
  kind: "maintainer";
  maintainer: string;
}

/** `EXPOSE port[/proto]...`, normalised to `80/tcp` keys (ranges expanded). */
export interface ExposeInstruction extends SourceLocation {
  kind: "expose";
  ports: string[];
}

/** `VOLUME path...`. */
export interface VolumeInstruction extends SourceLocation {
  kind: "volume";
  volumes: string[];
}

/** `STOPSIGNAL signal`. */
export interface StopSignalInstruction extends SourceLocation {
  kind: "stopsignal";
  signal: string;
}

/** `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD …`; durations in nanoseconds as in image configs. */
export interface HealthcheckInstruction extends SourceLocation {
  kind: "healthcheck";
  /** `["NONE"]`, `["CMD", argv...]` or `["CMD-SHELL", command]`. */
  test: string[];
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

/** `SHELL ["executable", "params"...]`. */
export interface ShellInstruction extends SourceLocation {
  kind: "shell";
  shell: string[];
}

/** `ONBUILD INSTRUCTION …`, kept as text for the config's OnBuild list. */
export interface OnbuildInstruction extends SourceLocation {
  kind: "onbuild";
  trigger: string;
}

/** Any instruction inside a stage. */
export type Instruction =
  | ArgInstruction
  | EnvInstruction
  | LabelInstruction
  | CopyInstruction
  | AddInstruction
  | CommandInstruction
  | WorkdirInstruction
  | UserInstruction
  | MaintainerInstruction
  | ExposeInstruction
  | VolumeInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | ShellInstruction
  | OnbuildInstruction;

/** One build stage: a FROM line and the instructions up to the next FROM. */
export interface Stage extends SourceLocation {
  /** Position among the stages (0-based). */
  index: number;
  /** `AS name`, lower-cased. */
  name?: string;
  /** The base after substitution. */
  from: StageBase;
  /** `--platform=` after substitution. */
  platform?: Platform;
  instructions: Instruction[];
}

/** A global ARG (before the first FROM) with its effective value. */
export interface GlobalArg {
  name: string;
  value?: string;
}

/** All stages of the concatenated instruction files. The last stage is the image built. */
export interface ParsedInstructions {
  stages: Stage[];
  globalArgs: GlobalArg[];
  /** Build args given but declared by no ARG (Docker warns about these). */
  unusedBuildArgs: string[];
}
