// The worker's side of a front's FastCGI connections, read from /proc (Linux): which socket a
// process serves on, who serves on a socket, and which connections a worker has accepted.

import fs from "node:fs";
import net from "node:net";

function unixSockets(): { state: string; inode: string; path?: string }[] {
  // Num RefCount Protocol Flags Type St Inode Path; St 01 = listening (unconnected), 03 = connected.
  return fs.readFileSync("/proc/net/unix", "utf8").split("\n").slice(1).filter(Boolean).map((l) => {
    const f = l.trim().split(/\s+/);
    return { state: f[5], inode: f[6], path: f[7] };
  });
}

/** The path the Unix socket on `pid`'s fd `fd` is bound to (h2o's spawn socket lives in a random /tmp dir). */
export function socketPathOf(pid: number, fd = 0): string {
  const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
  const line = unixSockets().find((s) => s.inode === inode);
  if (!line?.path) throw new Error(`fd ${fd} of ${pid} is not a bound Unix socket`);
  return line.path;
}

/** Pids of the processes with the listening socket at `path` on fd 0: the workers a front spawned on it. */
export function servingOnFd0(path: string): number[] {
  const listening = unixSockets().find((s) => s.path === path && s.state === "01")?.inode;
  if (!listening) return [];
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/0`) === `socket:[${listening}]`;
    } catch {
      return false; // gone, or not ours to read
    }
  }).map(Number);
}

/** Connections accepted on the listening Unix socket at `path` and still open. */
export function acceptedOn(path: string): number {
  // Only the worker's accepted sockets carry the listener's path (the front's ends are unnamed).
  return unixSockets().filter((s) => s.path === path && s.state === "03").length;
}

/** The peers (ADDR:PORT in hex) of the established TCP connections a worker listening on `port` accepted. */
export function peersOnPort(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const lines = ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((
    f,
  ) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").slice(1) : []));
  // sl local_address rem_address st ...; st 01 = ESTABLISHED.
  return new Set(
    lines.map((l) => l.trim().split(/\s+/)).filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === "01").map((f) => f[2]),
  );
}

/** Samples acceptedOn(path) every few ms until stopped; stop() gives the most seen at once. */
export function watchConnections(socketPath: string): { stop(): number } {
  let max = acceptedOn(socketPath);
  const timer = setInterval(() => (max = Math.max(max, acceptedOn(socketPath))), 5);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, acceptedOn(socketPath));
    },
  };
}

/** Sends one command to HAProxy's stats socket (its CLI) and resolves with its whole answer. */
export function haproxyCommand(statsSocket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(statsSocket);
    let out = "";
    s.setEncoding("utf8");
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", reject);
    s.write(command + "\n");
  });
}
