// h2o for tests: a private h2o started in the foreground from a config template (see server.ts),
// plus a look at the worker's side of its FastCGI connections.

import fs from "node:fs";
import { findBinary, type Front, startFront } from "./server.ts";

/** The h2o binary: $H2O, else h2o on PATH. Throws a clear error when missing. */
export function findH2o(): string {
  return findBinary([process.env.H2O, "h2o"], "h2o is not installed (looked for $H2O, h2o on PATH): install it, e.g. `apt-get install -y h2o`");
}

/** Starts `h2o -c CONF` in the foreground (no `-m daemon`); its pid file and logs live in `prefix`. */
export function startH2o(opts: { template: string; prefix: string; vars: Record<string, string>; portVars: string[] }): Promise<Front> {
  return startFront({
    name: "h2o",
    bin: findH2o(),
    confName: "h2o.conf",
    args: (conf) => ["-c", conf],
    logs: ["error.log"],
    // SIGTERM is graceful: h2o waits ~4 s for idle keep-alive clients. SIGINT stops it at once.
    stopSignal: "SIGINT",
    ...opts,
  });
}

/** The path a Unix socket is bound to, from the inode of `pid`'s fd `fd` (h2o's spawn socket lives in a random /tmp dir). */
export function socketPathOf(pid: number, fd = 0): string {
  const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
  const line = unixSockets().find((s) => s.inode === inode);
  if (!line?.path) throw new Error(`fd ${fd} of ${pid} is not a bound Unix socket`);
  return line.path;
}

/** Accepted (connected) connections on the listening Unix socket at `path`: the worker's side of h2o's FastCGI connections. */
export function acceptedOn(path: string): number {
  // /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path; St 03 = connected. Only the
  // worker's accepted sockets carry the listener's path (h2o's ends are unnamed).
  return unixSockets().filter((s) => s.path === path && s.state === "03").length;
}

function unixSockets(): { state: string; inode: string; path?: string }[] {
  return fs.readFileSync("/proc/net/unix", "utf8").split("\n").slice(1).filter(Boolean).map((l) => {
    const f = l.trim().split(/\s+/);
    return { state: f[5], inode: f[6], path: f[7] };
  });
}

/** The peers (h2o's end, as ADDR:PORT in hex) of the established TCP connections the worker on `port` accepted. */
export function peersOnPort(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const lines = ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((f) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").slice(1) : []));
  // sl local_address rem_address st ...; st 01 = ESTABLISHED.
  return new Set(lines.map((l) => l.trim().split(/\s+/)).filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === "01").map((f) => f[2]));
}
