// `npm run bench`: starts every contender in turn behind one nginx and/or straight at fcgiload,
// measures each scenario at each connection count, repeats in interleaved rounds, prints medians
// and writes bench/RESULTS.md. Options: npm run bench -- --help.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type Backend,
  bareRssMiB,
  type Contender,
  CONTENDERS,
  IDLE_SETTLE_MS,
  startBackend,
  type StartContext,
} from "./contenders.ts";
import { fcgiload, type FcgiTarget, type LoadResult, postScript, upload, wrk } from "./load.ts";
import { type Front, startFront } from "./nginx.ts";
import { HELP, HelpRequested, type Options, parseOptions } from "./options.ts";
import {
  childrenCpuSeconds,
  cpuSeconds,
  machineCpu,
  ownCpuSeconds,
  peakRssKiB,
  resetPeak,
  rssKiB,
  tree,
} from "./proc.ts";
import { type Failure, type IdleRss, type Measurement, render } from "./report.ts";
import { SCENARIO, type Scenario } from "./scenarios.ts";
import {
  buildGo,
  checkRuntimes,
  findGo,
  findNginxBin,
  findPhpFpm,
  findWrk,
  machineFacts,
  MissingTool,
  ROOT,
} from "./tools.ts";

const log = (s: string) => process.stderr.write(s + "\n");

function parse(): Options {
  try {
    return parseOptions(process.argv.slice(2), CONTENDERS.map((c) => c.name));
  } catch (err) {
    if (err instanceof HelpRequested) {
      console.log(HELP + `\nContenders: ${CONTENDERS.map((c) => c.name).join(", ")}`);
      process.exit(0);
    }
    log(`bench: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
}

/** Which contenders run, and the tools they need (a clear apt-get message when one is missing). */
function prepare(o: Options): { contenders: Contender[]; wrkBin?: string; phpFpm?: string } {
  let contenders = CONTENDERS.filter((c) => !o.only || o.only.includes(c.name));
  if (!o.fronts.includes("nginx")) contenders = contenders.filter((c) => c.kind === "fcgi");
  if (!contenders.length) throw new Error("no contender left to run (direct front only measures FastCGI contenders)");
  checkRuntimes(contenders.some((c) => c.runtime === "node20"));
  findGo(); // fcgiload and the Go contender are always built
  const wrkBin = o.fronts.includes("nginx") ? findWrk() : undefined;
  if (o.fronts.includes("nginx")) findNginxBin();
  const phpFpm = contenders.some((c) => c.name === "php-fpm") ? findPhpFpm() : undefined;
  return { contenders, wrkBin, phpFpm };
}

interface Cell {
  contender: Contender;
  backend?: Backend;
  /** The processes whose CPU and memory count as "the backend". */
  pids(): number[];
  /** nginx master + worker, read per cell (the worker may not exist yet when nginx first accepts). */
  nginxPids(): number[];
}

/** Runs `load` and samples /proc around it. */
async function measure(
  cell: Cell,
  front: "nginx" | "direct",
  scenario: string,
  conns: number,
  load: () => Promise<LoadResult>,
): Promise<Measurement> {
  const pids = cell.pids();
  const rssBefore = rssKiB(pids);
  resetPeak(pids);
  const nginxPids = cell.nginxPids();
  const b0 = cpuSeconds(pids), n0 = cpuSeconds(nginxPids), l0 = childrenCpuSeconds();
  const r = await load();
  const after = [...new Set([...pids, ...cell.pids()])];
  const b1 = cpuSeconds(after), n1 = cpuSeconds(nginxPids), l1 = childrenCpuSeconds();
  const per = (sec: number) => (r.requests ? (sec * 1e6) / r.requests : NaN);
  return {
    round: 0,
    contender: cell.contender.name,
    front,
    scenario,
    conns,
    requests: r.requests,
    rps: r.rps,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuUsPerReq: scenario === "upload" ? (b1 - b0) * 1e6 : per(b1 - b0),
    nginxUsPerReq: front === "nginx" ? per(n1 - n0) : undefined,
    loadgenUsPerReq: per(l1 - l0),
    peakRssMiB: peakRssKiB(after) / 1024,
    rssBeforeMiB: rssBefore / 1024,
    errors: r.errors,
    firstError: r.firstError,
    seconds: r.seconds,
    bodyMin: r.bodyMin,
    bodyMax: r.bodyMax,
  };
}

/** One request per route through nginx: the answer must be right before it is timed. Then a short warm-up. */
async function checkAndWarm(url: string, scenarios: Scenario[], c: Contender): Promise<void> {
  for (const sc of scenarios) {
    const res = await fetch(url + sc.path, sc.body ? { method: "POST", body: "x".repeat(sc.body) } : {});
    const text = await res.text();
    const wrong = res.status !== 200 ? `status ${res.status}: ${text.slice(0, 200)}` : sc.check(text);
    if (wrong) throw new Error(`${c.name} ${sc.path} through nginx: ${wrong}`);
  }
  // Warm-up: JIT and connection pools, 16 at a time, ~300 requests per route.
  for (const sc of scenarios) {
    const one = async () => {
      for (let i = 0; i < 20; i++) {
        await (await fetch(url + sc.path, sc.body ? { method: "POST", body: "x".repeat(sc.body) } : {})).arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 16 }, one));
  }
}

async function main(): Promise<void> {
  const o = parse();
  const started = Date.now();
  const commit = measuredCommit(); // the code measured is what is checked out at the start
  let prep: ReturnType<typeof prepare>;
  try {
    prep = prepare(o);
  } catch (err) {
    log(`bench: ${(err as Error).message}`);
    process.exit(err instanceof MissingTool ? 3 : 2);
  }
  const { contenders, wrkBin, phpFpm } = prep;
  if (o.build) {
    log("bench: npm run build");
    execFileSync(process.execPath, ["build.ts"], { cwd: ROOT, stdio: "inherit" });
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fetchcgi-bench-"));
  log(`bench: building the Go programs into ${dir}`);
  const go = buildGo(dir);
  const ctx: StartContext = { dir, goApp: go.goApp, phpFpm, phpChildren: o.phpChildren };

  // Fixed addresses per contender for the whole run (nginx's upstreams point at them).
  const addresses = new Map<string, string>();
  contenders.forEach((c, i) =>
    addresses.set(
      c.name,
      o.tcp ? `tcp:127.0.0.1:${21000 + (process.pid % 500) * 16 + i}` : `unix:${path.join(dir, `${c.name}.sock`)}`,
    )
  );
  const scenarios = o.scenarios.filter((s) => s !== "upload").map((s) => SCENARIO[s as keyof typeof SCENARIO]);
  const withUpload = o.scenarios.includes("upload");
  const postLua = postScript(dir, 16384);

  let front: Front | undefined;
  if (o.fronts.includes("nginx")) front = await startFront(contenders, addresses, dir);
  const nginxPids = () => (front ? tree(front.nginx.proc.pid!) : []);
  const cpu0 = machineCpu(), own0 = ownCpuSeconds();

  const results: Measurement[] = [];
  const idle: IdleRss[] = [];
  const runtimes = [...new Set(contenders.map((c) => c.runtime).filter((r): r is string => r !== undefined))];
  const failures: Failure[] = [];
  const stopAll: (() => Promise<void>)[] = [];
  const onSignal = async () => {
    for (const s of stopAll) await s().catch(() => {});
    await front?.nginx.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  for (let round = 1; round <= o.rounds; round++) {
    // Interleave: each round starts with a different contender.
    const order = contenders.map((_, i) => contenders[(i + round - 1) % contenders.length]);
    for (const runtime of runtimes) {
      const mib = await bareRssMiB(runtime);
      if (mib !== null) idle.push({ round, name: `bare ${runtime}`, runtime, rssMiB: mib });
    }
    for (const c of order) {
      const t0 = Date.now();
      let backend: Backend | undefined;
      try {
        if (c.kind !== "static") {
          backend = await startBackend(c, addresses.get(c.name)!, ctx);
          stopAll.push(backend.stop);
        }
        const cell: Cell = {
          contender: c,
          backend,
          nginxPids,
          pids: () => (backend ? tree(backend.pid) : nginxPids()),
        };
        if (backend && c.runtime) {
          // Idle: started, listening, not one request yet.
          await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
          idle.push({ round, name: c.name, runtime: c.runtime, rssMiB: rssKiB(cell.pids()) / 1024 });
        }
        const mine = c.only ? scenarios.filter((s) => c.only!.includes(s.name)) : scenarios;
        const target: FcgiTarget = { address: addresses.get(c.name)!, keepConn: c.keepConn, params: c.params };
        if (front) await checkAndWarm(front.url(c), mine, c);
        else for (const sc of mine) await fcgiload(go.fcgiload, target, sc.path, 16, 0.3, sc.body);
        // Then load for a while, as the cells will: a JIT (JSC's FTL above all) compiles the hot
        // path on threads of the backend's own, and 320 requests leave that inside the first cell
        // (fetchcgi-bun hello/64: 20-28 µs/req timed right after, 14.5 after 3 s of load).
        if (o.warmup > 0) {
          const n = Math.max(...o.conns);
          for (const sc of mine) {
            if (front) await wrk(wrkBin!, front.url(c) + sc.path, n, o.warmup, sc.body ? postLua : undefined);
            else await fcgiload(go.fcgiload, target, sc.path, n, o.warmup, sc.body);
          }
        }
        const push = (m: Measurement, sc?: Scenario) => {
          m.round = round;
          if (sc && m.bodyMin !== undefined && m.requests && (m.bodyMin < sc.size[0] || m.bodyMax! > sc.size[1])) {
            m.errors++;
            m.firstError = `response bodies of ${m.bodyMin}–${m.bodyMax} bytes, expected ${sc.size.join("–")}`;
          }
          results.push(m);
          const err = m.errors ? `  ⚠ ${m.errors} errors: ${m.firstError ?? ""}` : "";
          log(
            `  r${round} ${c.name.padEnd(16)} ${m.front.padEnd(6)} ${`${m.scenario}/${m.conns}`.padEnd(10)} ${
              m.scenario === "upload" ? `${m.seconds.toFixed(2)} s`.padStart(9) : `${Math.round(m.rps)}/s`.padStart(9)
            }  cpu ${(m.scenario === "upload" ? m.cpuUsPerReq / 1000 : m.cpuUsPerReq).toFixed(1).padStart(6)} ${
              m.scenario === "upload" ? "ms" : "µs/req"
            }  p99 ${m.p99Ms.toFixed(2)} ms  rss ${m.peakRssMiB.toFixed(1)} MiB${err}`,
          );
        };
        for (const f of o.fronts) {
          if (f === "direct" && c.kind !== "fcgi") continue;
          for (const sc of mine) {
            for (const n of o.conns) {
              if (f === "nginx") {
                push(
                  await measure(
                    cell,
                    "nginx",
                    sc.name,
                    n,
                    () => wrk(wrkBin!, front!.url(c) + sc.path, n, o.duration, sc.body ? postLua : undefined),
                  ),
                  sc,
                );
              } else {
                push(
                  await measure(
                    cell,
                    "direct",
                    sc.name,
                    n,
                    () => fcgiload(go.fcgiload, target, sc.path, n, o.duration, sc.body),
                  ),
                  sc,
                );
              }
            }
          }
          if (withUpload && (!c.only || c.only.includes("upload"))) {
            const m = await measure(
              cell,
              f,
              "upload",
              1,
              () => upload(go.fcgiload, f === "nginx" ? front!.url(c) : target, o.uploadBytes),
            );
            const digits = String(o.uploadBytes).length; // the answer is the byte count
            push(m, { size: [digits, digits] } as Scenario);
          }
        }
      } catch (err) {
        const message = (err as Error).message;
        failures.push({ round, contender: c.name, message });
        log(`  r${round} ${c.name}: FAILED: ${message}`);
      } finally {
        if (backend) {
          await backend.stop();
          stopAll.splice(stopAll.indexOf(backend.stop), 1);
        }
      }
      log(`  r${round} ${c.name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  await front?.nginx.stop();
  const cpu1 = machineCpu(), own1 = ownCpuSeconds();
  const span = cpu1.total - cpu0.total;
  const stealPct = (cpu1.steal - cpu0.steal) / span * 100;
  const otherLoadPct = Math.max(0, ((cpu1.busy - cpu0.busy) - (cpu1.steal - cpu0.steal) - (own1 - own0)) / span * 100);

  const cells = o.scenarios.flatMap((
    s,
  ): {
    scenario: string;
    conns: number;
  }[] => (s === "upload" ? [{ scenario: s, conns: 1 }] : o.conns.map((conns) => ({ scenario: s, conns }))));
  const { summary, markdown } = render(
    {
      date: new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC",
      command: `npm run bench${process.argv.length > 2 ? " -- " + process.argv.slice(2).join(" ") : ""}`,
      commit,
      minutes: (Date.now() - started) / 60000,
      facts: machineFacts({ php: phpFpm, wrk: wrkBin }),
      rounds: o.rounds,
      duration: o.duration,
      warmup: o.warmup,
      transport: o.tcp ? "TCP 127.0.0.1" : "Unix sockets",
      uploadMiB: o.uploadBytes / 1048576,
      phpChildren: o.phpChildren,
      otherLoadPct,
      stealPct,
      note: o.note,
      contenders,
      cells,
      idle,
    },
    results,
    failures,
  );
  console.log("\n" + summary + "\n");
  if (o.out) {
    fs.writeFileSync(path.resolve(ROOT, o.out), markdown);
    log(`bench: wrote ${o.out}`);
  }
  if (o.json) fs.writeFileSync(path.resolve(ROOT, o.json), JSON.stringify({ results, idle, failures }, null, 1));
  log(
    `bench: ${((Date.now() - started) / 60000).toFixed(1)} min; other work used ${
      otherLoadPct.toFixed(0)
    } % of the CPU meanwhile, the hypervisor took ${stealPct.toFixed(0)} % (steal)`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(failures.length ? 1 : 0);
}

main().catch((err) => {
  log(`bench: ${(err as Error).stack ?? err}`);
  process.exit(1);
});

/** HEAD's short hash, "(with local changes)" when tracked files differ from it. */
function measuredCommit(): string {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
  try {
    return git("rev-parse", "--short", "HEAD") +
      (git("status", "--porcelain", "--untracked-files=no") ? " (with local changes)" : "");
  } catch {
    return "unknown";
  }
}
