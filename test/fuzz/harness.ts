// Runs fuzz cases against a live worker process: one fresh connection per case, several cases in
// flight at once (most of a case is waiting for the worker to go quiet), then after each case a
// valid GET /hello on a fresh connection, and the worker's RSS sampled from /proc throughout.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import { fetchRaw, T } from "../lib/fcgi.ts";
import { readRecords } from "../lib/wire.ts";
import { APP, type Runtime, startWorker, type WorkerProc } from "../lib/workers.ts";
import { type Case, makeCase } from "./case.ts";
import { check, type Received } from "./check.ts";
import { LIMITS } from "./expect.ts";

/** Worker flags: small limits so the generated params reach them; a short abort grace keeps cases quick. */
export const WORKER_ARGS: string[] = [
  "--abort-grace",
  "300",
  "--max-params-bytes",
  String(LIMITS.maxParamsBytes),
  "--max-params",
  String(LIMITS.maxParams),
  "--max-param-length",
  String(LIMITS.maxParamLength),
];
export const RSS_BOUND_MIB = 64;
/**
 * V8 heap flags for Node and Deno workers: old space 48 MiB and semi-spaces 4 MiB, a heap limit of
 * 60 MiB. Uncapped, V8 grows its heap lazily toward its default limit (up to 4 GiB), so RSS climbs
 * for minutes with nothing leaked (measured by hand on 2026-11-21: Node 24 +159 MiB after 150 s, flat
 * at +29 MiB under a 40 MiB old space; `node test/fuzz/run.ts --runtime node24 --seconds 150 --heap
 * uncapped`, then `--heap 40`, measure it again). Capped, a real leak ends in an out-of-memory
 * crash that the fuzzer sees, and RSS measures what the worker holds. Bun (JSC) has no such flag;
 * its RSS stays flat.
 */
export const V8_HEAP_FLAGS: string[] = ["--max-old-space-size=48", "--max-semi-space-size=4"];

/** `rt` with its heap capped by V8 `flags` (V8_HEAP_FLAGS; none: uncapped) where the runtime allows it. */
export function capped(rt: Runtime, flags: string[] = V8_HEAP_FLAGS): Runtime {
  if (!flags.length) return rt;
  if (rt.name.startsWith("node")) return { ...rt, cli: (a) => [...flags, ...rt.cli(a)] };
  if (rt.name === "deno") {
    return {
      ...rt,
      cli: (a) => {
        const [run, ...rest] = rt.cli(a);
        return [run, `--v8-flags=${flags.join(",")}`, ...rest];
      },
    };
  }
  return rt;
}
/** A case ends this long after the worker last wrote (or after sending), unless the worker closes first. */
const IDLE_MS = 200;
/** No case waits longer than this for the worker. */
const CASE_CAP_MS = 5000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function connectOpts(address: string): net.NetConnectOpts {
  if (address.startsWith("unix:")) return { path: address.slice(5) };
  const m = /^tcp:(?:\[(.+)\]|(.+)):(\d+)$/.exec(address)!;
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/** How many records of `types` are in the bytes received so far. */
function count(bytes: Buffer[], ...types: number[]): number {
  const b = Buffer.concat(bytes);
  let n = 0;
  for (let i = 0; i + 8 <= b.length; i += 8 + ((b[i + 4] << 8) | b[i + 5]) + b[i + 6]) {
    if (types.includes(b[i + 1])) n++;
  }
  return n;
}

/** Sends one case on a fresh connection and collects what the worker writes back. */
export async function runCase(address: string, c: Case): Promise<Received> {
  const socket = net.connect(connectOpts(address));
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let last = performance.now();
  let closedByWorker = false;
  let ours = false; // we closed the socket ourselves
  let wake: (() => void) | null = null;
  const poke = () => {
    wake?.();
    wake = null;
  };
  socket.on("data", (d: Buffer) => {
    chunks.push(d);
    last = performance.now();
    poke();
  });
  socket.on("end", () => {
    closedByWorker = true;
    poke();
  });
  socket.on("close", () => {
    closedByWorker ||= !ours;
    poke();
  });
  socket.on("error", () => {}); // a reset by the worker is an outcome, not a harness failure
  const waitFor = async (done: () => boolean, ms: number) => {
    const deadline = performance.now() + ms;
    while (!done() && performance.now() < deadline) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.min(50, deadline - performance.now()));
      });
    }
  };
  await new Promise<void>((resolve) => {
    socket.once("connect", resolve);
    socket.once("close", resolve);
  });

  let off = 0;
  let w = 0;
  let waited = 0;
  while (off < c.sendUpTo && !socket.destroyed) {
    if (waited < c.waits.length && off === c.waits[waited]) {
      const want = ++waited;
      await waitFor(() => closedByWorker || count(chunks, T.END) >= want, 1000);
      continue;
    }
    const nextWait = waited < c.waits.length ? c.waits[waited] : Infinity;
    const end = Math.min(off + (w < c.writes.length ? c.writes[w++] : Infinity), c.sendUpTo, nextWait);
    socket.write(c.bytes.subarray(off, end));
    off = end;
    if (c.pauseMs) await sleep(c.pauseMs);
    else await new Promise((r) => setImmediate(r));
  }
  last = performance.now();
  if (c.close === "reset") {
    ours = true;
    socket.resetAndDestroy();
    return { bytes: new Uint8Array(Buffer.concat(chunks)), closedByWorker: false };
  }
  if (c.close === "end") socket.end();
  // A valid stream is waited on until all its requests are answered: a busy machine is not a lost response.
  const valid = c.mutations.length === 0 && c.close === "hold" && c.sendUpTo === c.bytes.length;
  const answers = valid
    ? c.requests.length + readRecords(c.bytes).records.filter((r) => r.type === T.GET_VALUES).length
    : 0;
  const answered = () => count(chunks, T.END, T.GET_VALUES_RESULT) >= answers;
  await waitFor(() => closedByWorker || (performance.now() - last >= IDLE_MS && answered()), CASE_CAP_MS);
  ours = true;
  socket.destroy();
  return { bytes: new Uint8Array(Buffer.concat(chunks)), closedByWorker };
}

/** Resident memory of a process, in bytes (Linux). */
export function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** A valid GET /hello on a fresh connection must get 200 "hello". */
export async function alive(address: string): Promise<string | null> {
  try {
    const r = await Promise.race([
      fetchRaw(address, "GET", "/hello"),
      sleep(3000).then(() => Promise.reject(new Error("no answer in 3 s"))),
    ]);
    return r.status === 200 && r.text === "hello" && r.end.appStatus === 0
      ? null
      : `GET /hello got ${r.status} ${JSON.stringify(r.text)}`;
  } catch (err) {
    return `GET /hello failed: ${(err as Error).message}`;
  }
}

export interface Failure {
  runtime: string;
  seed: number;
  errors: string[];
  case: Case;
}

export interface Stats {
  runtime: string;
  version: string;
  cases: number;
  valid: number;
  seconds: number;
  /** RSS after warm-up, and the highest seen during the run. */
  baselineRss: number;
  peakRss: number;
  /** [seconds into the run, RSS] every few seconds: a plateau is a heap settling, a slope a leak. */
  rssSamples: [number, number][];
  /** What the worker did, summed over the cases (see tally()). */
  outcomes: Record<string, number>;
  failures: Failure[];
}

/** The runtime's version, as its binary reports it. */
export function runtimeVersion(rt: Runtime): string {
  const out = execFileSync(rt.bin, ["--version"], { encoding: "utf8" });
  return /\d+\.\d+\.\d+/.exec(out)?.[0] ?? out.trim();
}

/** Deterministic case seeds from one run seed. */
export function caseSeed(runSeed: number, i: number): number {
  let x = (runSeed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  return (x ^ (x >>> 13)) >>> 0;
}

const LOG_BUG = /internal error|unhandled|uncaught/i;

export interface FuzzOptions {
  seconds: number;
  seed: number;
  concurrency?: number;
  /** Cases replayed before the random ones (regressions). */
  replay?: Case[];
  /** Stop at the first failure (CI) instead of restarting the worker and going on. */
  stopOnFailure?: boolean;
  onFailure?: (f: Failure) => void;
  /** The workers' V8 heap flags (default V8_HEAP_FLAGS; [] runs them uncapped). */
  heapFlags?: string[];
}

async function warmUp(address: string): Promise<void> {
  // Allocate what normal traffic allocates once (big bodies both ways) before the baseline is taken.
  for (let i = 0; i < 20; i++) await alive(address);
  await fetchRaw(address, "GET", "/big?n=300000");
  await fetchRaw(address, "POST", "/echo", { body: new Uint8Array(200_000) });
}

/** Workers this process started and has not stopped: killed if it exits early (a crash, Ctrl-C). */
const live = new Set<WorkerProc>();
process.on("exit", () => {
  for (const w of live) w.proc.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

/** A worker as the fuzzer runs it: heap capped, small limits (WORKER_ARGS), on a loopback port. */
export async function startFuzzWorker(rt: Runtime, heapFlags: string[] = V8_HEAP_FLAGS): Promise<WorkerProc> {
  const w = await startWorker(capped(rt, heapFlags), [APP, "--listen", ":0", ...WORKER_ARGS]);
  live.add(w);
  w.exited.then(() => live.delete(w));
  return w;
}

/** One case on `w`, then the checks that it is still well; the errors found. */
async function probe(w: WorkerProc, c: Case): Promise<{ errors: string[]; down: boolean; got: Received }> {
  const got = await runCase(w.address, c);
  const errors = check(c, got);
  const exited = w.proc.exitCode !== null || w.proc.signalCode !== null;
  const down = exited ? `the worker exited (${w.proc.exitCode ?? w.proc.signalCode})` : await alive(w.address);
  if (down) errors.push(down);
  return { errors, down: !!down, got };
}

/** Counts what the worker did with a case, to show which paths the run reached. */
function tally(outcomes: Record<string, number>, got: Received): void {
  const add = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
  const { records } = readRecords(got.bytes);
  if (got.closedByWorker) add("closed by the worker");
  for (const r of records) {
    if (r.type === T.END) {
      add(
        [
          "END_REQUEST complete",
          "END_REQUEST cant-mpx",
          "END_REQUEST overloaded",
          "END_REQUEST unknown-role",
        ][r.content[4]] ?? "END_REQUEST other",
      );
    }
    if (r.type === T.GET_VALUES_RESULT) add("GET_VALUES_RESULT");
    if (r.type === T.UNKNOWN_TYPE) add("UNKNOWN_TYPE");
    if (r.type === T.STDOUT) {
      const m = /^Status: (\d)\d\d/m.exec(Buffer.from(r.content.subarray(0, 2048)).toString("latin1"));
      if (m) add(`HTTP ${m[1]}xx`);
    }
  }
}

/** Fuzzes one runtime for `seconds`; returns counts, RSS and failures. */
export async function fuzzRuntime(rt: Runtime, opts: FuzzOptions): Promise<Stats> {
  const spawnWorker = () => startFuzzWorker(rt, opts.heapFlags);
  let w: WorkerProc = await spawnWorker();
  const stats: Stats = {
    runtime: rt.name,
    version: runtimeVersion(rt),
    cases: 0,
    valid: 0,
    seconds: 0,
    baselineRss: 0,
    peakRss: 0,
    rssSamples: [],
    outcomes: {},
    failures: [],
  };
  await warmUp(w.address);
  stats.baselineRss = stats.peakRss = rss(w.proc.pid!);
  const start = performance.now();
  const deadline = start + opts.seconds * 1000;
  const queue = [...(opts.replay ?? [])];
  let next = 0;
  let logSeen = w.log().length;
  let stop = false;
  let restarting: Promise<void> | null = null;
  const inFlight = new Set<Case>();

  const fail = (c: Case, errors: string[]) => {
    const f = { runtime: rt.name, seed: c.seed, errors, case: c };
    stats.failures.push(f);
    opts.onFailure?.(f);
    if (opts.stopOnFailure) stop = true;
  };

  /**
   * The worker died or stopped answering with several cases in flight: replay each alone on a fresh
   * worker to find which one does it, so only real culprits are reported (all of them if none is).
   */
  const isolate = async (dead: WorkerProc, suspects: Case[], why: string[]) => {
    await dead.stop(1000);
    let culprits = 0;
    for (const c of suspects) {
      const fresh = await spawnWorker();
      const { errors, down } = await probe(fresh, c);
      await fresh.stop(1000);
      if (down) {
        culprits++;
        fail(c, [...errors, "(reproduced alone on a fresh worker)"]);
      }
    }
    if (!culprits) {
      for (const c of suspects) {
        fail(c, [...why, `(in flight with ${suspects.length - 1} others; not reproduced alone)`]);
      }
    }
    w = await spawnWorker();
    logSeen = w.log().length;
  };

  const lane = async () => {
    while (!stop && (queue.length || performance.now() < deadline)) {
      if (restarting) await restarting;
      const c = queue.shift() ?? makeCase(caseSeed(opts.seed, next++));
      const worker = w;
      inFlight.add(c);
      const { errors, down, got } = await probe(worker, c);
      inFlight.delete(c);
      stats.cases++;
      tally(stats.outcomes, got);
      if (c.mutations.length === 0) stats.valid++;
      if (worker !== w) continue; // this case ran on a worker that died; isolate() replayed it
      if (down) {
        if (restarting) await restarting; // another lane saw it first and is replaying the suspects
        else {
          restarting = isolate(worker, [c, ...inFlight], errors);
          inFlight.clear();
          await restarting;
          restarting = null;
        }
        continue;
      }
      const log = worker.log();
      const fresh = log.slice(logSeen);
      logSeen = log.length;
      // With cases in parallel a log line may belong to a neighbour's case: the replay tells.
      for (const line of fresh.split("\n")) if (LOG_BUG.test(line)) errors.push(`worker log: ${line.slice(0, 300)}`);
      const now = rss(worker.proc.pid!);
      stats.peakRss = Math.max(stats.peakRss, now);
      const at = (performance.now() - start) / 1000;
      if (at >= (stats.rssSamples.at(-1)?.[0] ?? 0) + Math.max(1, opts.seconds / 12)) {
        stats.rssSamples.push([Math.round(at), now]);
      }
      if (errors.length) fail(c, errors);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, lane));
  stats.seconds = (performance.now() - start) / 1000;
  await w.stop();
  return stats;
}
