// The soak (long, not in CI): per runtime, a worker on a Unix socket behind nginx
// (examples/nginx.conf as shipped), driven by wrk for --requests requests of /hello; the worker's
// RSS and open descriptors are read with nginx stopped (so no pooled connection is counted)
// after a warm-up and again at the end, and RSS every second under load. Then 1 GiB up and 1 GiB
// down over raw FastCGI, with the worker's RSS sampled. The results go into docs/reliability.md
// between the soak markers; the exit code is 1 if any runtime broke a rule (errors, non-2xx, RSS
// growth >= 10 % under load or after the churn, a leaked descriptor, a grown JS heap, a transfer
// peaking more than 32 MiB above its warm-up peak, a first transfer growing RSS from idle by 3/4 of
// its bytes).
//
//   npm run soak -- [--requests 1000000] [--runtimes node24,bun] [--connections 16] [--bytes 1073741824] [--no-doc]

import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { nginxUser, startNginx } from "../lib/nginx.ts";
import { fdCount, MiB, rss, rssPeak, transferGrowth, transferSlack } from "../lib/proc.ts";
import { fetchRaw } from "../lib/fcgi.ts";
import { measuredCommit, writeSection } from "../lib/report.ts";
import { download, upload } from "../lib/transfer.ts";
import { ROOT, type Runtime, runtimes, startWorker, tmpDir, type WorkerProc } from "../lib/workers.ts";

const APP = path.join(ROOT, "test/fixtures/faults.js");
const CONF = path.join(ROOT, "examples/nginx.conf");
const LUA = path.join(import.meta.dirname, "count.lua");

const { values: opt } = parseArgs({
  options: {
    requests: { type: "string", default: "1000000" },
    runtimes: { type: "string" },
    connections: { type: "string", default: "16" },
    bytes: { type: "string", default: String(1024 * MiB) },
    "no-doc": { type: "boolean", default: false },
  },
});
const REQUESTS = Number(opt.requests);
const CONNS = Number(opt.connections);
const BYTES = Number(opt.bytes);
const THREADS = 2;
// V8 grows its heap for a while under steady load: warm up long enough for that to settle.
const WARMUP = Math.min(200000, Math.ceil(REQUESTS / 5));
const CHURN = Math.ceil(REQUESTS / 10);

interface WrkResult {
  requests: number;
  non2xx: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
}

interface Result {
  rt: string;
  version: string;
  wrk: WrkResult;
  churn: WrkResult;
  /** RSS at 25, 50, 75 and 100 % of the kept-alive run. */
  quarters: number[];
  heapWarm: number;
  heapEnd: number;
  rssWarm: number;
  rssEnd: number;
  fdWarm: number;
  fdEnd: number;
  up: Transfer;
  down: Transfer;
  failures: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (n: number) => (n / MiB).toFixed(1);

/** wrk until `total` responses (split over the threads), against `url`. */
function wrk(url: string, total: number): Promise<WrkResult> {
  const perThread = Math.ceil(total / THREADS);
  return new Promise((resolve, reject) => {
    const p = spawn("wrk", ["-t", String(THREADS), "-c", String(CONNS), "-d", "2h", "--latency", "-s", LUA, url], {
      env: { ...process.env, SOAK_PER_THREAD: String(perThread) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      // wrk would wait out -d after its threads stop; SIGINT makes it report now.
      if (out.split("SOAK-THREAD-DONE").length - 1 === THREADS) p.kill("SIGINT");
    });
    p.on("error", reject);
    p.on("exit", (code) => {
      const line = /^SOAK (.+)$/m.exec(out);
      if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}:\n${out}`));
      resolve(JSON.parse(line[1]));
    });
  });
}

/** RSS before two equal transfers and the peak of each: the first warms the worker up, the second is measured. */
interface Transfer {
  before: number;
  warm: number;
  peak: number;
  mibps: number;
}

async function transfer(pid: number, move: () => Promise<void>): Promise<Transfer> {
  const once = async () => {
    const w = rssPeak(pid);
    await move();
    return w.stop();
  };
  const before = rss(pid);
  const warm = await once();
  const t0 = performance.now();
  const peak = await once();
  return { before, warm, peak, mibps: BYTES / MiB / ((performance.now() - t0) / 1000) };
}

/** `rt` with the runtime's own collector exposed to the app (for /mem); Bun has Bun.gc anyway. */
function withGc(rt: Runtime): Runtime {
  if (rt.name.startsWith("node")) return { ...rt, cli: (a) => ["--expose-gc", ...rt.cli(a)] };
  if (rt.name === "deno") {
    return {
      ...rt,
      cli: (a) => {
        const [run, ...rest] = rt.cli(a);
        return [run, "--v8-flags=--expose-gc", ...rest];
      },
    };
  }
  return rt;
}

/** Heap in use after a full collection, from the app's /mem. */
async function heapUsed(addr: string): Promise<number> {
  const m = JSON.parse((await fetchRaw(addr, "GET", "/mem")).text);
  if (!m.collected) throw new Error("the app could not collect garbage: no gc exposed");
  return m.heapUsed;
}

/** RSS every second until stop(). */
function sampleRss(pid: number): { stop(): number[] } {
  const samples = [rss(pid)];
  const t = setInterval(() => samples.push(rss(pid)), 1000);
  return {
    stop() {
      clearInterval(t);
      samples.push(rss(pid));
      return samples;
    },
  };
}

async function soak(rt: Runtime): Promise<Result> {
  const dir = tmpDir("fetchcgi-soak-");
  const socket = path.join(dir, "app.sock");
  let worker: WorkerProc | undefined;
  const nginxOpts = {
    template: CONF,
    prefix: path.join(dir, "nginx"),
    vars: { __USER__: nginxUser(), __SOCKET__: socket },
    portVars: ["__PORT__", "__STREAM_PORT__", "__PLAIN_PORT__"],
  };
  try {
    worker = await startWorker(withGc(rt), [APP, "--listen", `unix:${socket}`]);
    const addr = `unix:${socket}`;
    const pid = worker.proc.pid!;
    const version = execFileSync(rt.bin, ["--version"], { encoding: "utf8" }).trim().split("\n")[0].replace(
      /^deno (\S+).*/,
      "$1",
    );
    const failures: string[] = [];

    let nginx = await startNginx(nginxOpts);
    const url = (port = "__PORT__") => `http://127.0.0.1:${nginx.ports[port]}/hello`;
    log(rt, `warm-up: ${WARMUP} requests`);
    await wrk(url(), WARMUP);
    await nginx.stop();
    await sleep(1000);
    const rssWarm = rss(pid);
    const fdWarm = fdCount(pid);
    const heapWarm = await heapUsed(addr);

    nginx = await startNginx(nginxOpts);
    log(rt, `soak: ${REQUESTS} requests, ${CONNS} connections`);
    const sampler = sampleRss(pid);
    const result = await wrk(url(), REQUESTS);
    const samples = sampler.stop();
    // nginx's plain server opens a FastCGI connection per request: churn for the descriptor count.
    log(rt, `churn: ${CHURN} requests, one FastCGI connection each`);
    const churn = await wrk(url("__PLAIN_PORT__"), CHURN);
    await nginx.stop();
    await sleep(1000);
    const rssEnd = rss(pid);
    const fdEnd = fdCount(pid);
    const heapEnd = await heapUsed(addr);
    const quarters = [0.25, 0.5, 0.75, 1].map((q) => samples[Math.round(q * (samples.length - 1))]);
    log(
      rt,
      `${result.requests} requests in ${(result.duration_us / 1e6).toFixed(1)} s; RSS ${mb(rssWarm)} → ${
        mb(rssEnd)
      } MiB (by quarter of the run: ${quarters.map(mb).join(", ")}); heap after GC ${mb(heapWarm)} → ${
        mb(heapEnd)
      } MiB; fds ${fdWarm} → ${fdEnd}`,
    );

    log(rt, `${BYTES / MiB} MiB up, then down (twice each)`);
    const up = await transfer(pid, async () => {
      const r = await upload(addr, "/count", BYTES);
      if (!r.head.endsWith(`\r\n\r\n${BYTES}`)) {
        failures.push(`upload: worker counted ${JSON.stringify(r.head.slice(-20))}`);
      }
    });
    let n = 0;
    const down = await transfer(pid, async () => {
      const r = await download(addr, `/gen?tag=soak-${++n}&n=${BYTES}`);
      const body = r.stdout - (r.head.indexOf("\r\n\r\n") + 4);
      if (r.appStatus !== 0 || body !== BYTES) failures.push(`download: ${body} bytes, appStatus ${r.appStatus}`);
    });

    for (const [r, want] of [[result, REQUESTS], [churn, CHURN]] as const) {
      if (r.requests < want) failures.push(`only ${r.requests} of ${want} requests`);
      if (r.non2xx) failures.push(`${r.non2xx} non-2xx responses`);
      const errors = r.connect + r.read + r.write + r.timeout;
      if (errors) failures.push(`${errors} socket errors`);
    }
    // Drift is growth between samples taken in the same state: under the same load from the first
    // to the last quarter of the kept-alive run, then from there to idle after the churn. The idle
    // RSS after the warm-up is not one of them: V8 sizes its young generation to the load (Node
    // 24: ~80 MiB more under load than idle) and gives it back on its own schedule. Growth is what
    // a leak looks like; RSS that shrinks is memory the runtime gave back.
    const drift = loadDrift(quarters);
    if (drift >= 0.1) failures.push(`RSS drift under load ${(drift * 100).toFixed(1)} %`);
    const churnDrift = (rssEnd - quarters[3]) / quarters[3];
    if (churnDrift >= 0.1) {
      failures.push(`RSS after the churn ${(churnDrift * 100).toFixed(1)} % above the end of the run`);
    }
    if (heapEnd - heapWarm >= 0.1 * heapWarm + MiB) {
      failures.push(`heap after GC grew ${mb(heapWarm)} → ${mb(heapEnd)} MiB`);
    }
    if (fdEnd > fdWarm) failures.push(`${fdEnd - fdWarm} descriptors leaked`);
    const slack = transferSlack(rt.name);
    if (up.peak - up.warm >= slack) failures.push(`upload peak ${mb(up.peak - up.warm)} MiB above warm-up`);
    if (down.peak - down.warm >= slack) failures.push(`download peak ${mb(down.peak - down.warm)} MiB above warm-up`);
    // A worker that keeps every piece until its request ends peaks as high in the warm-up as in
    // the measured transfer: it shows as growth from idle by all the bytes (test/bounds.test.ts).
    const growth = transferGrowth(BYTES);
    if (up.warm - up.before >= growth) failures.push(`upload grew RSS ${mb(up.warm - up.before)} MiB from idle`);
    if (down.warm - down.before >= growth) {
      failures.push(`download grew RSS ${mb(down.warm - down.before)} MiB from idle`);
    }
    if (worker.proc.exitCode !== null) failures.push(`worker exited ${worker.proc.exitCode}`);
    return {
      rt: rt.name,
      version,
      wrk: result,
      churn,
      quarters,
      heapWarm,
      heapEnd,
      rssWarm,
      rssEnd,
      fdWarm,
      fdEnd,
      up,
      down,
      failures,
    };
  } finally {
    await worker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function log(rt: Runtime, message: string): void {
  console.error(`soak ${rt.name}: ${message}`);
}

/** RSS growth from the first to the last quarter of the kept-alive run. */
function loadDrift(quarters: number[]): number {
  return (quarters[3] - quarters[0]) / quarters[0];
}

function section(results: Result[], started: Date, minutes: number, commit: string): string {
  const rows = results.map((r) => {
    const w = r.wrk;
    const c = r.churn;
    const errors = w.connect + w.read + w.write + w.timeout + c.connect + c.read + c.write + c.timeout;
    const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;
    return `| ${r.rt} (${r.version}) | ${w.requests} + ${c.requests} | ${
      Math.round(w.requests / (w.duration_us / 1e6))
    } | ${(w.p99_us / 1000).toFixed(1)} | ${w.non2xx + c.non2xx} | ${errors} | ${r.quarters.map(mb).join(", ")} (${
      pct(loadDrift(r.quarters))
    }) | ${mb(r.rssEnd)} (${pct((r.rssEnd - r.quarters[3]) / r.quarters[3])}) | ${mb(r.rssWarm)} | ${
      mb(r.heapWarm)
    } → ${mb(r.heapEnd)} | ${r.fdWarm} → ${r.fdEnd} | ${mb(r.up.before)} / ${mb(r.up.warm)} / ${mb(r.up.peak)} | ${
      mb(r.down.before)
    } / ${mb(r.down.warm)} / ${mb(r.down.peak)} | ${r.failures.length ? r.failures.join("; ") : "pass"} |`;
  });
  return [
    "## Soak",
    "",
    `Run ${started.toISOString().slice(0, 16).replace("T", " ")} UTC, ${
      minutes.toFixed(0)
    } min, on commit \`${commit}\`, with \`npm run soak -- --requests ${REQUESTS}\`` +
    ` (${REQUESTS === 1e6 ? "the full count" : `a reduced count: the default is 1000000`}),` +
    ` on ${os.cpus().length} CPUs (${
      os.cpus()[0]?.model.trim()
    }) shared with other jobs, so throughput is indicative only.`,
    "",
    `Per runtime: one worker (test/fixtures/faults.js) on a Unix socket behind nginx (examples/nginx.conf as shipped,`,
    `keep-alive FastCGI connections), \`wrk -t ${THREADS} -c ${CONNS}\` requesting /hello until ${REQUESTS} responses after a`,
    `${WARMUP}-request warm-up, then ${CHURN} more through nginx's plain server, which opens a FastCGI connection per`,
    `request (connection churn for the descriptor count). RSS (VmRSS) is sampled every second during the kept-alive run, and read`,
    "with nginx stopped after the warm-up and at the end, as are the open descriptors (/proc/PID/fd). The JS heap in use after a full collection",
    "(the app's /mem; Node and Deno run with --expose-gc for it) tells a leak of JS objects apart from a heap or allocator that grew.",
    `Then ${BYTES / MiB} MiB uploaded to /count and ${BYTES / MiB} MiB streamed from /gen in 64 KiB chunks over`,
    "raw FastCGI, twice each: the RSS before them and the peak RSS of the first (warm-up) and second run are shown.",
    "",
    "Rules: all requests answered 2xx, no socket errors, RSS drift under 10 %: growth from the first to the last quarter of the",
    "kept-alive run (the same load), and from there to idle after the churn (RSS that shrinks is memory given back, not a leak);",
    "the idle RSS after the warm-up is shown but not compared, because V8 sizes its young generation to the load (on Node 24",
    "about 80 MiB more under load than idle) and gives it back on its own schedule. No descriptor more at the end, no growth of",
    "the JS heap after a full collection,",
    "a measured transfer peaking less than 32 MiB above its warm-up (96 MiB on Node 24 and Deno, whose",
    "external-memory GC pacing overshoots a warm peak by up to ~80 MiB without keeping anything; see transferSlack()",
    "in test/lib/proc.ts), and a warm-up transfer growing RSS from idle by less than 3/4 of its bytes (a worker keeping",
    "every piece until the request ends would peak as high in both transfers).",
    "",
    "| runtime | requests (kept-alive + churn) | req/s kept-alive | p99 ms kept-alive | non-2xx | socket errors | RSS MiB at 25/50/75/100 % of the kept-alive run (drift) | RSS MiB idle after the churn (vs 100 %) | RSS MiB idle after the warm-up | JS heap MiB after full GC, warm → end | fds warm → end | upload RSS MiB before / warm-up peak / measured peak | download RSS MiB before / warm-up peak / measured peak | result |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

const wanted = opt.runtimes?.split(",");
const list = runtimes().filter((r) => !wanted || wanted.includes(r.name));
const started = new Date();
const commit = measuredCommit(); // the code measured is what is checked out now, at the start
const results: Result[] = [];
for (const rt of list) {
  const r = await soak(rt);
  results.push(r);
  log(rt, r.failures.length ? `FAIL: ${r.failures.join("; ")}` : "pass");
}
const text = section(results, started, (Date.now() - started.getTime()) / 60000, commit);
if (!opt["no-doc"]) writeSection("soak", text);
console.log(text);
process.exitCode = results.some((r) => r.failures.length) ? 1 : 0;
