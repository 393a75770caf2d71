import assert from "node:assert/strict";
import { mergeRunConfigs } from "./merge_config.ts";

Deno.test("merge config: labels and env unioned (later wins, PATH dropped), commands concatenated", () => {
  const merged = mergeRunConfigs([
    {
      Labels: { "sealos.io.type": "rootfs", version: "v1.28", shared: "first" },
      Env: ["PATH=/usr/bin", "criData=/var/lib/containerd", "SHARED=1"],
      Entrypoint: ["kubeadm-init.sh"],
      Cmd: ["a"],
    },
    {
      Labels: { shared: "second", "apps.sealos.io/type": "application" },
      Env: ["SHARED=2", "$HOME_DIR=x$y"],
      Cmd: ["b", "c"],
      User: "ignored",
    },
  ]);
  assert.deepEqual(merged, {
    Env: ["$HOME_DIR=x$y", "SHARED=2", "criData=/var/lib/containerd"],
    Entrypoint: ["kubeadm-init.sh"],
    Cmd: ["a", "b", "c"],
    Labels: {
      "apps.sealos.io/type": "rootfs",
      "sealos.io.type": "rootfs",
      shared: "second",
      version: "v1.28",
    },
  });
});

Deno.test("merge config: nothing set gives nothing", () => {
  assert.deepEqual(mergeRunConfigs([{}, { Env: ["PATH=/bin"] }]), {});
});
