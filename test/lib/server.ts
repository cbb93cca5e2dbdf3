// Web servers for tests: any front (nginx, Apache, lighttpd, Caddy, HAProxy, h2o…) started in the
// foreground from a config template with __PLACEHOLDER__ tokens, in its own temp prefix, on free
// 127.0.0.1 ports; never the system config, system dirs or a system service.

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** The first executable among `candidates` (absolute paths or names looked up on PATH and the sbin dirs); throws `missing` when none is. */
export function findBinary(candidates: (string | undefined)[], missing: string): string {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/sbin"];
  for (const c of candidates) {
    if (!c) continue;
    for (const full of c.includes("/") ? [c] : dirs.filter(Boolean).map((d) => path.join(d, c))) {
      try {
        fs.accessSync(full, fs.constants.X_OK);
        if (fs.statSync(full).isFile()) return full;
      } catch {
        // not there or not executable
      }
    }
  }
  throw new Error(missing);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port` now. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** The `template` with every __NAME__ token replaced; throws if one is left. */
export function fillTemplate(template: string, vars: Record<string, string | number>, source = "template"): string {
  let text = template;
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(k, String(v));
  const left = /__[A-Z0-9_]+__/.exec(text);
  if (left) throw new Error(`${source}: placeholder ${left[0]} was not substituted`);
  return text;
}

/** A regexp matching the template with any value in place of each placeholder: proves a config was used verbatim. */
export function templatePattern(template: string): RegExp {
  return new RegExp(`^${template.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/__[A-Z0-9_]+__/g, "[^]+?")}$`);
}

export interface Front {
  name: string;
  proc: ChildProcess;
  prefix: string;
  /** The config as written (placeholders replaced). */
  conf: string;
  confFile: string;
  /** The ports that the port placeholders were given, by placeholder name. */
  ports: Record<string, number>;
  /** The server's stdout/stderr plus its log files. */
  log(): string;
  /** SIGTERM (SIGKILL after `ms`); also kills the process group, so workers it spawned go too. */
  stop(ms?: number): Promise<void>;
}

export interface FrontOptions {
  /** For messages: "nginx", "apache2", … */
  name: string;
  bin: string;
  /** Config template; its __NAME__ tokens are replaced from `vars` and `portVars`. */
  template: string;
  /** The config's file name inside the prefix, e.g. "nginx.conf". */
  confName: string;
  /** The command line, given the written config file and the prefix. */
  args(confFile: string, prefix: string): string[];
  /** Plain substitutions, e.g. { __SOCKET__: "/tmp/x/app.sock" }; __PREFIX__ is always the prefix. */
  vars?: Record<string, string>;
  /** Placeholders that each get a free TCP port; startup waits until each one accepts. */
  portVars: string[];
  /** Prefix directory (created if missing). */
  prefix: string;
  /** Log files, relative to the prefix, that log() appends. */
  logs?: string[];
  env?: Record<string, string>;
  /** Copies into the prefix before start (e.g. nginx's fastcgi_params), as [from, to-relative-to-prefix]. */
  files?: [string, string][];
  /** The signal that stops it at once (default SIGTERM). */
  stopSignal?: NodeJS.Signals;
}

/** Writes the config into the prefix and starts the server in the foreground; resolves once every port accepts. */
export async function startFront(opts: FrontOptions): Promise<Front> {
  fs.mkdirSync(opts.prefix, { recursive: true });
  for (const [from, to] of opts.files ?? []) fs.copyFileSync(from, path.join(opts.prefix, to));
  const template = fs.readFileSync(opts.template, "utf8");
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const ports: Record<string, number> = {};
    for (const name of opts.portVars) ports[name] = await freePort();
    const conf = fillTemplate(template, { __PREFIX__: opts.prefix, ...opts.vars, ...ports }, opts.template);
    const confFile = path.join(opts.prefix, opts.confName);
    fs.writeFileSync(confFile, conf);
    try {
      return await launch(opts, conf, confFile, ports);
    } catch (err) {
      lastError = err as Error;
      // Another process took a free port between the check and the bind: try other ports.
      if (!/Address already in use|could not bind|Could not bind|cannot bind/.test(lastError.message)) throw lastError;
    }
  }
  throw lastError!;
}

async function launch(
  opts: FrontOptions,
  conf: string,
  confFile: string,
  ports: Record<string, number>,
): Promise<Front> {
  const { name, bin, prefix } = opts;
  // Its own process group, so that stop() also ends the workers a front spawns (mod_fcgid, bin-path).
  const proc = spawn(bin, opts.args(confFile, prefix), {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    cwd: prefix,
    env: { ...process.env, ...opts.env },
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  let spawnError: Error | undefined;
  const exited = new Promise<void>((r) => {
    proc.once("exit", () => r());
    proc.once("error", (err) => {
      spawnError = err;
      r();
    });
  });
  const log = () => {
    let text = out;
    for (const file of opts.logs ?? []) {
      try {
        text += `\n--- ${file} ---\n` + fs.readFileSync(path.join(prefix, file), "utf8");
      } catch {
        // not written yet
      }
    }
    return text;
  };
  const alive = () => !spawnError && proc.exitCode === null && proc.signalCode === null;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  const stop = async (ms = 3000) => {
    if (alive()) {
      proc.kill(opts.stopSignal ?? "SIGTERM");
      const t = setTimeout(() => alive() && killGroup("SIGKILL"), ms);
      await exited;
      clearTimeout(t);
    }
    // Whatever it spawned and left behind.
    killGroup("SIGKILL");
  };
  const deadline = performance.now() + 15000;
  for (;;) {
    if (spawnError) throw new Error(`cannot run ${bin}: ${spawnError.message}`);
    if (!alive()) throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) at startup:\n${log()}`);
    const ok = await Promise.all(Object.values(ports).map(canConnect));
    if (ok.every(Boolean)) break;
    if (performance.now() > deadline) {
      await stop(500);
      throw new Error(`${name} did not accept connections within 15 s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { name, proc, prefix, conf, confFile, ports, log, stop };
}

/** The account a front's workers should run as: root when we are root (so they can reach a socket in a private temp dir); otherwise ours. */
export function frontUser(): string {
  return process.getuid?.() === 0 ? "root" : os.userInfo().username;
}
