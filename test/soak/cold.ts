// Large transfers from a cold start, against the HTTP way (long, not in CI). Per runtime, a fresh
// fetchcgi worker (test/fixtures/faults.js, raw FastCGI over TCP) and a fresh HTTP server of the
// same runtime serving the same module (bench/http/*.js: node:http + @hono/node-server, Bun.serve,
// Deno.serve; HTTP/1.1 over TCP) each take --bytes up (POST /count, streamed) and, restarted, send
// --bytes down (GET /gen, 64 KiB chunks). Growth is the peak RSS above the RSS the process had
// just before. Medians of --runs go into docs/reliability.md between the cold markers.
//
//   npm run soak:cold -- [--runs 3] [--runtimes node24,bun] [--bytes 1073741824] [--no-doc]

import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { MiB, rss, rssPeak } from "../lib/proc.ts";
import { measuredCommit, writeSection } from "../lib/report.ts";
import { canConnect, freePort } from "../lib/server.ts";
import { download, drained, upload } from "../lib/transfer.ts";
import { ROOT, type Runtime, runtimes, startWorker } from "../lib/workers.ts";

const APP = path.join(ROOT, "test/fixtures/faults.js");

const { values: opt } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    runtimes: { type: "string" },
    bytes: { type: "string", default: String(1024 * MiB) },
    "no-doc": { type: "boolean", default: false },
  },
});
const RUNS = Number(opt.runs);
const BYTES = Number(opt.bytes);
/** Time for a fresh process to settle (JIT, lazy loading) before its RSS is taken. */
const SETTLE_MS = 1000;

type Direction = "up" | "down";
interface Server {
  pid: number;
  /** Moves BYTES one way; throws if the count does not come out right. */
  move(dir: Direction): Promise<void>;
  stop(): Promise<void>;
}

async function fetchcgi(rt: Runtime): Promise<Server> {
  const w = await startWorker(rt, [APP, "--listen", ":0"]);
  return {
    pid: w.proc.pid!,
    async move(dir) {
      const r = dir === "up"
        ? await upload(w.address, "/count", BYTES)
        : await download(w.address, `/gen?tag=cold&n=${BYTES}`);
      const ok = dir === "up"
        ? r.head.endsWith(`\r\n\r\n${BYTES}`)
        : r.stdout - (r.head.indexOf("\r\n\r\n") + 4) === BYTES;
      if (r.appStatus !== 0 || !ok) {
        throw new Error(`fetchcgi on ${rt.name}: ${dir} came out wrong: ${JSON.stringify(r.head.slice(-40))}`);
      }
    },
    stop: async () => void (await w.stop()),
  };
}

/** The runtime's own HTTP server (the bench's HTTP contender for it) serving the fixtures' app. */
async function httpWay(rt: Runtime): Promise<Server> {
  const port = await freePort();
  const where = `tcp:127.0.0.1:${port}`;
  const script = path.join(ROOT, "bench/http", rt.name.startsWith("node") ? "node.js" : `${rt.name}.js`);
  const args = rt.name === "deno" ? ["run", "-A", script, where, APP] : [script, where, APP];
  const proc = spawn(rt.bin, args, { stdio: ["ignore", "ignore", "pipe"], cwd: ROOT });
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  await waitListening(port, proc, () => err);
  return {
    pid: proc.pid!,
    move: (dir) => httpMove(port, dir),
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill("SIGKILL");
      await new Promise((r) => proc.once("exit", r));
    },
  };
}

async function waitListening(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  for (const deadline = performance.now() + 20000; performance.now() < deadline;) {
    if (proc.exitCode !== null) throw new Error(`HTTP server exited: ${log()}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`HTTP server not listening on ${port}: ${log()}`);
}

/** One HTTP/1.1 exchange that keeps nothing: the upload's answer is its count, the download is counted. */
function httpMove(port: number, dir: Direction): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let head = "";
    let body = 0; // body bytes after the head, chunk framing included
    let tail = "";
    const done = (err?: Error) => {
      s.destroy();
      if (err) reject(err);
      else resolve();
    };
    s.on("data", (d: Buffer) => {
      if (!head.includes("\r\n\r\n")) {
        head += d.toString("latin1");
        const at = head.indexOf("\r\n\r\n");
        if (at < 0) return;
        body = head.length - at - 4;
        tail = head.slice(at + 4);
        head = head.slice(0, at + 4);
      } else {
        body += d.length;
        tail = (tail + d.toString("latin1", Math.max(0, d.length - 16))).slice(-16);
      }
      if (!/^HTTP\/1\.1 200/.test(head)) return done(new Error(`HTTP ${dir}: ${head.split("\r\n")[0]}`));
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      const complete = length ? body >= Number(length[1]) : tail.endsWith("\r\n0\r\n\r\n");
      if (!complete) return;
      if (dir === "up" && tail.replace(/\r\n0\r\n\r\n$/, "").split("\r\n").pop() !== String(BYTES)) {
        return done(new Error(`HTTP upload counted ${JSON.stringify(tail)}`));
      }
      if (dir === "down" && body < BYTES) return done(new Error(`HTTP download: ${body} bytes`));
      done();
    });
    s.on("error", done);
    s.on("close", () => reject(new Error(`HTTP ${dir}: closed early after ${body} bytes`)));
    s.on("connect", async () => {
      if (dir === "down") return void s.write(`GET /gen?tag=cold&n=${BYTES} HTTP/1.1\r\nHost: x\r\n\r\n`);
      s.write(`POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: ${BYTES}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 117);
      for (let sent = 0; sent < BYTES && !s.destroyed; sent += chunk.length) {
        const last = BYTES - sent < chunk.length ? chunk.subarray(0, BYTES - sent) : chunk;
        if (!s.write(last)) await drained(s);
      }
    });
  });
}

interface Run {
  /** RSS just before the transfer. */
  cold: number;
  growth: number;
  mibs: number;
}

/** Growth of one fresh process over one transfer, and the rate. */
async function once(start: () => Promise<Server>, dir: Direction): Promise<Run> {
  const server = await start();
  try {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const cold = rss(server.pid);
    const watch = rssPeak(server.pid);
    const t0 = performance.now();
    let peak: number;
    try {
      await server.move(dir);
    } finally {
      peak = watch.stop();
    }
    return { cold, growth: peak - cold, mibs: BYTES / MiB / ((performance.now() - t0) / 1000) };
  } finally {
    await server.stop();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mb = (n: number) => (n / MiB).toFixed(1);

interface Row {
  rt: string;
  way: string;
  dir: Direction;
  runs: Run[];
}

const wanted = opt.runtimes?.split(",");
const list = runtimes().filter((r) => !wanted || wanted.includes(r.name));
const HTTP_NAMES: Record<string, string> = { bun: "Bun.serve", deno: "Deno.serve" };
const started = new Date();
const commit = measuredCommit(); // the code measured is what is checked out now, at the start
const rows: Row[] = [];
for (const rt of list) {
  for (const dir of ["up", "down"] as const) {
    const ways: [string, () => Promise<Server>][] = [["fetchcgi", () => fetchcgi(rt)], [
      HTTP_NAMES[rt.name] ?? "node:http + @hono/node-server",
      () => httpWay(rt),
    ]];
    const these = ways.map(([way]): Row => ({ rt: rt.name, way, dir, runs: [] }));
    rows.push(...these);
    // Interleaved, so that a slow moment of the machine falls on both.
    for (let i = 0; i < RUNS; i++) {
      for (const [k, [way, start]] of ways.entries()) {
        const r = await once(start, dir);
        these[k].runs.push(r);
        console.error(
          `cold ${rt.name} ${way} ${dir}: ${mb(r.cold)} MiB cold, +${mb(r.growth)} MiB, ${r.mibs.toFixed(0)} MiB/s`,
        );
      }
    }
  }
}

const table = [
  "| runtime | server | direction | RSS MiB before | growth MiB, median (each run) | MiB/s |",
  "|---|---|---|---:|---|---:|",
  ...rows.map((r) => {
    const of = (key: keyof Run) => r.runs.map((run) => run[key]);
    return `| ${r.rt} | ${r.way} | ${r.dir === "up" ? "upload" : "download"} | ${mb(median(of("cold")))} | **${
      mb(median(of("growth")))
    }** (${of("growth").map(mb).join(", ")}) | ${median(of("mibs")).toFixed(0)} |`;
  }),
];
const text = [
  "## Large transfers from a cold start",
  "",
  `Run ${
    started.toISOString().slice(0, 16).replace("T", " ")
  } UTC on commit \`${commit}\` with \`npm run soak:cold -- --runs ${RUNS}\`, on ${os.cpus().length} CPUs (${
    os.cpus()[0]?.model.trim()
  }) shared with other jobs.`,
  "",
  `Per runtime, a process started for the one transfer: ${
    BYTES / MiB
  } MiB uploaded (POST /count, which counts the body as it`,
  `streams) or ${
    BYTES / MiB
  } MiB downloaded (GET /gen, a pull stream of 64 KiB chunks), test/fixtures/faults.js served by fetchcgi`,
  "(raw FastCGI over TCP) and by the runtime's own HTTP server, the bench's HTTP contender (HTTP/1.1 over TCP). Growth is the",
  "peak RSS (sampled every 25 ms) above the RSS just before the transfer, after a second's rest. Nothing of the body is kept:",
  "what grows is garbage (the runtime's read buffers, the app's chunks) waiting for a collection that V8 and JavaScriptCore pace",
  "by external memory, and allocator memory not yet given back. The soak's rule (32 MiB above a warm-up peak) is measured",
  "after a first transfer of the same size for that reason, and the first may grow RSS by less than 3/4 of its bytes (a",
  "worker keeping them all grows by all of them); the table shows what a cold process does, next to the HTTP way.",
  "",
  ...table,
].join("\n");
if (!opt["no-doc"]) writeSection("cold", text);
console.log(text);
