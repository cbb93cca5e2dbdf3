// The contenders: what each one is, how to start it on an address, and how nginx reaches it.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { rssKiB } from "./proc.ts";
import { BUN, DENO, NODE20, NODE24, ROOT } from "./tools.ts";

export interface StartContext {
  /** The run's temp dir (sockets, configs, logs). */
  dir: string;
  goApp: string;
  phpFpm?: string;
  phpChildren: number;
}

export interface Contender {
  name: string;
  /** fcgi: nginx fastcgi_pass and fcgiload; http: nginx proxy_pass; static: nginx alone. */
  kind: "fcgi" | "http" | "static";
  /** The runtime, to pair fetchcgi on X with the HTTP way on X. */
  runtime?: string;
  /** Whether connections are kept between requests (nginx fastcgi_keep_conn, fcgiload -keep). */
  keepConn: boolean;
  /** Why keepConn is off, for the report. */
  keepNote?: string;
  /** Extra FastCGI params (PHP needs SCRIPT_FILENAME). */
  params?: Record<string, string>;
  describe: string;
  /** The scenarios it answers, when not all (the upload included). */
  only?: string[];
  command?(listen: string, ctx: StartContext): { cmd: string; args: string[] };
}

const APP = path.join(ROOT, "bench/app.js");
const CLI_JS = path.join(ROOT, "dist/cli.js");
const CLI_TS = path.join(ROOT, "cli.ts");
const PHP_APP = path.join(ROOT, "bench/php/app.php");

export const CONTENDERS: Contender[] = [
  {
    name: "fetchcgi-node20",
    kind: "fcgi",
    runtime: "node20",
    keepConn: true,
    describe: "fetchcgi, Node 20 (/usr/bin/node dist/cli.js; the lazy Request and Response, the CLI's default)",
    command: (l) => ({ cmd: NODE20, args: [CLI_JS, APP, "--listen", l] }),
  },
  {
    name: "fetchcgi-node24",
    kind: "fcgi",
    runtime: "node24",
    keepConn: true,
    describe: "fetchcgi, Node 24 (dist/cli.js; the lazy Request and Response, the CLI's default)",
    command: (l) => ({ cmd: NODE24, args: [CLI_JS, APP, "--listen", l] }),
  },
  {
    name: "fetchcgi-node24-native",
    kind: "fcgi",
    runtime: "node24",
    keepConn: true,
    describe: "fetchcgi, Node 24 with --no-lazy-request --no-lazy-response (the runtime's own Request and Response)",
    command: (l) => ({ cmd: NODE24, args: [CLI_JS, APP, "--listen", l, "--no-lazy-request", "--no-lazy-response"] }),
  },
  {
    name: "fetchcgi-bun",
    kind: "fcgi",
    runtime: "bun",
    keepConn: true,
    describe: "fetchcgi, Bun (bun cli.ts; the lazy Request and Response, the CLI's default)",
    command: (l) => ({ cmd: BUN, args: [CLI_TS, APP, "--listen", l] }),
  },
  {
    name: "fetchcgi-deno",
    kind: "fcgi",
    runtime: "deno",
    keepConn: true,
    describe: "fetchcgi, Deno (deno run -A cli.ts; the lazy Request and Response, the CLI's default)",
    command: (l) => ({ cmd: DENO, args: ["run", "-A", CLI_TS, APP, "--listen", l] }),
  },
  {
    name: "fetchcgi-bun-runtime-request",
    kind: "fcgi",
    runtime: "bun",
    keepConn: true,
    describe: "fetchcgi, Bun with --no-lazy-request: the runtime's Request, the lazy Response",
    command: (l) => ({ cmd: BUN, args: [CLI_TS, APP, "--listen", l, "--no-lazy-request"] }),
  },
  {
    name: "fetchcgi-deno-runtime-request",
    kind: "fcgi",
    runtime: "deno",
    keepConn: true,
    describe: "fetchcgi, Deno with --no-lazy-request: the runtime's Request, the lazy Response",
    command: (l) => ({ cmd: DENO, args: ["run", "-A", CLI_TS, APP, "--listen", l, "--no-lazy-request"] }),
  },
  {
    name: "go-fcgi",
    kind: "fcgi",
    runtime: "go",
    keepConn: true,
    describe: "Go net/http/fcgi (bench/go)",
    command: (l, ctx) => ({ cmd: ctx.goApp, args: [l] }),
  },
  {
    name: "php-fpm",
    kind: "fcgi",
    runtime: "php",
    keepConn: false,
    params: { SCRIPT_FILENAME: PHP_APP },
    keepNote:
      "a PHP-FPM child serves one connection until it closes, so kept connections beyond the pool size starve: run as usually deployed, one connection per request",
    describe: "PHP-FPM, static pool (bench/php/app.php)",
    command: (l, ctx) => ({ cmd: ctx.phpFpm!, args: ["-F", "-R", "-y", phpConfig(l, ctx)] }),
  },
  {
    name: "node-fastcgi",
    kind: "fcgi",
    runtime: "node24",
    keepConn: false,
    keepNote:
      "node-fastcgi 2.0.0 closes the connection after every response: it reads BeginRequest.flags.KEEP_CONN, which fastcgi-stream 1.0.0 calls KEEPCONN",
    describe: "npm node-fastcgi 2.0.0 on Node 24 + @hono/node-server's adapter (bench/node-fastcgi.js)",
    command: (l) => ({ cmd: NODE24, args: [path.join(ROOT, "bench/node-fastcgi.js"), l] }),
  },
  {
    name: "node20-http",
    kind: "http",
    runtime: "node20",
    keepConn: true,
    describe: "node:http + @hono/node-server on Node 20 (bench/http/node.js, as node24-http)",
    command: (l) => ({ cmd: NODE20, args: [path.join(ROOT, "bench/http/node.js"), l] }),
  },
  {
    name: "node24-http",
    kind: "http",
    runtime: "node24",
    keepConn: true,
    describe:
      "node:http + @hono/node-server on Node 24 (bench/http/node.js; the adapter swaps in its lazy global Request/Response)",
    command: (l) => ({ cmd: NODE24, args: [path.join(ROOT, "bench/http/node.js"), l] }),
  },
  {
    name: "bun-serve",
    kind: "http",
    runtime: "bun",
    keepConn: true,
    describe: "Bun.serve (bench/http/bun.js)",
    command: (l) => ({ cmd: BUN, args: [path.join(ROOT, "bench/http/bun.js"), l] }),
  },
  {
    name: "deno-serve",
    kind: "http",
    runtime: "deno",
    keepConn: true,
    describe: "Deno.serve (bench/http/deno.js)",
    command: (l) => ({ cmd: DENO, args: ["run", "-A", path.join(ROOT, "bench/http/deno.js"), l] }),
  },
  {
    name: "floor-bun",
    kind: "fcgi",
    runtime: "bun",
    keepConn: true,
    only: ["hello"],
    describe: "the floor on Bun: Bun.listen answering every request with canned bytes (bench/floor; hello only)",
    command: (l) => ({ cmd: BUN, args: [path.join(ROOT, "bench/floor/bun.js"), l] }),
  },
  {
    name: "floor-deno",
    kind: "fcgi",
    runtime: "deno",
    keepConn: true,
    only: ["hello"],
    describe: "the floor on Deno: Deno.listen answering every request with canned bytes (bench/floor; hello only)",
    command: (l) => ({ cmd: DENO, args: ["run", "-A", path.join(ROOT, "bench/floor/deno.js"), l] }),
  },
  {
    name: "nginx-static",
    kind: "static",
    keepConn: true,
    only: ["hello"],
    describe: 'nginx alone: return 200 "Hello, World!" (the ceiling; hello only)',
  },
];

/** A bare process of `runtime` (bench/idle.js), the baseline for idle RSS; null for other runtimes. */
export function bareCommand(runtime: string): { cmd: string; args: string[] } | null {
  const idle = path.join(ROOT, "bench/idle.js");
  if (runtime === "node20") return { cmd: NODE20, args: [idle] };
  if (runtime === "node24") return { cmd: NODE24, args: [idle] };
  if (runtime === "bun") return { cmd: BUN, args: [idle] };
  if (runtime === "deno") return { cmd: DENO, args: ["run", idle] };
  return null;
}

/** Resident set of a bare `runtime` process once it has settled (1 s), in MiB. */
export async function bareRssMiB(runtime: string): Promise<number | null> {
  const command = bareCommand(runtime);
  if (!command) return null;
  const proc = spawn(command.cmd, command.args, { cwd: ROOT, stdio: "ignore" });
  const exited = new Promise((r) => proc.once("exit", r));
  await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
  const mib = rssKiB([proc.pid!]) / 1024;
  proc.kill("SIGKILL");
  await exited;
  return mib;
}

/** How long a just-started process is left alone before its idle RSS is read. */
export const IDLE_SETTLE_MS = 1000;

function phpConfig(listen: string, ctx: StartContext): string {
  const prefix = path.join(ctx.dir, "php-fpm");
  fs.mkdirSync(prefix, { recursive: true });
  const file = path.join(prefix, "php-fpm.conf");
  const root = process.getuid?.() === 0;
  fs.writeFileSync(
    file,
    [
      "[global]",
      `pid = ${prefix}/php-fpm.pid`,
      `error_log = ${prefix}/error.log`,
      "daemonize = no",
      "[bench]",
      root ? "user = root" : "",
      `listen = ${listen.startsWith("unix:") ? listen.slice(5) : listen.slice(4)}`,
      "listen.backlog = 4096",
      "pm = static",
      `pm.max_children = ${ctx.phpChildren}`,
      "pm.max_requests = 0",
      "php_admin_value[post_max_size] = 0", // no limit: the upload scenario sends 64 MiB
      "php_admin_value[memory_limit] = 256M",
      "php_admin_value[output_buffering] = 0",
      "",
    ].join("\n"),
  );
  return file;
}

export interface Backend {
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

function connectable(listen: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = listen.startsWith("unix:")
      ? net.connect(listen.slice(5))
      : net.connect(Number(listen.split(":").pop()), "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Starts the contender on `listen` and resolves once it accepts connections. */
export async function startBackend(c: Contender, listen: string, ctx: StartContext): Promise<Backend> {
  const { cmd, args } = c.command!(listen, ctx);
  if (listen.startsWith("unix:")) fs.rmSync(listen.slice(5), { force: true });
  const proc: ChildProcess = spawn(cmd, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let out = "";
  const keep = (d: Buffer) => {
    out += d;
    if (out.length > 65536) out = out.slice(-32768);
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  let exited = false;
  const done = new Promise<void>((r) =>
    proc.once("exit", () => {
      exited = true;
      r();
    })
  );
  proc.once("error", (err) => {
    out += `\n${err.message}`;
    exited = true;
  });
  const stop = async () => {
    if (!exited) {
      proc.kill("SIGTERM");
      const t = setTimeout(() => !exited && proc.kill("SIGKILL"), 3000);
      await done;
      clearTimeout(t);
    }
    if (listen.startsWith("unix:")) fs.rmSync(listen.slice(5), { force: true });
  };
  const deadline = Date.now() + 30000;
  while (!(await connectable(listen))) {
    if (exited) throw new Error(`${c.name} exited before listening:${os.EOL}${out}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${c.name} did not listen on ${listen} within 30 s:${os.EOL}${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: proc.pid!, log: () => out, stop };
}
