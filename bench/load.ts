// The two load generators: wrk against nginx, fcgiload straight at a FastCGI backend. Both return
// the same shape; the caller samples /proc around the call.

import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  firstError?: string;
  /** fcgiload only: smallest and largest response body seen, to check the answers. */
  bodyMin?: number;
  bodyMax?: number;
  seconds: number;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(cmd)} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`wrk: cannot read latency ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** The wrk script for a POST with a body of `bytes` (written once into `dir`). */
export function postScript(dir: string, bytes: number): string {
  const file = path.join(dir, `post-${bytes}.lua`);
  fs.writeFileSync(
    file,
    `wrk.method = "POST"\nwrk.body = string.rep("x", ${bytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`,
  );
  return file;
}

export async function wrk(
  bin: string,
  url: string,
  conns: number,
  seconds: number,
  script?: string,
): Promise<LoadResult> {
  const args = [
    "-t",
    String(Math.min(2, conns)),
    "-c",
    String(conns),
    "-d",
    `${seconds}s`,
    "--latency",
    "--timeout",
    "10s",
  ];
  if (script) args.push("-s", script);
  const out = await run(bin, [...args, url], (seconds + 30) * 1000);
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const requests = num(/(\d+) requests in/);
  const secs = /requests in ([\d.]+)(ms|s|m)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/) || 0;
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1];
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1];
  if (!Number.isFinite(requests) || !p50 || !p99) throw new Error(`wrk: unexpected output:\n${out}`);
  return {
    requests,
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: ms(p50),
    p99Ms: ms(p99),
    errors,
    firstError: errors ? (sock ? sock[0] : "") + (non2xx ? ` non-2xx: ${non2xx}` : "") : undefined,
    seconds: secs ? ms(secs[1] + secs[2]) / 1000 : seconds,
  };
}

interface FcgiloadOut {
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  bodyMin: number;
  bodyMax: number;
}

export interface FcgiTarget {
  address: string;
  keepConn: boolean;
  params?: Record<string, string>;
}

function targetArgs(t: FcgiTarget): string[] {
  const args = ["-addr", t.address, `-keep=${t.keepConn}`];
  for (const [k, v] of Object.entries(t.params ?? {})) args.push("-param", `${k}=${v}`);
  return args;
}

export async function fcgiload(
  bin: string,
  t: FcgiTarget,
  path: string,
  conns: number,
  seconds: number,
  body = 0,
): Promise<LoadResult> {
  const args = [...targetArgs(t), "-c", String(conns), "-d", `${seconds}s`, "-path", path];
  if (body) args.push("-body", String(body));
  const r = JSON.parse(await run(bin, args, (seconds + 30) * 1000)) as FcgiloadOut;
  return r;
}

/** One streamed upload of `bytes`: to an http:// URL (through nginx) or straight to a FastCGI target. */
export async function upload(bin: string, target: string | FcgiTarget, bytes: number): Promise<LoadResult> {
  const args = typeof target === "string" ? ["-addr", `${target}/upload`] : [...targetArgs(target), "-path", "/upload"];
  const r = JSON.parse(await run(bin, [...args, "-upload", String(bytes)], 300_000)) as FcgiloadOut;
  return r;
}
