// Looking at a front's FastCGI connections from outside: how many are open on a worker's Unix
// socket (from /proc/net/unix, whatever the runtime), and HAProxy's stats socket (its CLI).

import fs from "node:fs";
import net from "node:net";

/** Connected sockets on the worker's side of `socketPath`, i.e. FastCGI connections open now. */
export function unixConnections(socketPath: string): number {
  // Num RefCount Protocol Flags Type St Inode Path; St 03 = connected (01 = the listener).
  return fs.readFileSync("/proc/net/unix", "utf8").split("\n").filter((line) => {
    const f = line.trim().split(/\s+/);
    return f[7] === socketPath && f[5] === "03";
  }).length;
}

/** Samples unixConnections every few ms until stopped; resolves with the most seen at once. */
export function watchConnections(socketPath: string): { stop(): number } {
  let max = unixConnections(socketPath);
  const timer = setInterval(() => (max = Math.max(max, unixConnections(socketPath))), 5);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, unixConnections(socketPath));
    },
  };
}

/** Sends one command to HAProxy's stats socket and resolves with its whole answer. */
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
