// lighttpd for tests: a private lighttpd started in the foreground (`-D`) from a config template
// (see server.ts), with its modules taken from the package's directory, never /etc/lighttpd.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findBinary, type Front, startFront } from "./server.ts";

const MISSING = "is not installed: install it with `apt-get install -y lighttpd`";

/** The lighttpd binary: $LIGHTTPD, else lighttpd on PATH or in the sbin dirs. */
export function findLighttpd(): string {
  return findBinary(
    [process.env.LIGHTTPD, "lighttpd"],
    `lighttpd ${MISSING} (looked for $LIGHTTPD, lighttpd on PATH, /usr/sbin/lighttpd)`,
  );
}

/** The module directory given to `-m` (mod_fastcgi is built into Debian's binary; others are .so files here). */
export function lighttpdModules(): string {
  const dir = process.env.LIGHTTPD_MODULES ?? "/usr/lib/lighttpd";
  if (!fs.existsSync(path.join(dir, "mod_accesslog.so"))) {
    throw new Error(`lighttpd modules not found in ${dir} ($LIGHTTPD_MODULES): lighttpd ${MISSING}`);
  }
  return dir;
}

/**
 * The account for `server.username`. lighttpd started as root drops to it, and refuses uid 0
 * ("I will not set uid to 0"), so as root it is www-data (Debian's web user); otherwise lighttpd
 * cannot change users and keeps ours (it ignores the setting).
 */
export function lighttpdUser(): string {
  return process.getuid?.() === 0 ? "www-data" : os.userInfo().username;
}

/**
 * As root, lets lighttpd's user reach `dir` (a private 0700 temp dir) and own `prefix`: lighttpd
 * opens its error log, writes upload temp files and creates the bin-path socket after dropping
 * to that user. A no-op for a normal user.
 */
export function shareWithLighttpd(dir: string, prefix: string): void {
  for (const sub of ["htdocs", "uploads"]) fs.mkdirSync(path.join(prefix, sub), { recursive: true });
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = idOf(lighttpdUser());
  fs.chmodSync(dir, 0o711);
  for (const p of [prefix, path.join(prefix, "htdocs"), path.join(prefix, "uploads")]) fs.chownSync(p, uid, gid);
}

function idOf(user: string): { uid: number; gid: number } {
  const line = fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user} in /etc/passwd (lighttpd needs a non-root account when started as root)`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

export interface LighttpdOptions {
  template: string;
  /** Plain substitutions; __USER__ and __PREFIX__ are filled in here. */
  vars: Record<string, string>;
  portVars: string[];
  /** The private temp dir the prefix lives in (opened up to lighttpd's user when root). */
  dir: string;
  prefix: string;
}

/** Starts lighttpd in the foreground on the config; SIGTERM stops it (and the group takes its bin-path children). */
export function startLighttpd(opts: LighttpdOptions): Promise<Front> {
  const bin = findLighttpd();
  const modules = lighttpdModules();
  shareWithLighttpd(opts.dir, opts.prefix);
  return startFront({
    name: "lighttpd",
    bin,
    template: opts.template,
    confName: "lighttpd.conf",
    args: (conf) => ["-D", "-f", conf, "-m", modules],
    vars: { __USER__: lighttpdUser(), ...opts.vars },
    portVars: opts.portVars,
    prefix: opts.prefix,
    logs: ["error.log"],
  });
}
