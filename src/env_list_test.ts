import assert from "node:assert/strict";
import { envToMap, mapToEnv } from "./env_list.ts";

Deno.test("env lists: later entries win, values keep their '=', bare names get empty values", () => {
  const env = envToMap(["A=1", "B=x=y", "C", "A=3"]);
  assert.deepEqual([...env], [["A", "3"], ["B", "x=y"], ["C", ""]]);
  env.set("A", "2");
  assert.deepEqual(mapToEnv(env), ["A=2", "B=x=y", "C="]);
});
