// nginx for tests: a private nginx (never the system config or system dirs) started from a config
// template with __PLACEHOLDER__ tokens, in its own temp prefix, on free 127.0.0.1 ports.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** The nginx binary: $NGINX, else nginx on PATH or in the sbin dirs. Throws a clear error when missing. */
export function findNginx(): string {
  const candidates = [process.env.NGINX, ...(process.env.PATH ?? "").split(":").map((d) => d && path.join(d, "nginx")), "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"];
  for (const c of candidates) {
    if (!c) continue;
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      // not there or not executable
    }
  }
  throw new Error("nginx is not installed (looked for $NGINX, nginx on PATH, /usr/sbin/nginx): install it, e.g. `apt-get install -y nginx`");
}

/** The `fastcgi_params` file shipped with this nginx (next to its --conf-path). */
export function findFastcgiParams(bin: string): string {
  // nginx -V writes to stderr.
  const v = spawnSync(bin, ["-V"], { encoding: "utf8" });
  const text = `${v.stdout ?? ""}${v.stderr ?? ""}`;
  const confPath = /--conf-path=(\S+)/.exec(text)?.[1];
  const dirs = [confPath && path.dirname(confPath), "/etc/nginx", "/usr/local/nginx/conf"];
  for (const d of dirs) {
    if (d && fs.existsSync(path.join(d, "fastcgi_params"))) return path.join(d, "fastcgi_params");
  }
  throw new Error(`no fastcgi_params found for ${bin} (looked in ${dirs.filter(Boolean).join(", ")})`);
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

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface Nginx {
  proc: ChildProcess;
  prefix: string;
  /** The config as written (placeholders replaced). */
  conf: string;
  /** The ports that the __PORT__-like placeholders were given, by placeholder name. */
  ports: Record<string, number>;
  /** error.log in the prefix plus nginx's own stderr. */
  log(): string;
  /** SIGTERM (fast shutdown: a graceful SIGQUIT would wait for the clients' idle keep-alive connections), SIGKILL after `ms`. */
  stop(ms?: number): Promise<void>;
}

export interface NginxOptions {
  /** Config template; its __NAME__ tokens are replaced from `vars` and `portVars`. */
  template: string;
  /** Plain substitutions, e.g. { __SOCKET__: "/tmp/x/app.sock" }. */
  vars: Record<string, string>;
  /** Placeholders that each get a free TCP port, e.g. ["__PORT__", "__STREAM_PORT__"]. */
  portVars: string[];
  /** Prefix directory (created if missing); nginx.conf, fastcgi_params, logs and temp dirs go here. */
  prefix: string;
}

/** Writes the config into the prefix and starts nginx in the foreground; resolves once every port accepts. */
export async function startNginx(opts: NginxOptions): Promise<Nginx> {
  const bin = findNginx();
  const params = findFastcgiParams(bin);
  fs.mkdirSync(opts.prefix, { recursive: true });
  // `include fastcgi_params` is relative to the config file's directory.
  fs.copyFileSync(params, path.join(opts.prefix, "fastcgi_params"));
  const template = fs.readFileSync(opts.template, "utf8");
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const ports: Record<string, number> = {};
    for (const name of opts.portVars) ports[name] = await freePort();
    let conf = template;
    for (const [k, v] of Object.entries({ ...opts.vars, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) })) {
      conf = conf.replaceAll(k, v);
    }
    const left = /__[A-Z_]+__/.exec(conf);
    if (left) throw new Error(`${opts.template}: placeholder ${left[0]} was not substituted`);
    const confFile = path.join(opts.prefix, "nginx.conf");
    fs.writeFileSync(confFile, conf);
    const errorLog = path.join(opts.prefix, "error.log");
    try {
      return await launch(bin, opts.prefix, confFile, conf, ports, errorLog);
    } catch (err) {
      lastError = err as Error;
      if (!/Address already in use/.test(lastError.message)) throw lastError;
    }
  }
  throw lastError!;
}

async function launch(bin: string, prefix: string, confFile: string, conf: string, ports: Record<string, number>, errorLog: string): Promise<Nginx> {
  const proc = spawn(bin, ["-p", prefix + "/", "-c", confFile, "-g", "daemon off;"], { stdio: ["ignore", "pipe", "pipe"] });
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
    try {
      text += fs.readFileSync(errorLog, "utf8");
    } catch {
      // not written yet
    }
    return text;
  };
  const alive = () => !spawnError && proc.exitCode === null && proc.signalCode === null;
  const stop = async (ms = 3000) => {
    if (!alive()) return;
    proc.kill("SIGTERM");
    const t = setTimeout(() => alive() && proc.kill("SIGKILL"), ms);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + 10000;
  for (;;) {
    if (spawnError) throw new Error(`cannot run ${bin}: ${spawnError.message}`);
    if (!alive()) throw new Error(`nginx exited (${proc.exitCode ?? proc.signalCode}) at startup:\n${log()}`);
    const ok = await Promise.all(Object.values(ports).map(canConnect));
    if (ok.every(Boolean)) break;
    if (Date.now() > deadline) {
      await stop(500);
      throw new Error(`nginx did not accept connections within 10 s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, prefix, conf, ports, log, stop };
}

/** The account for the `user` directive: root when we are root (nginx then runs its workers as root too, so they can reach a socket in a private temp dir); otherwise ours (the directive is ignored). */
export function nginxUser(): string {
  return process.getuid?.() === 0 ? "root" : os.userInfo().username;
}
