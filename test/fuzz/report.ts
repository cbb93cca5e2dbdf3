// `npm run reliability`: runs the long fuzz on every runtime and writes its results into the fuzz
// section of docs/reliability.md (test/lib/report.ts; other sections are left alone). Failing
// cases are saved under test/fuzz/regressions/ like `npm run fuzz` does. The raw results go to
// .tmp/fuzz-results.json, so the section can be written again without fuzzing again (--from).
//
//   node test/fuzz/report.ts [--seconds 60] [--runtime all] [--seed N]   (FUZZ_SEED=N works as --seed N)
//   node test/fuzz/report.ts --from .tmp/fuzz-results.json

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { measuredCommit, writeSection } from "../lib/report.ts";
import { ROOT, runtimes } from "../lib/workers.ts";
import { REGRESSIONS, saveRegression } from "./case.ts";
import { PATTERNS, STYLES } from "./generate.ts";
import { fuzzRuntime, RSS_BOUND_MIB, type Stats, V8_HEAP_FLAGS, WORKER_ARGS } from "./harness.ts";
import { byteMutators, recordMutators } from "./mutate.ts";

interface Results {
  date: string;
  commit: string;
  version: string;
  machine: string;
  seconds: number;
  seed: number;
  stats: (Omit<Stats, "failures"> & { failures: number })[];
}

const { values: o } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    runtime: { type: "string", default: "all" },
    seed: { type: "string" },
    from: { type: "string" },
  },
});

async function fuzzAll(): Promise<Results> {
  // The code measured is what is checked out now, at the start.
  const commit = measuredCommit();
  const seconds = Number(o.seconds);
  const given = o.seed ?? process.env.FUZZ_SEED;
  const seed = given ? Number(given) : Math.floor(Math.random() * 2 ** 32);
  const chosen = runtimes().filter((r) => o.runtime === "all" || o.runtime!.split(",").includes(r.name));
  const stats: Results["stats"] = [];
  for (const rt of chosen) {
    console.log(`fuzzing ${rt.name} for ${seconds} s (seed ${seed})`);
    const s = await fuzzRuntime(rt, {
      seconds,
      seed,
      onFailure: (f) =>
        console.log(
          `  FAIL case ${f.seed}: ${f.errors.join("; ")} (saved ${
            path.relative(ROOT, saveRegression(f.case, f.runtime, f.errors))
          })`,
        ),
    });
    console.log(`  ${s.cases} cases, ${s.failures.length} failures`);
    stats.push({ ...s, failures: s.failures.length });
  }
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().slice(0, 10),
    commit,
    version: JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version,
    machine: `${cpus.length} CPUs (${cpus[0]?.model.trim() ?? "?"}), ${os.type()} ${os.release()}`,
    seconds,
    seed,
    stats,
  };
}

const mib = (n: number) => (n / 2 ** 20).toFixed(1);

function render(r: Results): string {
  const saved = fs.existsSync(REGRESSIONS) ? fs.readdirSync(REGRESSIONS).filter((f) => f.endsWith(".json")) : [];
  const rows = r.stats.map((s) => {
    const growth = s.peakRss - s.baselineRss;
    return `| ${s.runtime} | ${s.version} | ${s.cases} | ${s.valid} | ${(s.cases / s.seconds).toFixed(0)} | ${
      mib(s.baselineRss)
    } | ` +
      `${mib(s.peakRss)} | ${mib(growth)} ${growth < RSS_BOUND_MIB * 2 ** 20 ? "✓" : "✗"} | ${s.failures} |`;
  });
  const list = (f: (s: Results["stats"][number]) => string) => r.stats.map((s) => `- ${s.runtime}: ${f(s)}`).join("\n");
  return `
## Fuzzing

Written by \`npm run reliability\` (\`test/fuzz/report.ts\`) on ${r.date}: fetchcgi ${r.version} at commit \`${r.commit}\`,
${r.machine}; ${r.seconds} s per runtime, run seed ${r.seed}. Rates depend on what else the machine runs.

| runtime | version | cases | valid cases | cases/s | RSS after warm-up (MiB) | peak RSS (MiB) | growth (MiB), bound ${RSS_BOUND_MIB} | failures |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}

**A case** opens a connection to a live worker (\`fetchcgi test/fixtures/app.js ${WORKER_ARGS.join(" ")}\`) and sends:
- a request stream shaped like a real front's: record styles ${STYLES.join(", ")} (params cut anywhere, G5);
  patterns ${PATTERNS.join(", ")} (multiplexed ids, id reuse with KEEP_CONN, ABORT_REQUEST, GET_VALUES, unknown
  management types); all three roles; bodies up to 200 KB; params at and past the limits;
- after 0 to 6 mutations. On records: ${Object.keys(recordMutators).join(", ")} (lengths and padding that lie,
  0xFFFF contents, 4-byte pair lengths near 2^31). On bytes: ${Object.keys(byteMutators).join(", ")};
- in one write or cut into many (down to single bytes), then it holds the connection, half-closes it or resets
  it, sometimes before the last record is complete.

About one case in eight is left valid and must be answered in full, each request with the status and body the app
gives it (\`test/fuzz/expect.ts\`: the exact text or bytes, JSON fields such as the whole \`env\` it saw, 431 past a
limit, FCGI_UNKNOWN_ROLE for a bad role), so that a request answered with another's params or bytes fails.
In a mutated case held open, a request whose records all came before the first changed byte may go unanswered (a
bad record after it may close the connection) but, if answered, must get that same answer unless a later record
aborts it: what follows a request never changes its answer. After a half-close (sometimes before the last record
was sent) the same holds for each request sent whole before the first changed or unsent byte that the worker
completed (END_REQUEST appStatus 0): the EOF reads as the web server leaving, so the worker may end what still runs
early instead.
**For every case** the worker must:
- write only well-formed records: version 1, a type the application sends, id 0 exactly for management records,
  at most 7 padding bytes, reserved byte 0, END_REQUEST and UNKNOWN_TYPE bodies of 8 bytes;
- send at most one END_REQUEST per BEGIN_REQUEST it received, and nothing for an id after its END_REQUEST (F31, G9);
- answer GET_VALUES and other management records only when sent them, never cut a record when it closes;
- log no internal error, stay up, and answer a valid GET /hello on a fresh connection right after.

**Memory**: RSS (VmRSS from /proc) is read after a warm-up and after every case; it must stay below the warm-up
value + ${RSS_BOUND_MIB} MiB. Node and Deno workers run with a capped V8 heap (\`${
    V8_HEAP_FLAGS.join(" ")
  }\`, a 60 MiB limit):
uncapped, V8 grows its heap lazily toward its default limit and RSS climbs for minutes with nothing leaked (Node 24,
measured by hand on 2026-11-21, not by this run: +159 MiB after 150 s; flat at +29 MiB under a 40 MiB old space;
\`node test/fuzz/run.ts --runtime node24 --seconds 150 --heap uncapped\`, then \`--heap 40\`, measure it again), while
under the cap a leak ends in an out-of-memory crash that the fuzzer reports. Bun has no such flag; its RSS stays flat.

RSS during the run (seconds: MiB):
${list((s) => s.rssSamples.map(([t, b]) => `${t} s ${mib(b)}`).join(", "))}

What the worker wrote back, summed over the cases (HTTP status classes from the CGI head):
${list((s) => Object.entries(s.outcomes).sort().map(([k, n]) => `${k} ${n}`).join(", "))}

${saved.length} saved regression case(s) in \`test/fuzz/regressions/\`. \`test/fuzz.test.ts\` (in \`npm test\`) replays
them on every runtime, then fuzzes each runtime for \`FUZZ_SECONDS\` (default 5). \`npm run fuzz\` is the long run
(120 s per runtime); \`node test/fuzz/run.ts --seconds ${r.seconds} --seed ${r.seed}\` draws this run's cases again, and
\`node test/fuzz/run.ts --runtime NAME --replay-seed CASE\` replays one case verbosely.
`;
}

const TMP = path.join(ROOT, ".tmp/fuzz-results.json");
const results: Results = o.from ? JSON.parse(fs.readFileSync(o.from, "utf8")) : await fuzzAll();
if (!o.from) {
  fs.mkdirSync(path.dirname(TMP), { recursive: true });
  fs.writeFileSync(TMP, JSON.stringify(results, null, 2));
}
writeSection("fuzz", render(results));
console.log(
  `wrote the fuzz section of docs/reliability.md${o.from ? "" : ` (raw results in ${path.relative(ROOT, TMP)})`}`,
);
process.exitCode = results.stats.some((s) => s.failures || s.peakRss - s.baselineRss >= RSS_BOUND_MIB * 2 ** 20)
  ? 1
  : 0;
