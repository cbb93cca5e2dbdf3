// `npm run reliability`: runs the long fuzz on every runtime and writes its results into the fuzz
// section of docs/reliability.md (test/lib/report.ts; other sections are left alone). Failing
// cases are saved under test/fuzz/regressions/ like `npm run fuzz` does.
//
//   node test/fuzz/report.ts [--seconds 60] [--runtime all] [--seed N]

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { writeSection } from "../lib/report.ts";
import { ROOT, runtimes } from "../lib/workers.ts";
import { REGRESSIONS, saveRegression } from "./case.ts";
import { PATTERNS, STYLES } from "./generate.ts";
import { fuzzRuntime, HEAP_CAP_MIB, RSS_BOUND_MIB, type Stats, WORKER_ARGS } from "./harness.ts";
import { byteMutators, recordMutators } from "./mutate.ts";

const { values: o } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    runtime: { type: "string", default: "all" },
    seed: { type: "string" },
  },
});
const seconds = Number(o.seconds);
const seed = o.seed ? Number(o.seed) : Math.floor(Math.random() * 2 ** 32);
const chosen = runtimes().filter((r) => o.runtime === "all" || o.runtime!.split(",").includes(r.name));

const all: Stats[] = [];
for (const rt of chosen) {
  console.log(`fuzzing ${rt.name} for ${seconds} s (seed ${seed})`);
  const stats = await fuzzRuntime(rt, {
    seconds, seed,
    onFailure: (f) => console.log(`  FAIL case ${f.seed}: ${f.errors.join("; ")} (saved ${path.relative(ROOT, saveRegression(f.case, f.runtime, f.errors))})`),
  });
  console.log(`  ${stats.cases} cases, ${stats.failures.length} failures`);
  all.push(stats);
}

const mib = (n: number) => (n / 2 ** 20).toFixed(1);
const git = (...args: string[]) => {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
};
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
const saved = fs.existsSync(REGRESSIONS) ? fs.readdirSync(REGRESSIONS).filter((f) => f.endsWith(".json")) : [];

const rows = all.map((s) => {
  const growth = s.peakRss - s.baselineRss;
  return `| ${s.runtime} | ${s.version} | ${s.cases} | ${s.valid} | ${(s.cases / s.seconds).toFixed(0)} | ${mib(s.baselineRss)} | ` +
    `${mib(s.peakRss)} | ${mib(growth)} ${growth < RSS_BOUND_MIB * 2 ** 20 ? "✓" : "✗"} | ${s.failures.length} |`;
});
const curves = all.map((s) => `- ${s.runtime}: ${s.rssSamples.map(([t, b]) => `${t} s ${mib(b)}`).join(", ")}`);

writeSection("fuzz", `
## Fuzzing

Written by \`npm run reliability\` (\`test/fuzz/report.ts\`) on ${new Date().toISOString().slice(0, 10)}: fetchcgi
${pkg.version} at commit \`${git("rev-parse", "--short", "HEAD")}\`, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? "?"}),
${os.type()} ${os.release()}. ${seconds} s per runtime, run seed ${seed}
(\`node test/fuzz/run.ts --seconds ${seconds} --seed ${seed}\` draws the same cases).

Each case opens a connection to a live worker (\`fetchcgi test/fixtures/app.js ${WORKER_ARGS.join(" ")}\`), sends
a request stream shaped like a real front's (${STYLES.join(", ")} record styles; ${PATTERNS.join(", ")}
patterns) after 0 to 6 mutations (records: ${Object.keys(recordMutators).join(", ")}; bytes:
${Object.keys(byteMutators).join(", ")}), in one write or cut into many, then holds the connection, half-closes it
or resets it, possibly mid-record. About one case in eight is left valid and must be answered in full. For every
case the worker must write only well-formed records (version 1, a type the application sends, id 0 exactly for
management records, at most 7 padding bytes), at most one END_REQUEST per BEGIN_REQUEST and nothing for an id
after its END_REQUEST, answer management records only when asked, log no internal error, and afterwards answer a
valid GET /hello on a fresh connection. RSS (VmRSS) is read after a warm-up and after every case; the bound is
baseline + ${RSS_BOUND_MIB} MiB. Node and Deno workers run with V8's old space capped at ${HEAP_CAP_MIB} MiB: uncapped, V8
grows its heap lazily toward about 2 GiB and RSS climbs for minutes with nothing leaked, while under the cap a
leak would end in an out-of-memory crash that the fuzzer reports.

| runtime | version | cases | valid cases | cases/s | RSS after warm-up (MiB) | peak RSS (MiB) | growth (MiB) | failures |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}

What the worker did with the cases (records it wrote, summed; HTTP status classes from the CGI head):
${all.map((s) => `- ${s.runtime}: ${Object.entries(s.outcomes).sort().map(([k, n]) => `${k} ${n}`).join(", ")}`).join("\n")}

RSS over the run (seconds: MiB):
${curves.join("\n")}

${saved.length} saved regression case(s) in \`test/fuzz/regressions/\`, replayed on every runtime by
\`test/fuzz.test.ts\` (which also fuzzes each runtime for \`FUZZ_SECONDS\`, default 5, in \`npm test\`).
`);
console.log("wrote the fuzz section of docs/reliability.md");
process.exitCode = all.some((s) => s.failures.length) ? 1 : 0;
