// The short fuzz run, on every runtime: first every saved regression case (test/fuzz/regressions/),
// then random cases for FUZZ_SECONDS (default 5). Each case's output must keep the invariants of
// test/fuzz/check.ts, the worker must answer GET /hello after each case, and its RSS must stay
// within RSS_BOUND_MIB of what it was after warm-up. The run's seed is in the test's name;
// FUZZ_SEED replays a run. A failing case is saved under test/fuzz/regressions/ (RUNTIME-SEED.json),
// so that every later run replays it first; commit it with the fix. The long run is `npm run fuzz`.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { type Case, fromJson, saveRegression } from "./fuzz/case.ts";
import { type Failure, fuzzRuntime, RSS_BOUND_MIB } from "./fuzz/harness.ts";
import { runtimes } from "./lib/workers.ts";

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 5);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32);
const DIR = path.join(import.meta.dirname, "fuzz/regressions");

/** Saved cases; one with a "todo" field is a known core bug kept out of the green run. */
function regressions(): { file: string; c: Case; todo?: string }[] {
  if (!fs.existsSync(DIR)) return [];
  return fs.readdirSync(DIR).filter((f) => f.endsWith(".json")).sort().map((file) => {
    const text = fs.readFileSync(path.join(DIR, file), "utf8");
    return { file, c: fromJson(text), todo: JSON.parse(text).todo };
  });
}

const show = (f: Failure) =>
  `case ${f.seed} (${f.case.pattern} [${f.case.mutations.join(", ") || "valid"}]): ${f.errors.join("; ")}`;

for (const rt of runtimes()) {
  describe(`fuzz on ${rt.name}`, () => {
    const saved = regressions();
    test(`${saved.filter((r) => !r.todo).length} regression cases, then ${SECONDS} s of random cases (seed ${SEED})`, async (t) => {
      const kept: string[] = [];
      const stats = await fuzzRuntime(rt, {
        seconds: SECONDS,
        seed: SEED,
        replay: saved.filter((r) => !r.todo).map((r) => r.c),
        stopOnFailure: true,
        // A saved case that fails again is already kept; a new one is kept now.
        onFailure: (f) =>
          void (saved.some((r) => r.c.seed === f.seed) ||
            kept.push(path.relative(process.cwd(), saveRegression(f.case, f.runtime, f.errors)))),
      });
      const mib = (n: number) => (n / 2 ** 20).toFixed(1);
      t.diagnostic(
        `${rt.name}: ${stats.cases} cases (${stats.valid} valid) in ${stats.seconds.toFixed(1)} s, ` +
          `${(stats.cases / stats.seconds).toFixed(0)} cases/s, RSS ${mib(stats.baselineRss)} -> peak ${
            mib(stats.peakRss)
          } MiB; ` +
          `replay with FUZZ_SEED=${SEED}`,
      );
      assert.deepEqual(
        stats.failures.map(show),
        [],
        `saved: ${
          kept.join(", ") || "none (known cases)"
        }; replay one: node test/fuzz/run.ts --runtime ${rt.name} --replay FILE`,
      );
      assert.ok(stats.cases > saved.length, "random cases ran");
      assert.ok(
        stats.peakRss - stats.baselineRss < RSS_BOUND_MIB * 2 ** 20,
        `RSS grew by ${mib(stats.peakRss - stats.baselineRss)} MiB`,
      );
    });
    for (const r of saved.filter((r) => r.todo)) {
      test(`regression ${r.file}`, { todo: r.todo }, async () => {
        const stats = await fuzzRuntime(rt, { seconds: 0, seed: SEED, replay: [r.c], concurrency: 1 });
        assert.deepEqual(stats.failures.map(show), []);
      });
    }
  });
}
