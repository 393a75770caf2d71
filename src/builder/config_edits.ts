/**
 * What the metadata instructions (ENV, LABEL, CMD, ENTRYPOINT, WORKDIR, USER, …) do to a stage's
 * image config, each with the `empty_layer` history entry buildah writes for it.
 *
 * @module
 */
import { cleanPath, type Instruction } from "../kubefile/mod.ts";
import { envToMap, mapToEnv } from "../env_list.ts";
import type { HistoryEntry } from "./config.ts";
import type { StageState } from "./stage_state.ts";

/** An instruction that changes the config only (a WORKDIR's directories are the builder's). */
export type ConfigInstruction = Exclude<Instruction, { kind: "copy" | "add" }>;

/** Appends a history entry `text`, made at `created` (RFC 3339), to the stage's config. */
export function addHistory(
  state: StageState,
  created: string,
  text: string,
  emptyLayer: boolean,
): void {
  const entry: HistoryEntry = { created, created_by: `/bin/sh -c #(nop) ${text}` };
  if (emptyLayer) entry.empty_layer = true;
  state.config.history.push(entry);
}

/** Applies a metadata instruction to the stage's config and records it in the history. */
export function editConfig(state: StageState, i: ConfigInstruction, created: string): void {
  const c = state.config.config;
  const history = (text: string) => addHistory(state, created, text, true);
  switch (i.kind) {
    case "arg":
      return;
    case "env": {
      const env = envToMap(c.Env);
      for (const { key, value } of i.env) env.set(key, value);
      c.Env = mapToEnv(env);
      return history(`ENV ${i.env.map((e) => `${e.key}=${e.value}`).join(" ")}`);
    }
    case "label": {
      c.Labels = { ...(c.Labels ?? {}) };
      for (const { key, value } of i.labels) c.Labels[key] = value;
      return history(`LABEL ${i.labels.map((l) => `${l.key}=${l.value}`).join(" ")}`);
    }
    case "cmd":
      c.Cmd = i.command;
      state.cmdSet = true;
      return history(`CMD ${JSON.stringify(i.command)}`);
    case "entrypoint":
      c.Entrypoint = i.command;
      // As Docker: an ENTRYPOINT drops the CMD inherited from the base.
      if (!state.cmdSet) delete c.Cmd;
      return history(`ENTRYPOINT ${JSON.stringify(i.command)}`);
    case "workdir": {
      const previous = c.WorkingDir || "/";
      c.WorkingDir = cleanPath(i.path.startsWith("/") ? i.path : `${previous}/${i.path}`);
      return history(`WORKDIR ${c.WorkingDir}`);
    }
    case "user":
      c.User = i.user;
      return history(`USER ${i.user}`);
    case "maintainer":
      state.config.author = i.maintainer;
      return history(`MAINTAINER ${i.maintainer}`);
    case "expose":
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
      for (const p of i.ports) c.ExposedPorts[p] = {};
      return history(`EXPOSE ${i.ports.join(" ")}`);
    case "volume":
      c.Volumes = { ...(c.Volumes ?? {}) };
      for (const v of i.volumes) c.Volumes[v] = {};
      return history(`VOLUME ${JSON.stringify(i.volumes)}`);
    case "stopsignal":
      c.StopSignal = i.signal;
      return history(`STOPSIGNAL ${i.signal}`);
    case "healthcheck": {
      const h: Record<string, unknown> = { Test: i.test };
      if (i.interval !== undefined) h.Interval = i.interval;
      if (i.timeout !== undefined) h.Timeout = i.timeout;
      if (i.startPeriod !== undefined) h.StartPeriod = i.startPeriod;
      if (i.startInterval !== undefined) h.StartInterval = i.startInterval;
      if (i.retries !== undefined) h.Retries = i.retries;
      c.Healthcheck = h;
      return history(`HEALTHCHECK ${JSON.stringify(i.test)}`);
    }
    case "shell":
      c.Shell = i.shell;
      return history(`SHELL ${JSON.stringify(i.shell)}`);
    case "onbuild":
      c.OnBuild = [...(c.OnBuild ?? []), i.trigger];
      return history(`ONBUILD ${i.trigger}`);
  }
}
