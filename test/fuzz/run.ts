// The long fuzz run (`npm run fuzz`): fuzzes each runtime's worker for --seconds, prints the seed,
// the counts and the RSS, saves every failing case under test/fuzz/regressions/ (replayed by
// test/fuzz.test.ts) and prints how to replay it.
//
//   node test/fuzz/run.ts --seconds 120 --runtime all [--seed N] [--concurrency 8] [--json FILE] [--heap uncapped|MiB]
//   (FUZZ_SEED=N works as --seed N; --heap runs Node and Deno workers uncapped or with an old space of MiB)
//   node test/fuzz/run.ts --runtime node24 --replay-seed 123456   one generated case, verbosely
//   node test/fuzz/run.ts --runtime bun --replay test/fuzz/regressions/FILE.json

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { readRecords } from "../lib/wire.ts";
import { runtimes } from "../lib/workers.ts";
import { type Case, fromJson, makeCase, saveRegression } from "./case.ts";
import { check } from "./check.ts";
import { alive, fuzzRuntime, RSS_BOUND_MIB, runCase, startFuzzWorker, type Stats, V8_HEAP_FLAGS } from "./harness.ts";

const { values: o } = parseArgs({
  options: {
    seconds: { type: "string", default: "120" },
    runtime: { type: "string", default: "all" },
    seed: { type: "string" },
    concurrency: { type: "string", default: "8" },
    "replay-seed": { type: "string" },
    replay: { type: "string" },
    json: { type: "string" },
    "no-save": { type: "boolean", default: false },
    heap: { type: "string", default: "capped" },
  },
});

const chosen = runtimes().filter((r) => o.runtime === "all" || o.runtime!.split(",").includes(r.name));
if (!chosen.length) throw new Error(`no runtime ${o.runtime}; have ${runtimes().map((r) => r.name).join(", ")}`);

/** The workers' V8 heap flags: capped as harness.ts says (the default), uncapped, or an old space of N MiB. */
function heapFlags(heap: string): string[] {
  if (heap === "capped") return V8_HEAP_FLAGS;
  if (heap === "uncapped") return [];
  if (/^\d+$/.test(heap)) return [`--max-old-space-size=${heap}`];
  throw new Error(`--heap must be capped, uncapped or a number of MiB, not ${heap}`);
}

function describe(c: Case): string {
  return `${c.pattern} [${
    c.mutations.join(", ") || "valid"
  }] ${c.bytes.length} bytes, ${c.writes.length} writes, close ${c.close} after ${c.sendUpTo}`;
}

/** One case on a fresh worker, with what came back shown record by record. */
async function replayOne(c: Case): Promise<boolean> {
  let ok = true;
  for (const rt of chosen) {
    const w = await startFuzzWorker(rt, heapFlags(o.heap!));
    const got = await runCase(w.address, c);
    const errors = check(c, got);
    const down = w.proc.exitCode !== null ? `the worker exited (${w.proc.exitCode})` : await alive(w.address);
    if (down) errors.push(down);
    const { records } = readRecords(got.bytes);
    console.log(`${rt.name}: ${describe(c)}`);
    console.log(
      `  got ${records.map((r) => `${r.type}/${r.id}/${r.content.length}`).join(" ")}${
        got.closedByWorker ? " [closed]" : ""
      }`,
    );
    for (const e of errors) console.log(`  FAIL ${e}`);
    if (errors.length) console.log(w.log().split("\n").slice(-15).map((l) => `  log: ${l}`).join("\n"));
    ok &&= errors.length === 0;
    await w.stop();
  }
  return ok;
}

if (o["replay-seed"] || o.replay) {
  const c = o.replay ? fromJson(fs.readFileSync(o.replay, "utf8")) : makeCase(Number(o["replay-seed"]));
  process.exitCode = (await replayOne(c)) ? 0 : 1;
} else {
  const given = o.seed ?? process.env.FUZZ_SEED;
  const seed = given ? Number(given) : Math.floor(Math.random() * 2 ** 32);
  const heap = o.heap === "capped" ? "" : `, heap ${o.heap}`;
  console.log(
    `fuzz: seed ${seed} (replay the run with --seed ${seed} or FUZZ_SEED=${seed}), ${o.seconds} s per runtime${heap}`,
  );
  const all: Stats[] = [];
  for (const rt of chosen) {
    const stats = await fuzzRuntime(rt, {
      seconds: Number(o.seconds),
      seed,
      concurrency: Number(o.concurrency),
      heapFlags: heapFlags(o.heap!),
      onFailure(f) {
        console.log(`${rt.name}: FAIL case ${f.seed}: ${describe(f.case)}`);
        for (const e of f.errors) console.log(`  ${e}`);
        const file = o["no-save"] ? "" : saveRegression(f.case, f.runtime, f.errors);
        console.log(
          `  replay: node test/fuzz/run.ts --runtime ${rt.name} --replay-seed ${f.seed}${
            file ? ` (saved ${path.relative(process.cwd(), file)})` : ""
          }`,
        );
      },
    });
    all.push(stats);
    const mib = (n: number) => (n / 2 ** 20).toFixed(1);
    console.log(
      `${rt.name} ${stats.version}: ${stats.cases} cases (${stats.valid} valid) in ${stats.seconds.toFixed(1)} s, ` +
        `${(stats.cases / stats.seconds).toFixed(0)} cases/s, RSS ${mib(stats.baselineRss)} -> peak ${
          mib(stats.peakRss)
        } MiB, ` +
        `${stats.failures.length} failures`,
    );
    console.log(`  outcomes: ${Object.entries(stats.outcomes).sort().map(([k, n]) => `${k} ${n}`).join(", ")}`);
    console.log(`  RSS over time (s: MiB): ${stats.rssSamples.map(([t, b]) => `${t}: ${mib(b)}`).join(", ")}`);
  }
  if (o.json) {
    fs.writeFileSync(
      o.json,
      JSON.stringify(
        {
          seed,
          date: new Date().toISOString(),
          stats: all.map((s) => ({ ...s, failures: s.failures.map((f) => ({ seed: f.seed, errors: f.errors })) })),
        },
        null,
        2,
      ),
    );
  }
  const over = all.filter((s) => s.peakRss - s.baselineRss >= RSS_BOUND_MIB * 2 ** 20);
  for (const s of over) console.log(`${s.runtime}: FAIL RSS grew by more than ${RSS_BOUND_MIB} MiB`);
  process.exitCode = all.some((s) => s.failures.length) || over.length ? 1 : 0;
}
